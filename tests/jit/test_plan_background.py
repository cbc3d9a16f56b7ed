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


@pytest.fixture
def posted(split_everything, monkeypatch):
    """Products always split-sized; the ``background`` calls of ``array_linear`` counted
    (those that posted work)."""
    split_everything(linalg, "_SPLIT_WORK", record=False)
    calls = []

    def counting(fn):
        started = threads.background(fn)
        calls.append(started)
        return started

    monkeypatch.setattr(array_linear, "background", counting)
    return calls


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

