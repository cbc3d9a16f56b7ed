"""A TrainPlan's ``Linear`` backward with the bias gradient in the products' split
(``ember/jit/array_linear.py``, NOTE [bias gradient beside the products]): bitwise what
eager's ``LinearBackward`` gives, and taken only where eager runs one product per thread.
"""

import copy

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn, optim
from ember.jit import array_linear
from ember.jit.array_backward import LATER
from ember.ops import linalg


def _net(width):
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(12, width), nn.Tanh(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, 7))


def _run_twins(model, steps=3):
    twin = copy.deepcopy(model)

    def step(net, opt):
        def run(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(net(x), y)
            loss.backward()
            opt.step()
            return loss
        return run

    compiled = ember.compile(step(model, optim.AdamW(model.parameters(), lr=1e-2)))
    eager = step(twin, optim.AdamW(twin.parameters(), lr=1e-2))
    rng = np.random.default_rng(2)
    for _ in range(steps):
        x = ember.from_numpy(rng.standard_normal((40, 12)).astype(np.float32))
        y = ember.from_numpy(rng.integers(0, 7, 40))
        np.testing.assert_array_equal(compiled(x, y).detach().numpy(),
                                      eager(x, y).detach().numpy())
    for (key, p), (_, q) in zip(model.state_dict().items(), twin.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=key)


def test_bias_sums_beside_the_products_equal_eager(split_everything, monkeypatch):
    split_everything(linalg, "_SPLIT_WORK", record=False)
    seen = split_everything(array_linear)
    for name in list(LATER):  # not the weight gradients in the background (that's below)
        monkeypatch.delitem(LATER, name)
    _run_twins(_net(48))
    # Two planned steps. Only the middle layer: the first's input needs no gradient, the
    # head's 7 columns are too few to cut. (The others are the fused bias and ReLU's.)
    assert [s for s in seen if s[0] == 4] == [(4, 2)] * 2


def test_without_a_split_the_usual_path_runs(split_everything):
    seen = split_everything(array_linear)  # products below the split size
    _run_twins(_net(48))
    assert (4, 2) not in seen


@pytest.mark.parametrize("shape", [(64, 32), (1024, 1000), (333, 97), (5, 40), (2048, 65)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_grads_with_bias_are_linear_backwards(shape, dtype, split_everything):
    split_everything(linalg, "_SPLIT_WORK", record=False)
    rng = np.random.default_rng(shape[0])
    rows, out_f = shape
    g = (rng.standard_normal(shape) * rng.exponential(3, shape)).astype(dtype)
    x = rng.standard_normal((rows, 24)).astype(dtype)
    w = rng.standard_normal((out_f, 24)).astype(dtype)
    found = array_linear._grads_with_bias(g, x, w)
    expected = linalg.LinearBackward().forward(g, x, w, needs=(True, True, True),
                                               bias_shape=(out_f,))
    for a, b in zip(found, expected):
        np.testing.assert_array_equal(a, b)


def test_narrow_or_strided_gradients_keep_the_usual_path(split_everything):
    split_everything(linalg, "_SPLIT_WORK", record=False)
    g = np.ones((50, 31), np.float32)
    w, x = np.ones((31, 4), np.float32), np.ones((50, 4), np.float32)
    assert array_linear._grads_with_bias(g, x, w) is None  # 31 < 2 * 16 columns
    wide = np.ones((50, 80), np.float32)[:, ::2]
    assert array_linear._grads_with_bias(wide, x, np.ones((40, 4), np.float32)) is None
    assert array_linear._grads_with_bias(np.ones((50, 40)), x,
                                         np.ones((40, 4), np.float32)) is None  # dtypes
