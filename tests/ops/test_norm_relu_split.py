"""Batch norm and ReLU on two threads (their kernels in pieces on ``ember.backend.threads``),
forced to split, forward and gradients against PyTorch."""

import numpy as np
import pytest
import torch

import ember
from ember.backend import activation_kernels, norm_kernels

EF, TF = ember.nn.functional, torch.nn.functional


@pytest.fixture
def two_threads(split_everything):
    """Two threads, every batch norm and ReLU big enough to split, and a record of the
    splits."""
    pytest.importorskip("numba")
    split_everything(norm_kernels, "_SPLIT_SIZE")
    return split_everything(activation_kernels, "_SPLIT_SIZE")


def _pair(*shape, seed, dtype=np.float32):
    arr = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return ember.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)


def _backward(out, seed):
    g = np.random.default_rng(seed).standard_normal(tuple(out[1].shape))
    g = g.astype(out[1].detach().numpy().dtype)
    out[0].backward(ember.tensor(g))
    out[1].backward(torch.tensor(g))


def _close(e, t, tol):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_batch_norm_matches_torch(two_threads, dtype):
    x, tx = _pair(4, 5, 3, 7, seed=1, dtype=dtype)
    w, tw = _pair(5, seed=2, dtype=dtype)
    b, tb = _pair(5, seed=3, dtype=dtype)
    rm, rv = ember.zeros(5, dtype=x.dtype), ember.ones(5, dtype=x.dtype)
    trm, trv = torch.zeros(5, dtype=tx.dtype), torch.ones(5, dtype=tx.dtype)
    out = (EF.batch_norm(x, rm, rv, w, b, training=True),
           TF.batch_norm(tx, trm, trv, tw, tb, training=True))
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    _close(out[0], out[1], tol)
    _close(rm, trm, tol)
    _close(rv, trv, tol)
    _backward(out, seed=4)
    for e, t in ((x, tx), (w, tw), (b, tb)):
        _close(e.grad, t.grad, tol)
    # Forward and backward each cut the 5 channels over 2 threads.
    assert two_threads == [(5, 2), (5, 2)]


def test_split_batch_norm_without_input_grad(two_threads):
    # Only the weight and bias need gradients: the kernel skips grad_x in every piece.
    x, tx = _pair(3, 6, 10, seed=5)
    x, tx = x.detach(), tx.detach()
    w, tw = _pair(6, seed=6)
    b, tb = _pair(6, seed=7)
    out = (EF.batch_norm(x, None, None, w, b, training=True),
           TF.batch_norm(tx, None, None, tw, tb, training=True))
    _backward(out, seed=8)
    for e, t in ((w, tw), (b, tb)):
        _close(e.grad, t.grad, {"rtol": 1e-4, "atol": 1e-5})
    assert two_threads == [(6, 2), (6, 2)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_relu_matches_torch(two_threads, dtype):
    x, tx = _pair(5, 33, seed=9, dtype=dtype)
    out = EF.relu(x), TF.relu(tx)
    _close(out[0], out[1], {"rtol": 0, "atol": 0})
    _backward(out, seed=10)
    _close(x.grad, tx.grad, {"rtol": 0, "atol": 0})
    assert two_threads == [(165, 2), (165, 2)]


def test_split_relu_double_backward_matches_torch(two_threads):
    # With create_graph the slope is written in pieces and the product stays differentiable.
    x, tx = _pair(4, 41, seed=11, dtype=np.float64)
    g, tg = _pair(4, 41, seed=12, dtype=np.float64)
    grads = []
    for lib, xx, gg in ((ember, x, g), (torch, tx, tg)):
        (gx,) = lib.autograd.grad(lib.nn.functional.relu(xx), xx, gg, create_graph=True)
        (gx * gx).sum().backward()
        grads.append((gx, gg.grad))
    _close(grads[0][0], grads[1][0], {"rtol": 0, "atol": 0})
    _close(grads[0][1], grads[1][1], {"rtol": 1e-12, "atol": 0})
    assert two_threads == [(164, 2), (164, 2)]


def test_relu_gradient_of_a_broadcast_grad_matches_torch(two_threads):
    # A non-contiguous upstream gradient (expanded) takes the slope-and-product path.
    x, tx = _pair(6, 30, seed=13)
    EF.relu(x).mean().backward()
    TF.relu(tx).mean().backward()
    _close(x.grad, tx.grad, {"rtol": 1e-6, "atol": 1e-9})
