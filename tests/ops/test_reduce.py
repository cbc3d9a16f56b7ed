"""Reduction behaviour the op table cannot express: dtypes, zeros in prod, errors, edges."""

import warnings

import numpy as np
import pytest
import torch

import ember

INF = float("inf")


def _pair(arr, requires_grad=False):
    arr = np.asarray(arr)
    return (ember.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def _same(e, t):
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-6, atol=1e-7,
                               equal_nan=True)


def _grads(fn, arr):
    """ember's and torch's gradient of ``fn(lib, x).sum()`` at ``arr``."""
    e, t = _pair(np.asarray(arr, np.float64), requires_grad=True)
    fn(ember, e).sum().backward()
    fn(torch, t).sum().backward()
    return e.grad, t.grad


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.int32, np.int64])
@pytest.mark.parametrize("op", ["sum", "prod", "nansum"])
def test_integer_and_bool_reductions_give_int64(dtype, op):
    arr = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    e, t = _pair(arr)
    _same(getattr(ember, op)(e), getattr(torch, op)(t))
    _same(getattr(e, op)(1), getattr(t, op)(1))


def test_sum_dtype_argument():
    e, t = _pair(np.arange(6, dtype=np.int32).reshape(2, 3))
    _same(ember.sum(e, 1, dtype=ember.float32), torch.sum(t, 1, dtype=torch.float32))
    _same(e.sum(dtype=ember.float64), t.sum(dtype=torch.float64))
    e, t = _pair(np.linspace(0, 1, 6, dtype=np.float32))
    _same(ember.prod(e, dtype=ember.float64), torch.prod(t, dtype=torch.float64))


def test_float16_sum_and_mean_accumulate_in_float32():
    arr = np.full(4096, 0.1, dtype=np.float16)
    e, t = _pair(arr)
    assert e.sum().dtype == ember.float16
    np.testing.assert_allclose(e.sum().item(), t.sum().item(), rtol=1e-3)
    np.testing.assert_allclose(e.mean().item(), t.mean().item(), rtol=1e-3)


def test_mean_of_integers_raises_like_torch():
    e, t = _pair(np.arange(4))
    with pytest.raises(RuntimeError):
        torch.mean(t)
    with pytest.raises(RuntimeError, match="mean"):
        ember.mean(e)
    with pytest.raises(RuntimeError, match="nanmean"):
        ember.nanmean(e)
    _same(ember.mean(e, dtype=ember.float64), torch.mean(t, dtype=torch.float64))


def test_empty_reductions_match_torch_without_warnings():
    e, t = _pair(np.zeros((0, 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn in [lambda m, x: m.sum(x), lambda m, x: m.mean(x), lambda m, x: m.mean(x, 0),
                   lambda m, x: m.prod(x), lambda m, x: m.logsumexp(x, 0),
                   lambda m, x: m.norm(x), lambda m, x: m.count_nonzero(x),
                   lambda m, x: m.all(x), lambda m, x: m.any(x, 0)]:
            _same(fn(ember, e), fn(torch, t))


def test_dim_errors_match_torch():
    e, t = _pair(np.ones((2, 3)))
    with pytest.raises(IndexError):
        t.sum(2)
    with pytest.raises(IndexError, match="out of range"):
        e.sum(2)
    with pytest.raises(IndexError, match="out of range"):
        e.mean((0, -3))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        e.sum((1, -1))
    with pytest.raises(TypeError):
        e.prod((0, 1))  # PyTorch's prod takes one dim only


def test_scalar_tensor_reductions():
    e, t = _pair(np.array(2.5))
    for fn in [lambda x: x.sum(0), lambda x: x.sum(-1, keepdim=True), lambda x: x.mean(0),
               lambda x: x.prod(0), lambda x: x.logsumexp(0), lambda x: x.norm(dim=0),
               lambda x: x.all(0), lambda x: x.count_nonzero(0)]:
        _same(fn(e), fn(t))


@pytest.mark.parametrize("arr", [
    [2.0, 0.0, 3.0, 4.0],
    [0.0, 2.0, 0.0, 3.0],
    [0.0, 0.0, 0.0],
    [[1.0, 2.0, 3.0], [0.0, 4.0, 5.0], [6.0, 0.0, 0.0]],
])
def test_prod_gradient_with_zeros_matches_torch(arr):
    g_e, g_t = _grads(lambda m, x: m.prod(x), arr)
    np.testing.assert_allclose(g_e.numpy(), g_t.numpy())
    dim = np.ndim(arr) - 1
    g_e, g_t = _grads(lambda m, x: x.prod(dim) * m.arange(1.0, 1.0 + np.shape(arr)[0]), arr)
    np.testing.assert_allclose(g_e.numpy(), g_t.numpy())


@pytest.mark.parametrize("arr", [
    [[1.5, -2.0, 0.5], [0.7, 1.2, -0.3]],
    [[1.5, 0.0, 2.0, 3.0], [0.0, 1.0, 0.0, 2.0]],  # products are multilinear: exact at 0
    [[0.0, 0.0, 0.0], [2.0, 0.0, 3.0]],
])
def test_prod_second_derivatives_also_with_zeros(arr):
    x = ember.tensor(arr, dtype=ember.float64, requires_grad=True)
    for fn in [lambda t: t.prod(1), lambda t: t.prod(0), lambda t: t.prod()]:
        assert ember.testing.gradgradcheck(fn, (x,))


def test_logsumexp_is_stable_and_handles_infinities():
    e, t = _pair(np.array([[1000.0, 1000.0], [-INF, -INF], [-INF, 3.0], [INF, 1.0]]))
    _same(ember.logsumexp(e, 1), torch.logsumexp(t, 1))
    e, t = _pair(np.arange(6).reshape(2, 3))
    _same(ember.logsumexp(e, 1), torch.logsumexp(t, 1))
    with pytest.raises(TypeError):
        ember.logsumexp(e)  # dim is required, as in PyTorch


def test_norm_gradient_at_zero_is_zero_like_torch():
    for p in [2, "fro", 1, 3, 1.5]:
        g_e, g_t = _grads(lambda m, x: m.norm(x, p), np.zeros(4))
        assert not np.isnan(g_e.numpy()).any()
        np.testing.assert_allclose(g_e.numpy(), g_t.numpy())
    g_e, g_t = _grads(lambda m, x: m.norm(x, dim=1), [[0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_allclose(g_e.numpy(), g_t.numpy())


def test_norm_small_p_with_zero_entries_matches_torch():
    for p in [0.5, -1.0, 1.5, 3.0, INF, -INF, 0]:
        g_e, g_t = _grads(lambda m, x: x.norm(p, dim=-1), [[0.0, 2.0, -1.0], [1.0, 0.5, -3.0]])
        if p == 0:  # piecewise constant: no gradient at all
            assert g_e is None and g_t is None
            continue
        np.testing.assert_allclose(g_e.numpy(), g_t.numpy(), err_msg=f"p={p}")


def test_inf_norm_ties_share_the_gradient_like_torch():
    arr = [[2.0, -2.0, 1.0], [3.0, 3.0, -3.0]]
    for p in [INF, -INF]:
        g_e, g_t = _grads(lambda m, x: m.norm(x, p, 1), arr)
        np.testing.assert_allclose(g_e.numpy(), g_t.numpy())


def test_norm_arguments():
    e, t = _pair(np.arange(24.0).reshape(2, 3, 4) - 10)
    _same(e.norm(2, (0, 2), True), t.norm(2, (0, 2), True))
    _same(ember.norm(e, p=None), torch.norm(t, p=None))
    _same(ember.norm(e.float(), dtype=ember.float64), torch.norm(t.float(), dtype=torch.float64))
    with pytest.raises(RuntimeError):
        ember.norm(e, "fro", (0, 1, 2))
    with pytest.raises(RuntimeError):
        ember.norm(e, "nuc")
    with pytest.raises(RuntimeError, match="floating"):
        ember.norm(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="inf norm"):
        ember.norm(ember.zeros(0), INF)


def test_all_any_dtypes_and_dims():
    arr = np.array([[0, 1, 2], [3, 4, 5]], dtype=np.uint8)
    e, t = _pair(arr)
    _same(ember.all(e), torch.all(t))
    _same(ember.any(e, 1), torch.any(t, 1))
    e, t = _pair(arr.astype(np.float32))
    _same(e.all(dim=(0, 1)), t.all(dim=(0, 1)))
    _same(e.all(dim=()), t.all(dim=()))
    _same(e.any(-1, keepdim=True), t.any(-1, keepdim=True))
    e, t = _pair(np.array([np.nan, 1.0]))
    _same(e.all(), t.all())


def test_count_nonzero_dims():
    e, t = _pair(np.array([[0, 1, 2], [3, 0, 0]]))
    _same(ember.count_nonzero(e, (0, 1)), torch.count_nonzero(t, (0, 1)))
    _same(e.count_nonzero(-1), t.count_nonzero(-1))


def test_nan_reductions_match_torch():
    arr = np.array([[np.nan, 1.0, 2.0], [np.nan, np.nan, np.nan]])
    e, t = _pair(arr)
    _same(ember.nansum(e, 1), torch.nansum(t, 1))
    _same(ember.nanmean(e, 1), torch.nanmean(t, 1))
    _same(e.nanmean(), t.nanmean())
    g_e, g_t = _grads(lambda m, x: m.nanmean(x, 1), arr)
    np.testing.assert_allclose(g_e.numpy(), g_t.numpy())


def test_functions_and_methods_exist():
    for name in ["sum", "mean", "prod", "nansum", "nanmean", "logsumexp", "norm", "all", "any",
                 "count_nonzero"]:
        assert callable(getattr(ember, name)) and callable(getattr(ember.Tensor, name))
