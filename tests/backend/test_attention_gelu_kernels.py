"""GELU and attention with compiled kernels on and off, both against PyTorch.

The compiled paths (``ember.backend.gelu_kernels``, ``attention_kernels``) take over for
float32 and float64 only; every case runs twice, once with kernels and once with the
NumPy path, and checks values and gradients against PyTorch (float64 as the reference
for float32, whose kernels use their own float32 ``erf`` and ``exp``).
"""

import numpy as np
import pytest
import torch

import ember
from ember.testing import gradcheck

EF, TF = ember.nn.functional, torch.nn.functional
TOL = {np.float32: {"rtol": 1e-5, "atol": 2e-6}, np.float64: {"rtol": 1e-12, "atol": 1e-13}}


def _run(fn, arrays, dtype, grad_seed=1, torch_fn=None):
    """``fn`` in ember (in ``dtype``) and PyTorch (float64), outputs and input gradients of
    a random projection; returns both lists of arrays."""
    results = []
    for lib, dt in ((ember, dtype), (torch, np.float64)):
        leaves = [lib.tensor(a.astype(dt), requires_grad=True) for a in arrays]
        out = (torch_fn or fn)(lib, *leaves) if lib is torch else fn(lib, *leaves)
        g = np.random.default_rng(grad_seed).standard_normal(tuple(out.shape)).astype(dt)
        grads = lib.autograd.grad(out, leaves, lib.tensor(g))
        results.append([out.detach().numpy()] + [x.numpy() for x in grads])
    return results


def _assert_match(mine, ref, dtype):
    for a, b in zip(mine, ref):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, **TOL[dtype])


GELU_SHAPES = [(16, 64, 40), (7,), (), (3, 5)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", GELU_SHAPES)
def test_gelu_matches_torch(kernels, dtype, shape):
    x = np.random.default_rng(0).uniform(-7, 7, shape)
    mine, ref = _run(lambda m, t: m.nn.functional.gelu(t), [x], dtype)
    _assert_match(mine, ref, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_non_contiguous_input(kernels, dtype):
    x = np.random.default_rng(1).uniform(-4, 4, (6, 8))
    mine, ref = _run(lambda m, t: m.nn.functional.gelu(t.mT[1:, ::2]), [x], dtype)
    _assert_match(mine, ref, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_special_values_like_torch_float64(kernels, dtype):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-30, -40.0, 40.0, 1e30, -1e30])
    e = ember.tensor(x.astype(dtype), requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    (eg,) = ember.autograd.grad(EF.gelu(e).sum(), e)
    (tg,) = torch.autograd.grad(TF.gelu(t).sum(), t)
    np.testing.assert_allclose(EF.gelu(e).detach().numpy(), TF.gelu(t).detach().numpy(),
                               rtol=1e-6, atol=0)
    np.testing.assert_allclose(eg.numpy(), tg.numpy(), rtol=1e-6, atol=0)


def test_gelu_second_derivative(kernels):
    x = ember.tensor(np.random.default_rng(2).uniform(-3, 3, (4, 5)), requires_grad=True)
    assert gradcheck(lambda t: EF.gelu(t), (x,))
    (g,) = ember.autograd.grad(EF.gelu(x).sum(), x, create_graph=True)
    assert gradcheck(lambda t: ember.autograd.grad(EF.gelu(t).sum(), t, create_graph=True)[0],
                     (x,))
    assert g.requires_grad


def _sdpa(**kw):
    return lambda m, q, k, v: m.nn.functional.scaled_dot_product_attention(q, k, v, **kw)


# (q, k, v shapes, keyword arguments): causal square and rectangular (both ways), batched
# heads, unbatched, scale.
SDPA_CASES = [
    (((2, 3, 16, 8), (2, 3, 16, 8), (2, 3, 16, 5)), {"is_causal": True}),
    (((2, 5, 4), (2, 7, 4), (2, 7, 3)), {"is_causal": True}),
    (((2, 7, 4), (2, 5, 4), (2, 5, 3)), {"is_causal": True}),
    (((2, 3, 6, 4), (2, 3, 9, 4), (2, 3, 9, 4)), {}),
    (((6, 4), (9, 4), (9, 2)), {"scale": 0.3}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes, kw", SDPA_CASES)
def test_attention_matches_torch(kernels, dtype, shapes, kw):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in shapes]
    mine, ref = _run(_sdpa(**kw), arrays, dtype)
    _assert_match(mine, ref, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("mask_shape", [(6, 9), (2, 1, 6, 9), (1, 9)])
def test_attention_float_mask_and_its_gradient(kernels, dtype, mask_shape):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in ((2, 3, 6, 4), (2, 3, 9, 4), (2, 3, 9, 4))]
    mask = rng.standard_normal(mask_shape)
    mask[..., :1, 3:5] = -np.inf

    def fn(m, q, k, v, b):
        return m.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=b)
    mine, ref = _run(fn, arrays + [mask], dtype)
    _assert_match(mine, ref, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_dead_and_nan_rows(kernels, dtype):
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in ((1, 4, 3), (1, 5, 3), (1, 5, 2)))
    mask = np.ones((4, 5), dtype=bool)
    mask[1] = False  # a row with no key: zeros (PyTorch's safe softmax)
    q[0, 2, 0] = np.nan  # a NaN score: that row is NaN, as in PyTorch
    outs = [lib.nn.functional.scaled_dot_product_attention(
        lib.tensor(q), lib.tensor(k), lib.tensor(v), attn_mask=lib.tensor(mask)).numpy()
        for lib in (ember, torch)]
    np.testing.assert_allclose(outs[0], outs[1], **TOL[dtype])
    assert np.all(outs[0][0, 1] == 0) and np.all(np.isnan(outs[0][0, 2]))


def test_attention_strided_heads_of_a_packed_projection(kernels):
    """Heads as views of one ``(N, L, 3E)`` array, the way MultiheadAttention makes them."""
    x = np.random.default_rng(6).standard_normal((2, 10, 3 * 12))
    mine, ref = _run(lambda m, t: m.nn.functional.scaled_dot_product_attention(
        *t.unflatten(-1, (3, 4, 3)).permute(2, 0, 3, 1, 4).unbind(0), is_causal=True),
        [x], np.float32)
    _assert_match(mine, ref, np.float32)


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}])
def test_attention_double_backward(kernels, kw):
    rng = np.random.default_rng(7)
    args = [ember.tensor(rng.standard_normal(s), requires_grad=True)
            for s in ((2, 4, 3), (2, 4, 3), (2, 4, 2))]
    assert gradcheck(lambda *t: EF.scaled_dot_product_attention(*t, **kw), args)
