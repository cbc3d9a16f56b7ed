"""``x[idx]`` and ``x[idx] = value`` against torch: many index expressions, views,
in-place autograd, version counters and errors."""

import re

import numpy as np
import pytest
import torch

import ember

SHAPE = (4, 5, 6)

# Each entry builds the index for one library (``m`` is ember or torch), so tensor
# indices are made by the library under test.
GETITEM = {
    "int": lambda m: 2,
    "negative_int": lambda m: -1,
    "two_ints": lambda m: (1, -2),
    "three_ints": lambda m: (3, 0, -1),
    "slice": lambda m: slice(1, 3),
    "slice_step": lambda m: (slice(None, None, 2), slice(1, None, 3)),
    "slice_clamped": lambda m: slice(-10, 10),
    "slice_empty": lambda m: slice(3, 1),
    "none": lambda m: None,
    "none_middle": lambda m: (0, None, slice(1, 3)),
    "ellipsis": lambda m: Ellipsis,
    "ellipsis_int": lambda m: (Ellipsis, 2),
    "ellipsis_middle": lambda m: (1, Ellipsis, None, 0),
    "empty_tuple": lambda m: (),
    "scalar_tensor": lambda m: m.tensor(3),
    "scalar_tensors": lambda m: (m.tensor(1), slice(None), m.tensor(-1)),
    "list": lambda m: [0, 2, 2],
    "list_negative": lambda m: [-1, 0, -1],
    "tensor_2d": lambda m: m.tensor([[0, 1], [3, 3]]),
    "int32_tensor": lambda m: m.tensor([1, 3], dtype=m.int32),
    "ndarray": lambda m: np.array([3, 1, 1]),
    "two_lists": lambda m: ([0, 1, 3], [4, 4, 0]),
    "broadcast_lists": lambda m: ([[0], [3]], slice(None), [1, 5, 5]),
    "slice_then_list": lambda m: (slice(1, 3), [0, 4, 0]),
    "list_last": lambda m: (Ellipsis, [5, 0, 5]),
    "int_slice_list": lambda m: (1, slice(None), [0, 2]),
    "list_slice_list": lambda m: ([0, 2], slice(None), [1, 1]),
    "list_none_list": lambda m: ([0, 2], None, [1, 1]),
    "none_lists": lambda m: (None, [0, 1], slice(2, 4), [3, 4]),
    "mask_full": lambda m: m.arange(120).reshape(SHAPE) % 3 == 0,
    "mask_first": lambda m: m.tensor([True, False, True, True]),
    "mask_2d": lambda m: m.tensor([[True, False] * 2 + [True]] * 4),
    "mask_and_list": lambda m: (slice(None), m.tensor([False, True, True, False, True]), [0, 5, 0]),
    "python_true": lambda m: True,
    "python_false": lambda m: (False, 1),
    "list_python_true": lambda m: ([1, 2], True),
    "empty_list": lambda m: [],
    "bool_scalar_tensor": lambda m: (0, m.tensor(True)),
}

BASIC = {"int", "negative_int", "two_ints", "three_ints", "slice", "slice_step",
         "slice_clamped", "slice_empty", "none", "none_middle", "ellipsis", "ellipsis_int",
         "ellipsis_middle", "empty_tuple", "scalar_tensor", "scalar_tensors"}


def _pair(shape=SHAPE, seed=0):
    base = np.random.default_rng(seed).standard_normal(shape)
    return (ember.tensor(base, requires_grad=True), torch.tensor(base, requires_grad=True))


@pytest.mark.parametrize("name", list(GETITEM))
def test_getitem_matches_torch(name):
    ex, tx = _pair()
    ey, ty = ex[GETITEM[name](ember)], tx[GETITEM[name](torch)]
    assert tuple(ey.shape) == tuple(ty.shape)
    np.testing.assert_array_equal(ey.detach().numpy(), ty.detach().numpy())
    up = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    ey.backward(ember.tensor(up))
    ty.backward(torch.tensor(up))
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("name", list(GETITEM))
def test_basic_indexing_is_a_view(name):
    x = ember.arange(120.0).reshape(SHAPE)
    y = x[GETITEM[name](ember)]
    if y.numel():
        assert np.shares_memory(y.numpy(), x.numpy()) == (name in BASIC)
    assert (y._vbox is x._vbox) == (name in BASIC)


def test_view_writes_reach_the_base_and_share_the_version():
    for lib in (ember, torch):
        x = lib.zeros(3, 4)
        v = x[1:, ::2]
        v[0, 1] = 5.0
        x[2, 0] = 7.0
        assert x[1, 2].item() == 5.0 and v[1, 0].item() == 7.0
        assert x._version == v._version == 2 if lib is torch else x._vbox[0] == 2


def test_getitem_on_zero_dim_tensor():
    for index in [None, Ellipsis, (), (None, None), True]:
        e, t = ember.tensor(3.0)[index], torch.tensor(3.0)[index]
        assert tuple(e.shape) == tuple(t.shape)


def test_integer_and_bool_tensors():
    base = np.arange(12).reshape(3, 4)
    for arr in (base, base % 2 == 0):
        e, t = ember.tensor(arr), torch.tensor(arr)
        for index in [(1,), (slice(None), [0, 0, 3]), ([2, 0],)]:
            assert e[index].tolist() == t[index].tolist()
            assert str(e[index].dtype).split(".")[-1] == str(t[index].dtype).split(".")[-1]


def test_list_of_lists_reads_as_a_tuple_with_a_warning():
    x = ember.arange(12).reshape(3, 4)
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        y = x[[[0, 2], [1, 3]]]
    with pytest.warns(UserWarning):
        ty = torch.arange(12).reshape(3, 4)[[[0, 2], [1, 3]]]
    assert y.tolist() == ty.tolist()


def test_float_list_index_truncates_like_torch():
    x, tx = ember.arange(5), torch.arange(5)
    assert x[[0.0, 2.7]].tolist() == tx[[0.0, 2.7]].tolist()


# ---- setitem ------------------------------------------------------------------------

# (index builder, value shape or a number)
SETITEM = {
    "int_row": (lambda m: 1, (5, 6)),
    "int_broadcast": (lambda m: 1, (6,)),
    "leading_ones": (lambda m: 0, (1, 1, 6)),
    "number": (lambda m: (slice(None), 2), 1.5),
    "slice_step": (lambda m: (slice(None, None, 2), slice(1, None, 2)), (1, 2, 6)),
    "ellipsis": (lambda m: (Ellipsis, 0), (4, 5)),
    "none": (lambda m: (None, 1), (1, 5, 6)),
    "scalar_tensor_value": (lambda m: (2, 3), ()),
    "list": (lambda m: [0, 3], (2, 5, 6)),
    "two_lists": (lambda m: ([0, 3], [1, 4]), (6,)),
    "int_slice_list": (lambda m: (1, slice(None), [0, 2]), (5, 2)),
    "separated_lists": (lambda m: ([0, 2], slice(None), [1, 3]), (2, 5)),
    "mask": (lambda m: m.arange(120).reshape(SHAPE) % 7 == 0, ()),
    "mask_rows": (lambda m: m.tensor([True, False, False, True]), (5, 6)),
    "mask_number": (lambda m: (Ellipsis, m.tensor([True, False] * 3)), -2.0),
    "tensor_index": (lambda m: (m.tensor([[1], [2]]), m.tensor([0, 4])), (2, 2, 6)),
}


@pytest.mark.parametrize("name", list(SETITEM))
def test_setitem_matches_torch(name):
    index, value = SETITEM[name]
    results = []
    for m in (ember, torch):
        x = m.tensor(np.random.default_rng(0).standard_normal(SHAPE), requires_grad=True)
        v = value if not isinstance(value, tuple) else m.tensor(
            np.random.default_rng(1).standard_normal(value), requires_grad=True)
        y = x * 2
        y[index(m)] = v
        weights = m.tensor(np.random.default_rng(2).standard_normal(SHAPE))
        (y * weights).sum().backward()
        results.append((y.detach().numpy().copy(), x.grad.numpy(),
                        None if not isinstance(value, tuple) else v.grad.numpy()))
    (ey, egx, egv), (ty, tgx, tgv) = results
    np.testing.assert_allclose(ey, ty)
    np.testing.assert_allclose(egx, tgx)
    if tgv is not None:
        np.testing.assert_allclose(egv, tgv)


def test_setitem_casts_the_value_to_the_tensor_dtype():
    for dtype in ("int64", "int32", "bool", "float32"):
        results = []
        for m in (ember, torch):
            x = m.zeros(4, dtype=getattr(m, dtype))
            x[1] = 2.7
            x[2:] = m.tensor([1.9, -3.0], dtype=m.float64)
            results.append((x.tolist(), str(x.dtype).split(".")[-1]))
        assert results[0] == results[1]


def test_setitem_value_gradient_in_its_own_dtype():
    x = ember.zeros(3, dtype=ember.float32) * 1
    v = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    x[1:] = v
    x.sum().backward()
    assert v.grad.dtype == ember.float64 and v.grad.tolist() == [1.0, 1.0]


def test_setitem_into_tensor_without_grad_records_value():
    for m in (ember, torch):
        w = m.tensor([2.0, 3.0], requires_grad=True)
        buf = m.zeros(2, 2)
        buf[0] = w
        assert buf.requires_grad and not buf.is_leaf
        (buf * 2).sum().backward()
        assert w.grad.tolist() == [2.0, 2.0]


def test_setitem_on_leaf_requiring_grad_is_refused():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 2.0
    with pytest.raises(RuntimeError):
        torch.ones(3, requires_grad=True)[0] = 2.0


def test_setitem_under_no_grad_initializes_a_parameter():
    x = ember.ones(2, 3, requires_grad=True)
    with ember.no_grad():
        x[0] = 5.0
        x[:, -1] = ember.tensor([7.0, 8.0])
    assert x.tolist() == [[5.0, 5.0, 7.0], [1.0, 1.0, 8.0]]
    assert x.is_leaf and x.requires_grad
    (x * 2).sum().backward()
    assert x.grad.tolist() == [[2.0] * 3] * 2


def test_setitem_bumps_the_version_counter():
    x = ember.zeros(3)
    v = x[1:]
    x[0] = 1.0
    v[0] = 2.0
    assert x._vbox[0] == v._vbox[0] == 2
    assert x.tolist() == [1.0, 2.0, 0.0]


def test_setitem_on_a_saved_tensor_breaks_backward():
    x = ember.randn(3, requires_grad=True)
    y = x.exp()
    y[0] = 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    tx = torch.randn(3, requires_grad=True)
    ty = tx.exp()
    ty[0] = 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        ty.sum().backward()


def test_setitem_on_an_input_saved_by_mul_breaks_backward():
    a = ember.randn(3, requires_grad=True)
    b = a * 1
    c = a * b
    b[1] = 0.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_inplace_through_indexing_views_matches_torch():
    results = []
    for m in (ember, torch):
        x = m.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
        w = m.tensor(2.0, requires_grad=True)
        y = x * 2
        y[0] += 1
        y[:, 1] *= w
        y[[0, 2], 2:] -= w
        z = y[1]
        z[2] = 7.0
        y[0][1] = w * 5
        y[2, 1:].mul_(y[1, :3].detach().clone())
        q = y[1:, :2]
        q[0, 0] = w
        (y * m.tensor(np.arange(12.0).reshape(3, 4) + 1)).sum().backward()
        results.append((y.detach().numpy().copy(), z.detach().numpy().copy(),
                        x.grad.numpy(), w.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b)


def test_inplace_through_a_view_of_a_leaf_is_refused():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[:2] += 1
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x[:2][0] = 5.0


def test_setitem_gradient_of_gradient():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = ember.tensor(0.5, requires_grad=True)
    y = x * x
    y[1] = v * v
    (gx, gv) = ember.autograd.grad(y.sum(), (x, v), create_graph=True)
    assert gx.tolist() == [2.0, 0.0, 6.0] and gv.item() == 1.0
    (ggv,) = ember.autograd.grad(gv, v)
    assert ggv.item() == 2.0


# ---- errors -------------------------------------------------------------------------


def _message(exc):
    return re.sub(r" \(\S+:\d+\)$", "", str(exc))


@pytest.mark.parametrize("index, pattern", [
    (5, "getitem: index 5 is out of bounds for dimension 0 with size 4"),
    ((0, -6), "getitem: index -6 is out of bounds for dimension 1 with size 5"),
    ((slice(None), [0, 7]), "getitem: index 7 is out of bounds for dimension 1 with size 5"),
    ((0, 0, 0, 0), "too many indices for tensor of dimension 3"),
])
def test_out_of_range_index_errors(index, pattern):
    x = ember.zeros(SHAPE)
    with pytest.raises(IndexError) as info:
        x[index]
    assert pattern in _message(info.value)
    assert "test_index.py:" in str(info.value)  # names the user's line
    with pytest.raises(IndexError):
        torch.zeros(SHAPE)[index]


def test_float_index_errors():
    x = ember.zeros(3)
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        x[ember.tensor([0.0, 1.0])]
    with pytest.raises(IndexError, match="valid indices"):
        x[1.0]


def test_negative_step_is_refused():
    with pytest.raises(ValueError, match="step must be greater than zero"):
        ember.zeros(3)[::-1]
    with pytest.raises(ValueError):
        torch.zeros(3)[::-1]


def test_mask_shape_mismatch():
    with pytest.raises(IndexError, match=r"shape of the mask \(3,\) at index 0"):
        ember.zeros(4, 2)[ember.tensor([True, False, True])]


def test_zero_dim_tensor_cannot_take_an_int():
    with pytest.raises(IndexError, match="0-dim tensor"):
        ember.tensor(1.0)[0]


def test_two_ellipses_are_refused():
    with pytest.raises(IndexError, match="single ellipsis"):
        ember.zeros(2, 2)[..., 0, ...]


def test_setitem_shape_mismatch():
    x = ember.zeros(3, 4)
    with pytest.raises(RuntimeError, match=r"value tensor of shape \(3,\) cannot be broadcast "
                                           r"to indexing result of shape \(4,\)"):
        x[0] = ember.ones(3)
    y = ember.zeros(3, 4) * ember.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        y[0] = ember.ones(3)


def test_setitem_value_type_error():
    with pytest.raises(TypeError, match="can't assign a list"):
        ember.zeros(3)[0] = [1.0]
