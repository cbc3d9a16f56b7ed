"""Batch and layer norm forward by the compiled kernels, backward on the NumPy path (kernels
switched off in between): the NumPy path makes its statistics from the kernels' ones."""

import numpy as np
import pytest
import torch

import ember
from ember.backend import use_compiled_kernels

EF, TF = ember.nn.functional, torch.nn.functional


@pytest.mark.parametrize("kind", ["layer", "batch"])
def test_kernels_switched_off_before_backward(kind):
    pytest.importorskip("numba")
    arr = np.random.default_rng(0).standard_normal((4, 3, 5)).astype(np.float32)
    w_arr = np.random.default_rng(1).standard_normal(5 if kind == "layer" else 3)
    w_arr = w_arr.astype(np.float32)
    x, tx = ember.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    w, tw = ember.tensor(w_arr, requires_grad=True), torch.tensor(w_arr, requires_grad=True)
    previous = use_compiled_kernels(True)
    try:
        if kind == "layer":
            out, t_out = EF.layer_norm(x, (5,), w), TF.layer_norm(tx, (5,), tw)
        else:
            out = EF.batch_norm(x, None, None, w, training=True)
            t_out = TF.batch_norm(tx, None, None, tw, training=True)
        use_compiled_kernels(False)
        g = np.random.default_rng(2).standard_normal(arr.shape).astype(np.float32)
        out.backward(ember.tensor(g))
    finally:
        use_compiled_kernels(previous)
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-4, atol=1e-5)
