"""Behaviour of joining and splitting beyond the op table: errors, dtype promotion,
sizes of the pieces, views, ``out=``, iteration. PyTorch is the oracle throughout."""

import numpy as np
import pytest
import torch

import ember


def _shapes(pieces):
    return [tuple(p.shape) for p in pieces]


def test_cat_mismatch_error_names_op_index_and_shapes():
    with pytest.raises(RuntimeError) as err:
        ember.cat([ember.zeros(2, 3), ember.zeros(2, 3), ember.zeros(2, 4)])
    assert str(err.value).startswith("cat: tensor 2 has shape (2, 4) but tensor 0 has shape "
                                     "(2, 3); sizes must match except in dimension 0")
    with pytest.raises(RuntimeError, match="except in dimension 1"):
        ember.cat([ember.zeros(2, 3), ember.zeros(3, 3)], dim=-1)


ERRORS = [
    lambda m: m.cat([m.zeros(2, 3), m.zeros(2, 4)]),
    lambda m: m.cat([m.zeros(2, 3), m.zeros(2)]),
    lambda m: m.cat([m.zeros(()), m.zeros(2)]),
    lambda m: m.cat([]),
    lambda m: m.cat([m.zeros(2, 3), 1]),
    lambda m: m.cat(m.zeros(2, 3)),
    lambda m: m.cat([m.zeros(2, 3), m.zeros(2, 3)], dim=2),
    lambda m: m.stack([m.zeros(2, 3), m.zeros(2, 4)]),
    lambda m: m.stack([]),
    lambda m: m.stack([m.zeros(2, 3)], dim=3),
    lambda m: m.zeros(5).split([2, 2]),
    lambda m: m.zeros(5).split(0),
    lambda m: m.zeros(5).split(-1),
    lambda m: m.zeros(5).chunk(0),
    lambda m: m.zeros(5).tensor_split(0),
    lambda m: m.zeros(()).unbind(),
    lambda m: m.zeros(2).unbind(1),
    lambda m: m.hsplit(m.zeros(2, 4), 3),
    lambda m: m.hsplit(m.zeros(()), 1),
    lambda m: m.vsplit(m.zeros(3), 1),
    lambda m: m.dsplit(m.zeros(2, 2), 1),
    lambda m: m.meshgrid(m.zeros(2, 3), m.zeros(2), indexing="ij"),
    lambda m: m.meshgrid(m.zeros(2), m.zeros(2, dtype=m.int64), indexing="ij"),
    lambda m: m.block_diag(m.zeros(2, 2, 2)),
    lambda m: iter(m.zeros(())),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_have_torch_types(i):
    with pytest.raises(Exception) as ref:
        ERRORS[i](torch)
    with pytest.raises(Exception) as mine:
        ERRORS[i](ember)
    assert isinstance(mine.value, ref.type), f"{mine.value!r} is not a {ref.type.__name__}"


@pytest.mark.parametrize("a,b", [
    ("int32", "float16"), ("int32", "bool"), ("uint8", "int8"), ("float32", "int64"),
    ("float32", "float64"), ("bool", "bool"), ("int16", "int64"),
])
@pytest.mark.parametrize("op", ["cat", "stack", "block_diag", "hstack"])
def test_mixed_dtypes_promote_like_torch(op, a, b):
    x, y = np.ones((2, 2), a), np.zeros((2, 2), b)
    if op == "block_diag":
        mine, ref = ember.block_diag(ember.tensor(x), ember.tensor(y)), \
            torch.block_diag(torch.tensor(x), torch.tensor(y))
    else:
        mine = getattr(ember, op)([ember.tensor(x), ember.tensor(y)])
        ref = getattr(torch, op)([torch.tensor(x), torch.tensor(y)])
    assert str(mine.dtype) == str(ref.dtype).replace("torch", "ember")
    np.testing.assert_array_equal(mine.numpy(), ref.numpy())


def test_cat_skips_legacy_empty_tensors():
    for lib in (ember, torch):
        out = lib.cat([lib.zeros(0), lib.ones(2, 3), lib.zeros(0)], dim=1)
        assert tuple(out.shape) == (2, 3)
    assert tuple(ember.cat([ember.zeros(0), ember.zeros(0)]).shape) == (0,)
    assert tuple(ember.cat([ember.zeros(0, 3), ember.ones(2, 3)]).shape) == (2, 3)


@pytest.mark.parametrize("call", [
    lambda m, x: m.split(x, 2), lambda m, x: m.split(x, 7), lambda m, x: x.split([1, 0, 4]),
    lambda m, x: x.chunk(4), lambda m, x: x.chunk(2), lambda m, x: x.chunk(9),
    lambda m, x: m.tensor_split(x, 3), lambda m, x: m.tensor_split(x, [1, 9, 3]),
    lambda m, x: m.tensor_split(x, m.tensor([2, -1])), lambda m, x: x.tensor_split(m.tensor(2)),
    lambda m, x: m.hsplit(x, [2]), lambda m, x: x.unbind(),
    lambda m, x: m.split(x[:0], 2), lambda m, x: m.chunk(x[:0], 3),
    lambda m, x: m.split(x[:0], 0),
])
def test_split_sizes_match_torch(call):
    arr = np.arange(5.0)
    mine, ref = call(ember, ember.tensor(arr)), call(torch, torch.tensor(arr))
    assert isinstance(mine, tuple)
    assert _shapes(mine) == _shapes(ref)
    for m, r in zip(mine, ref):
        np.testing.assert_array_equal(m.numpy(), r.numpy())


@pytest.mark.parametrize("call", [
    lambda x: x.split(2, 1), lambda x: x.chunk(3, 1), lambda x: x.unbind(1),
    lambda x: x.tensor_split([1, 3], 1), lambda x: list(x),
])
def test_pieces_are_views_of_the_base(call):
    arr = np.arange(12.0).reshape(3, 4)
    x, tx = ember.tensor(arr), torch.tensor(arr)
    with ember.no_grad():
        for piece in call(x):
            piece.add_(100)
    with torch.no_grad():
        for piece in call(tx):
            piece.add_(100)
    np.testing.assert_array_equal(x.numpy(), tx.numpy())


def test_inplace_on_piece_of_grad_requiring_base_raises():
    x = ember.ones(4, 2, requires_grad=True)
    y = x * 1
    with pytest.raises(RuntimeError):
        y.split(2)[1].mul_(2)


def test_unused_pieces_get_zero_gradient():
    arr = np.random.default_rng(0).standard_normal((5, 3))
    x, tx = ember.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    (x.split(2)[1] * 3).sum().backward()
    (tx.split(2)[1] * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    x.grad = None
    tx.grad = None
    (x.unbind(1)[2] ** 2).sum().backward()
    (tx.unbind(1)[2] ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


def test_iteration_over_first_dimension():
    arr = np.random.default_rng(1).standard_normal((3, 2))
    x, tx = ember.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    rows = list(x)
    assert len(rows) == 3 and all(isinstance(r, ember.Tensor) for r in rows)
    sum(r * (i + 1) for i, r in enumerate(x)).sum().backward()
    sum(r * (i + 1) for i, r in enumerate(tx)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
    assert [r.item() for r in ember.tensor([4, 5])] == [4, 5]
    assert list(ember.zeros(0, 2)) == []


@pytest.mark.parametrize("op", ["cat", "stack", "hstack", "vstack", "dstack", "column_stack"])
def test_out_keyword(op):
    arr = np.arange(6.0).reshape(2, 3)
    ref = getattr(torch, op)([torch.tensor(arr), torch.tensor(arr)])
    out = ember.zeros(*ref.shape, dtype=ember.float64)
    got = getattr(ember, op)([ember.tensor(arr), ember.tensor(arr)], out=out)
    assert got is out
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_torch(indexing):
    a, b, c = np.arange(2.0), np.arange(3.0), np.arange(4)
    mine = ember.meshgrid(ember.tensor(a), ember.tensor(b), indexing=indexing)
    ref = torch.meshgrid(torch.tensor(a), torch.tensor(b), indexing=indexing)
    for m, r in zip(mine, ref):
        np.testing.assert_array_equal(m.numpy(), r.numpy())
    one = ember.meshgrid(ember.tensor(c), indexing=indexing)
    assert isinstance(one, tuple) and tuple(one[0].shape) == (4,)
    default = ember.meshgrid(ember.tensor(a), ember.tensor(b))
    assert tuple(default[0].shape) == (2, 3)  # 'ij', PyTorch's current default


def test_block_diag_without_inputs_and_scalars():
    assert tuple(ember.block_diag().shape) == tuple(torch.block_diag().shape)
    mine = ember.block_diag(ember.tensor(2), ember.tensor([[1, 2]]), ember.tensor([3]))
    ref = torch.block_diag(torch.tensor(2), torch.tensor([[1, 2]]), torch.tensor([3]))
    assert str(mine.dtype) == str(ref.dtype).replace("torch", "ember")
    np.testing.assert_array_equal(mine.numpy(), ref.numpy())


def test_cat_backward_through_views_and_create_graph():
    arr = np.random.default_rng(2).standard_normal((2, 3))
    x, tx = ember.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
    y = ember.cat([x, x.t().reshape(2, 3) ** 2], 1)
    ty = torch.cat([tx, tx.t().reshape(2, 3) ** 2], 1)
    (g,) = ember.autograd.grad((y ** 2).sum(), [x], create_graph=True)
    (tg,) = torch.autograd.grad((ty ** 2).sum(), [tx], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy())
    g.sum().backward()
    tg.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
