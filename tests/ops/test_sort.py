"""sort/topk/kthvalue/median behaviour the op table cannot express: ties, NaN, errors."""

import numpy as np
import pytest
import torch

import ember

NAN = float("nan")
TIES = np.array([[1.0, 0.0, 1.0, 2.0, 0.0, 1.0], [3.0, 3.0, 3.0, -1.0, 2.0, 3.0]])


def _pair(arr, requires_grad=False):
    arr = np.asarray(arr)
    return (ember.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def _same(e, t):
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), equal_nan=True)


def _grads(fn, arr, seed=0):
    e, t = _pair(np.asarray(arr, np.float64), requires_grad=True)
    out_e, out_t = fn(ember, e), fn(torch, t)
    up = np.random.default_rng(seed).standard_normal(tuple(out_t.shape))
    out_e.backward(ember.tensor(up))
    out_t.backward(torch.tensor(up))
    return e.grad.numpy(), t.grad.numpy()


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("arr", [TIES, np.arange(40) % 3, (np.arange(40) % 4).astype(bool)])
def test_stable_sort_ties_match_torch(arr, descending):
    e, t = _pair(arr)
    out_e = ember.sort(e, descending=descending, stable=True)
    out_t = torch.sort(t, descending=descending, stable=True)
    _same(out_e.values, out_t.values)
    _same(out_e.indices, out_t.indices)
    _same(ember.argsort(e, descending=descending, stable=True),
          torch.argsort(t, descending=descending, stable=True))


def test_sort_gradient_with_ties_follows_the_indices():
    g_e, g_t = _grads(lambda m, x: m.sort(x, dim=1, stable=True).values, TIES)
    np.testing.assert_allclose(g_e, g_t)


@pytest.mark.parametrize("descending", [False, True])
def test_nan_sorts_as_largest_like_torch(descending):
    e, t = _pair(np.array([[1.0, NAN, 0.0, NAN, -2.0], [NAN, 3.0, 2.0, 1.0, 0.0]]))
    out_e, out_t = e.sort(1, descending), t.sort(1, descending)
    _same(out_e.values, out_t.values)
    _same(out_e.indices, out_t.indices)
    for largest in [True, False]:
        top_e, top_t = e.topk(2, largest=largest), t.topk(2, largest=largest)
        _same(top_e.values, top_t.values)
        _same(top_e.indices, top_t.indices)
    _same(e.kthvalue(5).values, t.kthvalue(5).values)


def test_topk_unsorted_selects_the_same_elements():
    e, t = _pair(np.random.default_rng(0).standard_normal((3, 30)))
    out_e, out_t = e.topk(4, sorted=False), t.topk(4, sorted=False)
    np.testing.assert_array_equal(np.sort(out_e.indices.numpy(), 1),
                                  np.sort(out_t.indices.numpy(), 1))
    np.testing.assert_allclose(np.sort(out_e.values.numpy(), 1), np.sort(out_t.values.numpy(), 1))
    assert out_e.indices.dtype == ember.int64


def test_topk_edges_and_errors():
    e, t = _pair(np.arange(5.0))
    out_e, out_t = e.topk(0), t.topk(0)
    _same(out_e.values, out_t.values)
    _same(out_e.indices, out_t.indices)
    with pytest.raises(RuntimeError, match="out of range"):
        e.topk(6)
    with pytest.raises(RuntimeError, match="bool"):
        ember.topk(ember.tensor([True, False]), 1)
    with pytest.raises(IndexError):
        e.topk(1, dim=1)


def test_integer_inputs():
    arr = np.array([[5, 1, 4], [2, 8, 3]], dtype=np.int32)
    e, t = _pair(arr)
    for fn in [lambda m, x: m.sort(x, 1), lambda m, x: m.topk(x, 2),
               lambda m, x: m.kthvalue(x, 2, 1)]:
        out_e, out_t = fn(ember, e), fn(torch, t)
        _same(out_e.values, out_t.values)
        _same(out_e.indices, out_t.indices)
    _same(ember.median(e), torch.median(t))


def test_kthvalue_and_median_with_ties_pick_an_equal_element():
    e, t = _pair(TIES)
    for fn in [lambda m, x: m.kthvalue(x, 3, 1), lambda m, x: m.median(x, 1),
               lambda m, x: m.median(x, -1, keepdim=True)]:
        out_e, out_t = fn(ember, e), fn(torch, t)
        _same(out_e.values, out_t.values)
        assert out_e.indices.dtype == ember.int64
        picked = np.take_along_axis(TIES, out_e.indices.numpy().reshape(2, 1), 1)
        np.testing.assert_array_equal(picked.reshape(out_e.values.shape), out_e.values.numpy())


def test_median_of_all_is_the_lower_median_and_ties_share_the_gradient():
    for arr in [[4.0, 1.0, 3.0, 2.0], TIES, [[2.0, 2.0], [2.0, 5.0]]]:
        e, t = _pair(arr)
        _same(ember.median(e), torch.median(t))
        g_e, g_t = _grads(lambda m, x: m.median(x), arr)
        np.testing.assert_allclose(g_e, g_t)


def test_median_nan_and_empty_like_torch():
    e, t = _pair(np.array([[1.0, NAN, 0.0, NAN], [3.0, 1.0, 2.0, 0.0]]))
    _same(e.median(), t.median())
    out_e, out_t = e.median(1), t.median(1)
    _same(out_e.values, out_t.values)
    _same(out_e.indices, out_t.indices)
    e, t = _pair(np.zeros(0))
    _same(ember.median(e), torch.median(t))
    with pytest.raises(IndexError, match="non-zero"):
        ember.median(ember.zeros(0, 3), 0)


def test_kthvalue_errors():
    with pytest.raises(RuntimeError, match="out of range"):
        ember.kthvalue(ember.ones(3), 4)
    with pytest.raises(RuntimeError, match="out of range"):
        ember.kthvalue(ember.ones(3), 0)


def test_named_results():
    e, t = _pair(np.array([[3.0, 1.0, 2.0]]))
    for name, args in [("sort", ()), ("topk", (2,)), ("kthvalue", (1,)), ("median", (1,))]:
        out = getattr(e, name)(*args)
        values, indices = out
        assert out.values is values and out.indices is indices and out[1] is indices
        ref = getattr(t, name)(*args)
        _same(values, ref.values)
        _same(indices, ref.indices)


def test_scalar_tensors():
    e, t = _pair(np.array(1.5))
    for fn in [lambda m, x: m.sort(x), lambda m, x: m.topk(x, 1), lambda m, x: m.kthvalue(x, 1),
               lambda m, x: m.median(x, 0)]:
        out_e, out_t = fn(ember, e), fn(torch, t)
        _same(out_e.values, out_t.values)
        _same(out_e.indices, out_t.indices)
    _same(ember.argsort(e), torch.argsort(t))
