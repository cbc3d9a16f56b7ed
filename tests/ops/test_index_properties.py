"""Random shapes and index expressions (ints, stepped slices, None, ``...``, integer
lists), compared with torch (values, gradients, setitem) and with NumPy where NumPy's
rules are the same as PyTorch's (no int beside an integer list, no Ellipsis between two)."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember


@st.composite
def _item(draw, size, length):
    kind = draw(st.sampled_from(["int", "slice", "slice", "list"]))
    if kind == "int":
        return draw(st.integers(-size, size - 1))
    if kind == "slice":
        bound = st.none() | st.integers(-size - 2, size + 2)
        return slice(draw(bound), draw(bound), draw(st.none() | st.integers(1, 3)))
    n = draw(st.sampled_from([1, length]))
    return draw(st.lists(st.integers(-size, size - 1), min_size=n, max_size=n))


@st.composite
def index_cases(draw):
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=0, max_size=4)))
    ndim = len(shape)
    n = draw(st.integers(0, ndim))
    ellipsis = draw(st.none() | st.integers(0, n))
    dims = list(range(n)) if ellipsis is None else (
        list(range(ellipsis)) + list(range(ndim - (n - ellipsis), ndim)))
    length = draw(st.integers(1, 3))
    items = [draw(_item(shape[d], length)) for d in dims]
    if ellipsis is not None:
        items.insert(ellipsis, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    return shape, tuple(items)


def _numpy_agrees(index):
    has_int = any(isinstance(i, int) and not isinstance(i, bool) for i in index)
    lists = [k for k, i in enumerate(index) if isinstance(i, list)]
    if has_int and lists:
        return False
    # An Ellipsis between two integer lists separates them for NumPy even when it stands
    # for no dims (their broadcast dims go first); PyTorch keeps them in place then:
    # x[:, [0], ..., [0], [0]] of a (2, 1, 1, 1) x is (1, 2) in NumPy, (2, 1) in PyTorch.
    return not (lists and Ellipsis in index[lists[0]:lists[-1]])


@settings(max_examples=150, deadline=None)
@given(index_cases(), st.integers(0, 2 ** 16))
def test_getitem_matches_torch_and_numpy(case, seed):
    shape, index = case
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(shape)
    ex, tx = ember.tensor(base, requires_grad=True), torch.tensor(base, requires_grad=True)
    ey, ty = ex[index], tx[index]
    assert tuple(ey.shape) == tuple(ty.shape), index
    np.testing.assert_array_equal(ey.detach().numpy(), ty.detach().numpy())
    if _numpy_agrees(index):
        np.testing.assert_array_equal(ey.detach().numpy(), base[index])
    up = rng.standard_normal(tuple(ty.shape))
    ey.backward(ember.tensor(up))
    ty.backward(torch.tensor(up))
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), atol=1e-12)


def _unique_lists(index):
    """Setitem with repeated positions has no defined winner; keep indices distinct."""
    lists = [np.array(i) for i in index if isinstance(i, list)]
    if not lists:
        return True
    coords = np.broadcast_arrays(*lists)
    return len({tuple(c) for c in zip(*(a.ravel() for a in coords))}) == coords[0].size


@settings(max_examples=100, deadline=None)
@given(index_cases(), st.integers(0, 2 ** 16))
def test_setitem_matches_torch(case, seed):
    shape, index = case
    if not _unique_lists(index):
        return
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(shape)
    target = torch.tensor(base)[index].shape
    value = rng.standard_normal(tuple(target))
    results = []
    for m in (ember, torch):
        x = m.tensor(base, requires_grad=True)
        v = m.tensor(value, requires_grad=True)
        y = x * 1
        y[index] = v
        (y * m.tensor(base + 2)).sum().backward()
        results.append((y.detach().numpy().copy(), x.grad.numpy(), v.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-12)
