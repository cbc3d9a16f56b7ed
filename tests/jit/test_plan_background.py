"""A TrainPlan's weight gradients computed on the worker while backward goes on
(``ember/jit/array_linear.py``, NOTE [weight gradients in the background]): bitwise
eager's parameters, and only for weights nothing else sends a gradient to."""

import copy

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn, optim
from ember.backend import threads
from ember.jit import array_linear
from ember.ops import linalg


class _Tied(nn.Module):
    """The same Linear twice: its weight gets two gradients, summed before the optimizer."""

    def __init__(self, width):
        super().__init__()
        self.inp, self.mid, self.out = nn.Linear(12, width), nn.Linear(width, width), \
            nn.Linear(width, 7)

    def forward(self, x):
        h = F.gelu(self.inp(x))
        return self.out(self.mid(F.gelu(self.mid(h))))


def _sequential(width):
    return nn.Sequential(nn.Linear(12, width), nn.Tanh(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, width), nn.GELU(), nn.Linear(width, 7))


def _count_background(monkeypatch, module):
    """The ``background`` calls of ``module`` from now on, as the list of their results
    (True: the work was posted)."""
    calls = []

    def counting(fn):
        started = threads.background(fn)
        calls.append(started)
        return started

    monkeypatch.setattr(module, "background", counting)
    return calls


@pytest.fixture
def posted(split_everything, monkeypatch):
    """Products always split-sized; the ``background`` calls of ``array_linear`` counted."""
    split_everything(linalg, "_SPLIT_WORK", record=False)
    return _count_background(monkeypatch, array_linear)


def _run_twins(model, steps=3, frozen=()):
    ember.manual_seed(0)
    twin = copy.deepcopy(model)
    for net in (model, twin):
        for name, p in net.named_parameters():
            p.requires_grad_(name not in frozen)

    def step(net):
        opt = optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-2)

        def run(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            return loss
        return run

    compiled, eager = ember.compile(step(model)), step(twin)
    rng = np.random.default_rng(3)
    for _ in range(steps):
        x = ember.from_numpy(rng.standard_normal((40, 12)).astype(np.float32))
        y = ember.from_numpy(rng.integers(0, 7, 40))
        np.testing.assert_array_equal(compiled(x, y).detach().numpy(),
                                      eager(x, y).detach().numpy())
    for (key, p), (_, q) in zip(model.state_dict().items(), twin.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=key)
    for (key, p), (_, q) in zip(model.named_parameters(), twin.named_parameters()):
        assert (p.grad is None) == (q.grad is None), key
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy(), err_msg=key)


def test_weight_gradients_in_the_background_equal_eager(posted):
    _run_twins(_sequential(48))
    # Two planned steps (the first call captures); every layer but the first (whose input
    # needs no gradient).
    assert posted == [True] * 6


def test_a_weight_used_twice_is_summed_first(posted):
    _run_twins(_Tied(48))
    # Only ``out``: ``mid``'s weight gets two gradients, ``inp``'s input needs none.
    assert posted == [True] * 2


def test_a_frozen_weight_keeps_the_usual_rule(posted):
    _run_twins(_sequential(48), frozen=("2.weight", "4.bias"))
    # Layer 2 sends no weight gradient: its rule runs whole; layer 4's weight still goes.
    assert posted == [True, True] * 2


def test_one_thread_runs_the_usual_rule(posted):
    ember.set_num_threads(1)  # the fixture restores the count
    _run_twins(_sequential(48))
    assert posted == []  # the products do not split: the rule never asks


def test_an_error_in_the_background_reaches_the_step(posted, monkeypatch):
    model = _sequential(48)
    opt = optim.SGD(model.parameters(), lr=0.1)

    def run(x, y):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    step = ember.compile(run)
    x, y = ember.randn(40, 12), ember.randint(0, 7, (40,))
    step(x, y)

    def failing(fn):
        return threads.background(lambda: (_ for _ in ()).throw(MemoryError("worker")))

    monkeypatch.setattr(array_linear, "background", failing)
    with pytest.raises(MemoryError, match="worker"):
        step(x, y)
    assert ember.is_grad_enabled()  # backward's no-grad mode ended with the error
    monkeypatch.undo()
    step(x, y)  # the pool goes on


@pytest.fixture
def conv_posted(split_everything, monkeypatch):
    """Convolutions always split-sized; the ``background`` calls of ``array_conv`` counted."""
    from ember.jit import array_conv
    from ember.ops import _im2col

    split_everything(_im2col, "_SPLIT_WORK", record=False)
    split_everything(array_conv, "_SPLIT_WORK", record=False)
    return _count_background(monkeypatch, array_conv)


def _conv_net():
    ember.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1),
                         nn.Flatten(), nn.Linear(16 * 4 * 4, 5))


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_conv_weight_gradients_in_the_background_equal_eager(conv_posted, dtype):
    model = _conv_net().to(dtype)
    twin = copy.deepcopy(model)

    def step(net):
        opt = optim.SGD(net.parameters(), lr=0.05, momentum=0.9)

        def run(x, y):
            opt.zero_grad()
            F.cross_entropy(net(x), y).backward()
            opt.step()
        return run

    compiled, eager = ember.compile(step(model)), step(twin)
    for i in range(3):
        ember.manual_seed(i)
        x, y = ember.randn(6, 3, 8, 8, dtype=dtype), ember.randint(0, 5, (6,))
        compiled(x, y), eager(x, y)
    # The second and third convs send their input a gradient: their weights' run on the
    # worker, in one piece (eager's two pieces add their partial sums: float rounding).
    assert conv_posted == [True, True] * 2
    tol = 1e-5 if dtype == ember.float32 else 1e-12
    for (key, p), (_, q) in zip(model.state_dict().items(), twin.state_dict().items()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=tol, atol=tol, err_msg=key)
