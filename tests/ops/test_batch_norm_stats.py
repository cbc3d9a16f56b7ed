"""Batch norm's statistics on hard inputs (NOTE [batch norm in memory order] in
``ember/backend/norm_kernels.py``: one pass of shifted sums): a mean far from zero, an
outlier as a channel's first element, constant channels, infinities; outputs, running
statistics and gradients against PyTorch in float64, kernels on and off, split or not."""

import numpy as np
import pytest
import torch

import ember
from ember.backend import norm_kernels


def _inputs(dtype):
    """(8, 4, 5, 6): channel 0 centred at 1e4, channel 1 with a first element of 1e3,
    channel 2 constant, channel 3 ordinary."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4, 5, 6))
    x[:, 0] = x[:, 0] * 0.5 + 1e4
    x[0, 1, 0, 0] = 1e3
    x[:, 2] = 3.25
    return x.astype(dtype)


def _run(lib, x, g):
    xt = lib.tensor(x, requires_grad=True)
    w = lib.tensor(np.linspace(0.5, 2.0, 4).astype(x.dtype), requires_grad=True)
    b = lib.tensor(np.linspace(-1.0, 1.0, 4).astype(x.dtype), requires_grad=True)
    rm, rv = lib.zeros(4, dtype=xt.dtype), lib.ones(4, dtype=xt.dtype)
    y = lib.nn.functional.batch_norm(xt, rm, rv, w, b, training=True, momentum=0.3)
    y.backward(lib.tensor(g))
    return [t.detach().numpy() for t in (y, rm, rv, xt.grad, w.grad, b.grad)]


def _reference(x, g):
    """PyTorch on the float64 values of ``x``, rounded to ``x``'s dtype."""
    return [r.astype(x.dtype) for r in _run(torch, x.astype(np.float64), g.astype(np.float64))]


@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hard_statistics_match_torch(kernels, split_everything, split, dtype):
    if split:
        split_everything(norm_kernels, "_SPLIT_SIZE")
    x = _inputs(dtype)
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    got, want = _run(ember, x, g), _reference(x, g)
    rtol = 2e-3 if dtype == np.float32 else 1e-9  # channel 0's x - mean has ~4 digits left
    for name, e, t in zip(("y", "running_mean", "running_var", "grad_x", "grad_w", "grad_b"),
                          got, want):
        np.testing.assert_allclose(e, t, rtol=rtol, atol=rtol, err_msg=name)
    assert got[2][2] == dtype(0.7)  # a constant channel's variance is exactly 0


def test_batch_variance_is_accurate_far_from_zero(kernels):
    """float64 data of mean 1e8 and variance 1: the variance to ~10 digits."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 2, 50)) + 1e8
    rv = ember.zeros(2, dtype=ember.float64)
    ember.nn.functional.batch_norm(ember.tensor(x), ember.zeros(2, dtype=ember.float64), rv,
                                   training=True, momentum=1.0)
    want = x.transpose(1, 0, 2).reshape(2, -1).var(axis=1, ddof=1)
    np.testing.assert_allclose(rv.numpy(), want, rtol=1e-8)


def test_infinite_first_element_gives_torchs_running_mean(kernels):
    x = np.random.default_rng(3).standard_normal((4, 2, 3)).astype(np.float32)
    x[0, 0, 0] = np.inf
    found = []
    for lib in (ember, torch):
        rm, rv = lib.zeros(2), lib.ones(2)
        y = lib.nn.functional.batch_norm(lib.tensor(x), rm, rv, training=True)
        found.append((y.numpy(), rm.numpy(), rv.numpy()))
    for e, t in zip(*found):
        np.testing.assert_array_equal(np.isnan(e), np.isnan(t))
        np.testing.assert_allclose(e[~np.isnan(e)], t[~np.isnan(t)], rtol=1e-5)
