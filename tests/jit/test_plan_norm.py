"""A TrainPlan's layer-norm backward in pieces of rows (``ember/jit/array_norm.py``).

Checked bitwise against eager ember (the same kernels on ranges of rows), with the split
forced on and off, compiled kernels on and off, and against PyTorch; other ``Normalize``
uses (batch norm with given statistics) keep the op's own code.
"""

import copy

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember import nn, optim
from ember.jit import array_norm


class _Net(nn.Module):
    """LayerNorm on the input (no gradient to send back), then inside the network."""

    def __init__(self, affine=True):
        super().__init__()
        self.first = nn.LayerNorm(12, elementwise_affine=affine)
        self.fc = nn.Linear(12, 16)
        self.norm = nn.LayerNorm(16, elementwise_affine=affine)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        return self.head(F.gelu(self.norm(self.fc(self.first(x)))))


def _step(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _batches(n, dtype):
    rng = np.random.default_rng(3)
    for _ in range(n):
        x = ember.from_numpy(rng.standard_normal((9, 12)) * 3 + 1).to(dtype)
        yield x, ember.from_numpy(rng.integers(0, 5, 9))


def _run_twins(affine=True, dtype=ember.float32, steps=4):
    ember.manual_seed(0)
    model = _Net(affine).to(dtype)
    twin = copy.deepcopy(model)
    compiled = ember.compile(_step(model, optim.AdamW(model.parameters(), lr=1e-2)))
    eager = _step(twin, optim.AdamW(twin.parameters(), lr=1e-2))
    for x, y in _batches(steps, dtype):
        np.testing.assert_array_equal(compiled(x, y).detach().numpy(),
                                      eager(x, y).detach().numpy())
    for (key, p), (_, q) in zip(model.state_dict().items(), twin.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=key)
    return model


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_layer_norm_in_pieces_equals_eager(kernels, affine, dtype, split_everything):
    seen = split_everything(array_norm, "_SPLIT_SIZE")
    _run_twins(affine, dtype)
    # Three planned steps. The first norm's input needs no gradient: with a weight, its
    # backward is one piece (the weight's sums, run whole, no split); without, backward
    # never visits it. The second's backward runs in two pieces of rows (and its
    # weight's sums). Never on the NumPy path (the op's own code).
    steps = [(3, 2)] if affine else [(2, 2)]
    assert seen == (steps * 3 if kernels == "compiled" else [])


def test_layer_norm_whole_below_the_threshold_equals_eager(split_everything):
    seen = split_everything(array_norm, record=True)
    _run_twins()
    assert seen == []


def test_layer_norm_in_pieces_matches_pytorch(split_everything):
    seen = split_everything(array_norm, "_SPLIT_SIZE")
    ember.manual_seed(0)
    model = _Net()
    twin = copy.deepcopy(model)
    x, y = next(_batches(1, ember.float32))
    planned = _planned_grads(model, x, y, seen)
    assert seen == [(3, 2)]  # the planned call's second norm
    F.cross_entropy(twin(x), y).backward()
    ref = {k: torch.tensor(v.numpy(), requires_grad=True) for k, v in twin.state_dict().items()}
    fn = torch.nn.functional
    h = fn.layer_norm(torch.tensor(x.numpy()), (12,), ref["first.weight"], ref["first.bias"])
    h = fn.layer_norm(fn.linear(h, ref["fc.weight"], ref["fc.bias"]), (16,),
                      ref["norm.weight"], ref["norm.bias"])
    h = fn.linear(fn.gelu(h), ref["head.weight"], ref["head.bias"])
    fn.cross_entropy(h, torch.tensor(y.numpy())).backward()
    for key, g in planned.items():
        np.testing.assert_array_equal(g, twin.get_parameter(key).grad.numpy(), err_msg=key)
        np.testing.assert_allclose(g, ref[key].grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=key)


def _planned_grads(model, x, y, seen):
    """The gradients a planned call of a step without an optimizer leaves in ``.grad``."""
    compiled = ember.compile(lambda x, y: F.cross_entropy(model(x), y).backward())
    compiled(x, y)  # captures (run eagerly)
    seen.clear()
    for p in model.parameters():
        p.grad = None
    compiled(x, y)  # the plan
    return {k: p.grad.numpy().copy() for k, p in model.named_parameters()}


def test_batch_norm_with_running_stats_in_eval_keeps_its_own_code(split_everything):
    seen = split_everything(array_norm, "_SPLIT_SIZE")
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 5))
    model[1].running_mean.copy_(ember.randn(8))
    model.eval()  # batch norm normalizes by its running statistics (given, not computed)
    twin = copy.deepcopy(model)
    compiled = ember.compile(_step(model, optim.SGD(model.parameters(), lr=0.1)))
    eager = _step(twin, optim.SGD(twin.parameters(), lr=0.1))
    for x, y in _batches(3, ember.float32):
        compiled(x, y), eager(x, y)
    for (key, p), (_, q) in zip(model.state_dict().items(), twin.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=key)
    assert seen == []
