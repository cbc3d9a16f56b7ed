"""Shared checks for the tests of one convolution path against PyTorch (shifted products,
Winograd): leaves in both frameworks, outputs and gradients compared."""

import numpy as np
import torch

import ember

TOL = {np.float32: {"rtol": 2e-4, "atol": 2e-4}, np.float64: {"rtol": 1e-9, "atol": 1e-10}}


def leaves(arrays):
    """The same arrays as ember and torch tensors that require grad."""
    return ([ember.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def check(e_out, t_out, e_in, t_in, dtype):
    """Outputs, then the gradients of a random projection of them, agree with PyTorch."""
    tol = TOL[dtype]
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), **tol)
    g = np.random.default_rng(1).standard_normal(t_out.shape).astype(dtype)
    e_out.backward(ember.tensor(g))
    t_out.backward(torch.tensor(g))
    for e, t in zip(e_in, t_in):
        scale = max(1.0, float(np.abs(t.grad.numpy()).max()))
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=tol["rtol"],
                                   atol=tol["atol"] * scale)
