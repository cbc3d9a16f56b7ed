"""GELU on two threads (its kernels in pieces on ``ember.backend.threads``), forced to
split, forward and gradient against PyTorch."""

import numpy as np
import pytest
import torch

import ember
from ember.backend import gelu_kernels

EF, TF = ember.nn.functional, torch.nn.functional


@pytest.fixture
def two_threads(split_everything):
    """Two threads, every GELU big enough to split, and a record of the splits."""
    pytest.importorskip("numba")
    return split_everything(gelu_kernels, "_SPLIT_SIZE")


def _pair(*shape, seed, dtype=np.float32):
    arr = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return ember.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)


def _check(out, tensors, seed, tol):
    g = np.random.default_rng(seed).standard_normal(tuple(out[1].shape))
    g = g.astype(out[1].detach().numpy().dtype)
    np.testing.assert_allclose(out[0].detach().numpy(), out[1].detach().numpy(), **tol)
    out[0].backward(ember.tensor(g))
    out[1].backward(torch.tensor(g))
    for e, t in tensors:
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_split_gelu_matches_torch(two_threads, dtype):
    x, tx = _pair(5, 33, seed=7, dtype=dtype)
    out = EF.gelu(x), TF.gelu(tx)
    _check(out, [(x, tx)], seed=8, tol={"rtol": 1e-5, "atol": 1e-6})
    assert two_threads == [(165, 2), (165, 2)]
