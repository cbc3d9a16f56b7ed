"""cumsum/cumprod/cummax behaviour the op table cannot express: zeros, ties, dtypes."""

import numpy as np
import pytest
import torch

import ember

NAN = float("nan")


def _pair(arr, requires_grad=False):
    arr = np.asarray(arr)
    return (ember.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def _same(e, t):
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), equal_nan=True)


def _grads(fn, arr, seed=0):
    """Gradients of ``fn`` for a random upstream gradient, from ember and from torch."""
    e, t = _pair(np.asarray(arr, np.float64), requires_grad=True)
    out_e, out_t = fn(ember, e), fn(torch, t)
    up = np.random.default_rng(seed).standard_normal(tuple(out_t.shape))
    out_e.backward(ember.tensor(up))
    out_t.backward(torch.tensor(up))
    return e.grad.numpy(), t.grad.numpy()


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int32, np.int64])
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_integer_and_bool_inputs_accumulate_in_int64(dtype, op):
    e, t = _pair((np.arange(12).reshape(3, 4) % 3).astype(dtype))
    _same(getattr(ember, op)(e, 1), getattr(torch, op)(t, 1))
    _same(getattr(e, op)(0, dtype=ember.float32), getattr(t, op)(0, dtype=torch.float32))


@pytest.mark.parametrize("arr", [
    [2.0, 0.0, 3.0, 4.0],
    [0.0, 2.0, 3.0],
    [1.5, 2.0, 0.0],
    [2.0, 0.0, 3.0, 0.0, 5.0],
    [0.0, 0.0, 0.0],
    [[1.0, 0.0, 2.0, 3.0], [0.0, 4.0, 0.0, 5.0], [1.0, 2.0, 3.0, 4.0]],
])
def test_cumprod_gradient_with_zeros_matches_torch(arr):
    dim = np.ndim(arr) - 1
    g_e, g_t = _grads(lambda m, x: m.cumprod(x, dim), arr)
    assert not np.isnan(g_e).any()
    np.testing.assert_allclose(g_e, g_t, atol=1e-12)


def test_cumprod_gradcheck_with_zeros():
    # The running products are multilinear, so central differences are exact even at 0.
    x = ember.tensor([[1.5, 0.0, 2.0, 0.0], [0.5, -1.0, 0.0, 3.0]], dtype=ember.float64,
                     requires_grad=True)
    assert ember.testing.gradcheck(lambda t: t.cumprod(1), (x,))


@pytest.mark.parametrize("arr", [
    [[1.5, -0.5, 2.0], [0.5, -1.0, 0.7]],
    [[1.5, 0.0, 2.0], [0.0, -1.0, 0.0]],
])
def test_cumprod_second_derivatives_also_with_zeros(arr):
    x = ember.tensor(arr, dtype=ember.float64, requires_grad=True)
    assert ember.testing.gradgradcheck(lambda t: t.cumprod(1), (x,))
    assert ember.testing.gradgradcheck(lambda t: t.cumprod(0), (x,))
    assert ember.testing.gradgradcheck(lambda t: t.cumsum(0), (x,))


@pytest.mark.parametrize("arr", [
    [1.0, 1.0, 0.0, 1.0, 2.0, 2.0],
    [3.0, 1.0, 3.0, 0.0, 3.0, -1.0],
    [1.0, NAN, 0.0, NAN, 5.0],
    [[2.0, 2.0, 1.0], [0.0, 3.0, 3.0]],
])
@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_ties_and_nan_give_torch_indices(arr, name):
    e, t = _pair(arr)
    out_e, out_t = getattr(ember, name)(e, -1), getattr(torch, name)(t, -1)
    _same(out_e.values, out_t.values)
    assert out_e.indices.dtype == ember.int64
    np.testing.assert_array_equal(out_e.indices.numpy(), out_t.indices.numpy())
    if not np.isnan(arr).any():
        g_e, g_t = _grads(lambda m, x: getattr(m, name)(x, -1).values, arr)
        np.testing.assert_allclose(g_e, g_t)


def test_cummax_of_ints_and_bools():
    for arr in [np.array([3, 1, 4, 1, 5, 9, 2, 6]), np.array([False, True, False, True])]:
        e, t = _pair(arr)
        out_e, out_t = ember.cummax(e, 0), torch.cummax(t, 0)
        _same(out_e.values, out_t.values)
        _same(out_e.indices, out_t.indices)


def test_named_results_and_shapes():
    e, t = _pair(np.zeros((0, 2)))
    values, indices = ember.cummin(e, 0)
    _same(values, torch.cummin(t, 0).values)
    _same(indices, torch.cummin(t, 0).indices)
    s, ts = _pair(np.array(4.0))
    out = ember.cummax(s, 0)
    assert out.values.item() == 4.0 and out.indices.item() == 0 and out.indices.ndim == 0
    _same(ember.cumsum(s, -1), torch.cumsum(ts, -1))


def test_in_place_forms():
    e, t = _pair(np.arange(6.0).reshape(2, 3))
    assert e.cumsum_(1) is e
    t.cumsum_(1)
    _same(e, t)
    e.cumprod_(0)
    t.cumprod_(0)
    _same(e, t)


def test_dim_is_required_and_checked():
    e = ember.ones(2, 3)
    with pytest.raises(TypeError):
        ember.cumsum(e)
    with pytest.raises(IndexError):
        e.cumprod(2)
    with pytest.raises(TypeError):
        e.cummax((0, 1))
