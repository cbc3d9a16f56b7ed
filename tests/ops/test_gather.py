"""gather, take, take_along_dim, index_select, masked_select, nonzero: what the op table
cannot say (integer dtypes, errors, ``out=``, edge cases), against torch."""

import re

import numpy as np
import pytest
import torch

import ember


def _both(fn, *arrays):
    """``fn(lib, *tensors)`` for ember and torch, as NumPy arrays (or tuples of them)."""
    out = []
    for m in (ember, torch):
        r = fn(m, *[m.tensor(a) for a in arrays])
        out.append(tuple(t.numpy() for t in r) if isinstance(r, tuple) else r.numpy())
    return out


def _assert_same(mine, ref):
    mine, ref = (mine, ref) if isinstance(ref, tuple) else ((mine,), (ref,))
    assert len(mine) == len(ref)
    for a, b in zip(mine, ref):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)


INT_CASES = [
    lambda m, x: m.gather(x, 1, m.tensor([[0, 0], [2, 1]])),
    lambda m, x: x.gather(0, m.tensor([[1, 0, 1]], dtype=m.int32)),
    lambda m, x: m.take(x, m.tensor([-1, 0, 4])),
    lambda m, x: m.take_along_dim(x, m.tensor([[2], [0]]), dim=1),
    lambda m, x: m.take_along_dim(x, m.tensor([5, 0])),
    lambda m, x: m.index_select(x, 1, m.tensor([2, 2, 0])),
    lambda m, x: x.index_select(0, m.tensor([1], dtype=m.int32)),
    lambda m, x: m.masked_select(x, x > 2),
    lambda m, x: m.nonzero(x - 3),
    lambda m, x: m.nonzero(x > 1, as_tuple=True),
    lambda m, x: m.argwhere(x % 2),
]


@pytest.mark.parametrize("k", range(len(INT_CASES)))
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.float32])
def test_dtypes_match_torch(k, dtype):
    x = np.arange(6).reshape(2, 3).astype(dtype)
    if dtype == np.bool_ and k in (7, 8, 10):
        pytest.skip("arithmetic on bools is not the point here")
    _assert_same(*_both(INT_CASES[k], x))


def test_nonzero_edge_cases():
    for arr in (np.zeros((2, 3)), np.array(5.0), np.array(0.0), np.zeros((0, 3))):
        _assert_same(*_both(lambda m, x: m.nonzero(x), arr))
        _assert_same(*_both(lambda m, x: m.nonzero(x, as_tuple=True), arr))
    x = ember.tensor([[0.0, 2.0], [3.0, 0.0]])
    assert x[x.nonzero(as_tuple=True)].tolist() == [2.0, 3.0]


def test_index_select_on_scalar_and_empty_index():
    _assert_same(*_both(lambda m, x: m.index_select(x, 0, m.tensor([0])), np.array(2.5)))
    _assert_same(*_both(lambda m, x: m.index_select(x, 1, m.tensor([], dtype=m.int64)),
                        np.ones((2, 3))))


def test_out_keyword():
    x = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = ember.empty(2, 1)
    r = ember.gather(x, 1, ember.tensor([[1], [0]]), out=out)
    assert r is out and out.tolist() == [[2.0], [3.0]]
    out = ember.empty(0)
    ember.index_select(x, 0, ember.tensor([1]), out=out)
    assert out.tolist() == [[3.0, 4.0]]


def test_gather_gradient_accumulates_repeats():
    grads = []
    for m in (ember, torch):
        x = m.ones(2, 3, requires_grad=True)
        m.gather(x, 1, m.tensor([[0, 0, 0, 2], [1, 1, 2, 2]])).sum().backward()
        grads.append(x.grad.tolist())
    assert grads[0] == grads[1] == [[3.0, 0.0, 1.0], [0.0, 2.0, 2.0]]


def _message(exc):
    return re.sub(r" \(\S+:\d+\)$", "", str(exc))


@pytest.mark.parametrize("call, text", [
    (lambda m, x: m.gather(x, 1, m.tensor([[7]])),
     "gather: index 7 is out of bounds for dimension 1 with size 5"),
    (lambda m, x: m.gather(x, -1, m.tensor([[-1]])),
     "gather: index -1 is out of bounds for dimension 1 with size 5"),
    (lambda m, x: m.index_select(x, 0, m.tensor([1, 3])),
     "index_select: index 3 is out of bounds for dimension 0 with size 3"),
    (lambda m, x: m.take_along_dim(x, m.tensor([[5]]), 1),
     "take_along_dim: index 5 is out of bounds for dimension 1 with size 5"),
    (lambda m, x: m.take(x, m.tensor([15])), "take: index 15 is out of range"),
])
def test_out_of_bounds_errors_name_op_value_dim_and_size(call, text):
    with pytest.raises(IndexError) as info:
        call(ember, ember.zeros(3, 5))
    assert _message(info.value).startswith(text)
    assert "test_gather.py:" in str(info.value)
    if not text.startswith("take_along_dim"):  # PyTorch 2.13 does not check it (reads past)
        with pytest.raises((IndexError, RuntimeError)):
            call(torch, torch.zeros(3, 5))


def test_gather_out_of_bounds_is_also_a_runtime_error_like_torch():
    with pytest.raises(RuntimeError, match="index 7 is out of bounds"):
        ember.zeros(3, 5).gather(1, ember.tensor([[7]]))


@pytest.mark.parametrize("call", [
    lambda m, x: m.gather(x, 1, m.tensor([[1.0]])),
    lambda m, x: m.index_select(x, 0, m.tensor([0.0])),
    lambda m, x: m.take(x, m.tensor([0.0])),
    lambda m, x: m.take_along_dim(x, m.tensor([[0.0]]), 1),
])
def test_float_index_is_refused(call):
    with pytest.raises(RuntimeError, match=r"int64 or int32 .*got .*float32"):
        call(ember, ember.zeros(3, 5))
    with pytest.raises((RuntimeError, IndexError)):
        call(torch, torch.zeros(3, 5))


def test_shape_errors():
    x = ember.zeros(3, 5)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        x.gather(1, ember.tensor([1]))
    with pytest.raises(RuntimeError, match="no larger than self"):
        x.gather(0, ember.zeros(2, 7, dtype=ember.int64))
    with pytest.raises(IndexError, match="supposed to be a vector"):
        x.index_select(0, ember.tensor([[0]]))
    with pytest.raises(RuntimeError, match="dimension out of range"):
        x.gather(2, ember.tensor([[0]]))
    with pytest.raises(RuntimeError, match="bool tensor for mask"):
        x.masked_select(ember.ones(5))
