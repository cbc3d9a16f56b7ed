"""Behaviour of shape ops the op table cannot express: memory sharing of views, errors,
in-place forms, integer dtypes. PyTorch is the oracle throughout."""

import numpy as np
import pytest
import torch

import ember

VIEWS = [
    ("view", lambda x: x.view(4, 6)),
    ("reshape", lambda x: x.reshape(-1)),
    ("flatten", lambda x: x.flatten(1)),
    ("unflatten", lambda x: x.unflatten(-1, (2, 2))),
    ("ravel", lambda x: x.ravel()),
    ("permute", lambda x: x.permute(2, 0, 1)),
    ("transpose", lambda x: x.transpose(0, 2)),
    ("squeeze", lambda x: x[:1].squeeze(0)),
    ("unsqueeze", lambda x: x.unsqueeze(1)),
    ("narrow", lambda x: x.narrow(1, 1, 2)),
    ("select", lambda x: x.select(-1, 2)),
    ("diagonal", lambda x: x.diagonal(1, 1, 2)),
    ("unfold", lambda x: x.unfold(2, 2, 2)),
    ("split", lambda x: x.split(1, 1)[2]),
    ("chunk", lambda x: x.chunk(2, -1)[1]),
    ("unbind", lambda x: x.unbind(1)[1]),
    ("movedim", lambda x: x.movedim(0, -1)),
    ("atleast_3d", lambda x: ember.atleast_3d(x) if isinstance(x, ember.Tensor)
     else torch.atleast_3d(x)),
]


def _pair(shape=(2, 3, 4)):
    arr = np.arange(float(np.prod(shape))).reshape(shape)
    return ember.tensor(arr), torch.tensor(arr)


@pytest.mark.parametrize("name,fn", VIEWS, ids=[v[0] for v in VIEWS])
def test_views_share_memory_with_base(name, fn):
    x, tx = _pair()
    with ember.no_grad():
        fn(x).mul_(-1)
    with torch.no_grad():
        fn(tx).mul_(-1)
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_write_through_view_with_setitem():
    x, tx = _pair((3, 4))
    with ember.no_grad():
        x.view(12)[0] = 5
        x.t()[1] = -1
    with torch.no_grad():
        tx.view(12)[0] = 5
        tx.t()[1] = -1
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


@pytest.mark.parametrize("fn", [
    lambda x: x.flip(0), lambda x: x.roll(1, 0), lambda x: x.rot90(1, (1, 2)),
    lambda x: x.repeat(1, 1, 1), lambda x: x.tril(), lambda x: x.diag_embed(),
    lambda x: x[0].diag(), lambda x: x.repeat_interleave(1, 0), lambda x: x.clone(),
    lambda x: x.transpose(1, 2).reshape(-1),
])
def test_copies_do_not_write_back(fn):
    x, tx = _pair()
    with ember.no_grad():
        fn(x).mul_(0)
    with torch.no_grad():
        fn(tx).mul_(0)
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_reshape_is_a_view_when_possible():
    x = ember.zeros(2, 6)
    assert np.shares_memory(x.reshape(3, 4).numpy(), x.numpy())
    assert not np.shares_memory(x.t().reshape(12).numpy(), x.numpy())


def test_view_of_non_contiguous_raises_like_torch():
    with pytest.raises(RuntimeError, match="reshape"):
        ember.zeros(3, 4).t().view(12)
    with pytest.raises(RuntimeError, match="reshape"):
        torch.zeros(3, 4).t().view(12)


ERRORS = [
    lambda m: m.zeros(2, 3).view(5),
    lambda m: m.zeros(2, 3).view(-1, -1),
    lambda m: m.zeros(2, 3).reshape(4, -1),
    lambda m: m.zeros(0, 3).reshape(-1, 0),
    lambda m: m.zeros(2, 3).squeeze(5),
    lambda m: m.zeros(2, 3).unsqueeze(3),
    lambda m: m.zeros(2, 3).transpose(0, 2),
    lambda m: m.zeros(2, 3).flatten(1, 0),
    lambda m: m.zeros(2, 3).unflatten(1, (2, 2)),
    lambda m: m.zeros(2, 3).expand(-1, 2, 3),
    lambda m: m.zeros(2, 3).expand(3),
    lambda m: m.zeros(2, 3).expand(4, 3),
    lambda m: m.zeros(2, 3).repeat(2),
    lambda m: m.zeros(2, 3).narrow(0, 1, 5),
    lambda m: m.zeros(2, 3).narrow(0, -3, 1),
    lambda m: m.zeros(2, 3).narrow(0, 0, -1),
    lambda m: m.zeros(2, 3).select(1, 3),
    lambda m: m.zeros(2, 3).select(2, 0),
    lambda m: m.zeros(2, 3).diagonal(0, 0, 0),
    lambda m: m.diag(m.zeros(2, 2, 2)),
    lambda m: m.trace(m.zeros(3)),
    lambda m: m.zeros(2, 3).unfold(1, 4, 1),
    lambda m: m.zeros(2, 3).unfold(1, 2, 0),
    lambda m: m.zeros(2, 3).flip(0, 0),
    lambda m: m.zeros(2, 3).rot90(1, (0, 0)),
    lambda m: m.zeros(3).rot90(),
    lambda m: m.zeros(3).tril(),
    lambda m: m.fliplr(m.zeros(3)),
    lambda m: m.zeros(2, 3).roll((1, 2)),
    lambda m: m.zeros(2, 3).roll((1, 2), (0,)),
    lambda m: m.zeros(2, 3).repeat_interleave(m.tensor([1, 2])),
    lambda m: m.zeros(2, 3).repeat_interleave(m.tensor([1, -1, 1]), 1),
    lambda m: m.zeros(2, 3).permute(0, 0),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_have_torch_types(i):
    with pytest.raises(Exception) as ref:
        ERRORS[i](torch)
    with pytest.raises(Exception) as mine:
        ERRORS[i](ember)
    assert isinstance(mine.value, ref.type), f"{mine.value!r} is not a {ref.type.__name__}"


def test_errors_name_op_and_shape():
    with pytest.raises(RuntimeError, match=r"narrow: start \(1\) \+ length \(5\) exceeds .* "
                                           r"\(2, 3\)"):
        ember.zeros(2, 3).narrow(0, 1, 5)
    with pytest.raises(IndexError, match=r"select: index 3 out of range .* \[2, 3\]"):
        ember.zeros(2, 3).select(1, 3)


@pytest.mark.parametrize("name,args", [
    ("squeeze_", ()), ("squeeze_", (1,)), ("unsqueeze_", (0,)), ("t_", ()),
    ("transpose_", (0, 2)), ("swapaxes_", (1, 2)), ("swapdims_", (0, 1)),
])
def test_metadata_inplace_forms(name, args):
    arr = np.random.default_rng(0).standard_normal((2, 1, 3) if name != "t_" else (2, 3))
    x = ember.tensor(arr, requires_grad=True)
    tx = torch.tensor(arr, requires_grad=True)
    y, ty = x * 2, tx * 2
    assert getattr(y, name)(*args) is y
    assert getattr(ty, name)(*args) is ty
    assert tuple(y.shape) == tuple(ty.shape)
    up = np.random.default_rng(1).standard_normal(tuple(ty.shape))
    (y * ember.tensor(up)).sum().backward()
    (ty * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_metadata_inplace_refuses_leaf_and_detects_saved_input():
    x = ember.zeros(3, 1, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.squeeze_()
    y = ember.ones(3, 1, requires_grad=True) * 1
    z = y * y  # saves y
    y.squeeze_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_metadata_inplace_without_grad():
    x, tx = _pair((2, 3))
    x.t_()
    tx.t_()
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


@pytest.mark.parametrize("name", ["tril_", "triu_"])
def test_triangle_inplace(name):
    arr = np.random.default_rng(2).standard_normal((3, 4))
    x, tx = ember.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    y, ty = x * 1, tx * 1
    getattr(y, name)(1)
    getattr(ty, name)(1)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    (y * y).sum().backward()
    (ty * ty).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("fn", [
    lambda m, x: x.flip(0), lambda m, x: x.roll(1), lambda m, x: x.repeat(2, 1),
    lambda m, x: x.tile((2,)), lambda m, x: x.repeat_interleave(2), lambda m, x: x.tril(),
    lambda m, x: x.triu(-1), lambda m, x: m.diag(x), lambda m, x: m.trace(x),
    lambda m, x: x.rot90(), lambda m, x: x.diagonal(), lambda m, x: x.unfold(0, 2, 1),
    lambda m, x: x.flatten(), lambda m, x: m.diag_embed(x), lambda m, x: x.narrow(1, 0, 2),
    lambda m, x: x.select(0, 1), lambda m, x: m.atleast_3d(x), lambda m, x: x.fliplr(),
])
@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "float16"])
def test_integer_and_bool_dtypes(fn, dtype):
    arr = (np.arange(9).reshape(3, 3) % 4).astype(dtype)
    try:
        ref = fn(torch, torch.tensor(arr))
    except RuntimeError:  # e.g. trace of bools
        with pytest.raises(RuntimeError):
            fn(ember, ember.tensor(arr))
        return
    mine = fn(ember, ember.tensor(arr))
    assert str(mine.dtype) == str(ref.dtype).replace("torch", "ember")
    np.testing.assert_array_equal(mine.numpy(), ref.numpy())


def test_type_as_and_atleast_return_types():
    x = ember.tensor([1, 2])
    assert x.type_as(ember.zeros(1, dtype=ember.float64)).dtype == ember.float64
    assert x.type_as(x) is x
    assert isinstance(ember.atleast_1d(ember.tensor(1.0)), ember.Tensor)
    two = ember.atleast_2d(ember.tensor(1.0), ember.ones(3))
    ref = torch.atleast_2d(torch.tensor(1.0), torch.ones(3))
    assert isinstance(two, tuple) and [t.shape for t in two] == [tuple(t.shape) for t in ref]
    assert isinstance(ember.atleast_3d([ember.ones(2)]), tuple)


def test_repeat_interleave_counts_only():
    counts = np.array([2, 0, 3])
    mine = ember.repeat_interleave(ember.tensor(counts))
    np.testing.assert_array_equal(mine.numpy(), torch.repeat_interleave(torch.tensor(counts)))


def test_unfold_backward_sums_overlapping_windows():
    arr = np.random.default_rng(3).standard_normal((2, 9))
    x, tx = ember.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    up = np.random.default_rng(4).standard_normal((2, 4, 3))
    (x.unfold(1, 3, 2) * ember.tensor(up)).sum().backward()
    (tx.unfold(1, 3, 2) * torch.tensor(up)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_tril_out():
    arr = np.arange(12.0).reshape(3, 4)
    out, tout = ember.zeros(3, 4, dtype=ember.float64), torch.zeros(3, 4, dtype=torch.float64)
    assert ember.tril(ember.tensor(arr), out=out) is out
    torch.tril(torch.tensor(arr), out=tout)
    np.testing.assert_array_equal(out.numpy(), tout.numpy())
