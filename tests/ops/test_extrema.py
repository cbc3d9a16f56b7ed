"""max/min/argmax behaviour the op table cannot express: ties, indices, NaN, errors."""

import numpy as np
import pytest
import torch

import ember

NAN = float("nan")
TIES = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, 2.0], [5.0, 4.0, 5.0, 5.0]])


def _pair(arr, requires_grad=False):
    arr = np.asarray(arr)
    return (ember.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def _same(e, t):
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), equal_nan=True)


def _grads(fn, arr):
    e, t = _pair(np.asarray(arr, np.float64), requires_grad=True)
    fn(ember, e).sum().backward()
    fn(torch, t).sum().backward()
    return e.grad.numpy(), t.grad.numpy()


@pytest.mark.parametrize("fn", [
    lambda m, x: m.max(x),
    lambda m, x: x.min(),
    lambda m, x: m.amax(x),
    lambda m, x: m.amax(x, 1),
    lambda m, x: x.amin((0, 1)),
    lambda m, x: x.amin(0, keepdim=True) * m.arange(1.0, 5.0),
    lambda m, x: m.aminmax(x, dim=1)[0] + 2 * m.aminmax(x, dim=1)[1],
])
def test_ties_share_the_gradient_like_torch(fn):
    g_e, g_t = _grads(fn, TIES)
    np.testing.assert_allclose(g_e, g_t)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_dim_form_ties_pick_torch_index_and_route_gradient_there(name, dim):
    e, t = _pair(TIES)
    out_e, out_t = getattr(ember, name)(e, dim), getattr(torch, name)(t, dim)
    assert out_e.indices.dtype == ember.int64
    np.testing.assert_array_equal(out_e.indices.numpy(), out_t.indices.numpy())
    _same(out_e.values, out_t.values)
    weights = np.arange(1.0, 5.0 if dim == 0 else 4.0)
    g_e, g_t = _grads(lambda m, x: getattr(m, name)(x, dim).values * m.tensor(weights), TIES)
    np.testing.assert_allclose(g_e, g_t)


def test_named_result_access():
    e, t = _pair(TIES)
    out = ember.max(e, 1, keepdim=True)
    values, indices = out
    assert values is out.values and indices is out.indices and out[0] is values
    assert tuple(values.shape) == (3, 1) and tuple(indices.shape) == (3, 1)
    np.testing.assert_array_equal(indices.numpy(), torch.max(t, 1, keepdim=True).indices.numpy())
    both = ember.aminmax(e)
    lo, hi = both
    assert both.min is lo and both.max is hi and lo.item() == -1.0 and hi.item() == 5.0
    assert "values=" in repr(out) and "indices=" in repr(out)


def test_binary_forms_delegate_to_maximum_and_minimum():
    a, ta = _pair(np.array([1.0, 5.0, -2.0]))
    b, tb = _pair(np.array([3.0, 0.0, -2.0]))
    _same(ember.max(a, b), torch.max(ta, tb))
    _same(a.min(b), ta.min(tb))
    _same(ember.max(a, other=b), torch.max(ta, other=tb))


def test_nan_propagates_with_its_index_like_torch():
    arr = np.array([[1.0, NAN, 3.0, NAN], [0.0, 2.0, 1.0, -1.0]])
    e, t = _pair(arr)
    for name in ["max", "min"]:
        out_e, out_t = getattr(e, name)(1), getattr(t, name)(1)
        _same(out_e.values, out_t.values)
        np.testing.assert_array_equal(out_e.indices.numpy(), out_t.indices.numpy())
        _same(getattr(e, name)(), getattr(t, name)())
    for name in ["argmax", "argmin"]:
        _same(getattr(e, name)(1), getattr(t, name)(1))
        _same(getattr(e, name)(), getattr(t, name)())
    _same(e.amax(0), t.amax(0))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_integer_and_bool_inputs_keep_their_dtype(dtype):
    arr = (np.array([[3, 1, 4], [1, 5, 9]]) % 2 if dtype == np.bool_
           else np.array([[3, 1, 4], [1, 5, 9]])).astype(dtype)
    e, t = _pair(arr)
    _same(e.max(), t.max())
    _same(ember.amin(e, 0), torch.amin(t, 0))
    out_e, out_t = ember.max(e, 1), torch.max(t, 1)
    _same(out_e.values, out_t.values)
    _same(out_e.indices, out_t.indices)
    if dtype != np.bool_:
        _same(e.argmax(0), t.argmax(0))


def test_argmax_shapes_and_keepdim():
    e, t = _pair(np.arange(24.0).reshape(2, 3, 4) % 7)
    for kwargs in [{}, {"keepdim": True}, {"dim": -2}, {"dim": 0, "keepdim": True}]:
        _same(ember.argmax(e, **kwargs), torch.argmax(t, **kwargs))
        _same(e.argmin(**kwargs), t.argmin(**kwargs))
    s, ts = _pair(np.array(2.0))
    _same(ember.argmax(s, 0), torch.argmax(ts, 0))
    _same(ember.max(s, -1, keepdim=True).values, torch.max(ts, -1, keepdim=True).values)


def test_empty_errors_match_torch():
    e, t = _pair(np.zeros((0, 3)))
    cases = [(lambda m, x: m.max(x), RuntimeError), (lambda m, x: m.max(x, 0), IndexError),
             (lambda m, x: m.amax(x), RuntimeError), (lambda m, x: m.amin(x, 0), IndexError),
             (lambda m, x: m.argmax(x), IndexError), (lambda m, x: m.argmin(x, 0), IndexError),
             (lambda m, x: m.aminmax(x), RuntimeError)]
    for fn, error in cases:
        with pytest.raises(error):
            fn(torch, t)
        with pytest.raises(error, match="empty|non-zero|numel"):
            fn(ember, e)
    _same(ember.max(e, 1).values, torch.max(t, 1).values)
    _same(ember.amax(e, 1), torch.amax(t, 1))


def test_argmax_of_bool_raises_like_torch():
    with pytest.raises(RuntimeError, match="bool"):
        ember.argmax(ember.tensor([True, False]))


def test_dim_errors():
    e = ember.ones(2, 3)
    with pytest.raises(IndexError):
        e.max(2)
    with pytest.raises(TypeError):
        e.argmax((0, 1))
