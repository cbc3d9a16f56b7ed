"""scatter, scatter_reduce, index_add/copy/fill/put, masked_fill/scatter: in-place forms,
integer dtypes, zeros in prod, errors and version counters, against torch."""

import numpy as np
import pytest
import torch

import ember

X = np.random.default_rng(0).standard_normal((3, 5))
SRC = np.random.default_rng(1).standard_normal((3, 4))
UNIQUE = [[0, 3, 1, 2], [4, 1, 0, 2], [2, 0, 3, 4]]
REPEATS = [[0, 4, 4, 1], [2, 2, 2, 0], [3, 0, 1, 3]]
MASK = np.random.default_rng(2).random((3, 5)) < 0.5

# In-place calls on a non-leaf copy of x: (method name, builder of its arguments).
INPLACE = {
    "scatter_": lambda m, s: (1, m.tensor(UNIQUE), s),
    "scatter_value": lambda m, s: (1, m.tensor(REPEATS), 2.5),
    "scatter_add_": lambda m, s: (1, m.tensor(REPEATS), s),
    "scatter_reduce_": lambda m, s: (1, m.tensor(REPEATS), s, "amax"),
    "index_add_": lambda m, s: (1, m.tensor([4, 0, 4, 4]), s),
    "index_copy_": lambda m, s: (1, m.tensor([4, 0, 2, 1]), s),
    "index_fill_": lambda m, s: (1, m.tensor([4, 0, 4]), -1.0),
    "index_put_": lambda m, s: ((m.tensor([2, 0]), m.tensor([1, 3])), s[0, :2]),
    "index_put_accumulate": lambda m, s: ((m.tensor([2, 2, 0]), m.tensor([1, 1, 3])), s[0, :3],
                                          True),
    "masked_fill_": lambda m, s: (m.tensor(MASK), 0.25),
    "masked_fill_tensor": lambda m, s: (m.tensor(MASK[0]), s[1, 2]),
    "masked_scatter_": lambda m, s: (m.tensor(MASK), s),
}


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_forms_match_torch(name):
    method = name if name.endswith("_") else {
        "scatter_value": "scatter_", "index_put_accumulate": "index_put_",
        "masked_fill_tensor": "masked_fill_"}[name]
    results = []
    for m in (ember, torch):
        x = m.tensor(X, requires_grad=True)
        s = m.tensor(SRC, requires_grad=True)
        y = x * 1
        out = getattr(y, method)(*INPLACE[name](m, s))
        assert out is y
        (y * m.tensor(X + 1)).sum().backward()
        results.append([y.detach().numpy().copy(), x.grad.numpy(),
                        None if s.grad is None else s.grad.numpy()])
    for a, b in zip(*results):
        if b is None:
            assert a is None or not a.any()
        else:
            np.testing.assert_allclose(a, b, atol=1e-12)


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_forms_without_grad_and_version(name):
    method = name if name.endswith("_") else {
        "scatter_value": "scatter_", "index_put_accumulate": "index_put_",
        "masked_fill_tensor": "masked_fill_"}[name]
    results = []
    for m in (ember, torch):
        x, s = m.tensor(X), m.tensor(SRC)
        getattr(x, method)(*INPLACE[name](m, s))
        results.append(x.numpy())
    np.testing.assert_allclose(results[0], results[1])


def test_inplace_form_on_saved_tensor_breaks_backward():
    x = ember.tensor(X, requires_grad=True)
    y = x.exp()
    y.masked_fill_(ember.tensor(MASK), 0.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_form_on_leaf_is_refused():
    x = ember.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.index_fill_(0, ember.tensor([0]), 1.0)
    with ember.no_grad():
        x.index_fill_(0, ember.tensor([0]), 1.0)
    assert x[0].tolist() == [1.0] * 5


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("dtype", [np.int64, np.float32])
def test_scatter_reduce_dtypes_match_torch(reduce, include_self, dtype):
    results = []
    for m in (ember, torch):
        x = m.tensor(np.array([[5, -7, 9, 1], [2, 0, -3, 8]], dtype=dtype))
        s = m.tensor(np.array([[2, 3, -4], [-1, 6, 6]], dtype=dtype))
        i = m.tensor([[0, 0, 1], [3, 3, 3]])
        r = m.scatter_reduce(x, 1, i, s, reduce, include_self=include_self)
        results.append((r.numpy(), str(r.dtype).split(".")[-1]))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_gradient_with_zeros(include_self):
    results = []
    for m in (ember, torch):
        x = m.tensor([[2.0, 0.0, 3.0, 1.5], [0.0, 0.0, 5.0, 1.0]], requires_grad=True)
        s = m.tensor([[4.0, 0.0, 0.5, 2.0], [0.0, 3.0, 2.0, 0.0]], requires_grad=True)
        i = m.tensor([[0, 1, 1, 2], [3, 0, 3, 1]])
        y = m.scatter_reduce(x, 1, i, s, "prod", include_self=include_self)
        gx, gs = m.autograd.grad((y * m.tensor(X[:2, :4])).sum(), (x, s))
        results.append((y.detach().numpy(), gx.numpy(), gs.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_scatter_reduce_amax_shares_gradient_among_ties():
    results = []
    for m in (ember, torch):
        x = m.tensor([1.0, 3.0, 2.0], requires_grad=True)
        s = m.tensor([3.0, 3.0, 0.5, 2.0], requires_grad=True)
        y = m.scatter_reduce(x, 0, m.tensor([1, 1, 0, 2]), s, "amax")
        y.sum().backward()
        results.append((x.grad.tolist(), s.grad.tolist()))
    assert results[0] == results[1]


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
def test_scatter_with_reduce_keyword():
    for reduce in ("add", "multiply"):
        results = []
        for m in (ember, torch):
            x = m.tensor(X)
            r1 = x.scatter(1, m.tensor(REPEATS), m.tensor(SRC), reduce=reduce)
            r2 = x.scatter(1, m.tensor(REPEATS), 1.5, reduce=reduce)
            r3 = x.clone().scatter_(1, m.tensor(REPEATS), m.tensor(SRC), reduce=reduce)
            results.append([r1.numpy(), r2.numpy(), r3.numpy()])
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b)


def test_scatter_with_larger_src_has_a_numerical_gradient():
    x = ember.tensor(X, requires_grad=True)
    s = ember.tensor(np.ones((4, 5)), requires_grad=True)
    index = ember.tensor([[0, 3], [4, 1], [2, 0]])
    assert ember.testing.gradcheck(lambda a, b: a.scatter(1, index, b), (x, s))
    assert ember.testing.gradgradcheck(lambda a, b: a.scatter_add(1, index, b), (x, s))


def test_masked_fill_integer_and_broadcast_results():
    results = []
    for m in (ember, torch):
        x = m.arange(4)
        a = x.masked_fill(m.tensor([[True], [False]]), 2.7)
        b = x.float().masked_fill(m.tensor([True, False, True, False]), m.tensor(-1.0))
        results.append([(r.tolist(), str(r.dtype).split(".")[-1]) for r in (a, b)])
    assert results[0] == results[1]


def test_index_fill_value_gradient_counts_each_position_once():
    results = []
    for m in (ember, torch):
        v = m.tensor(2.0, requires_grad=True)
        y = m.zeros(3, 4).index_fill(1, m.tensor([0, 0, 2]), v)
        y.sum().backward()
        z = m.zeros(3, 4).index_fill(1, m.tensor([-1, 3]), 1.5)
        results.append((y.tolist(), v.grad.item(), z.tolist()))
    assert results[0] == results[1]


@pytest.mark.parametrize("call, error, text", [
    (lambda m, x: x.scatter(1, m.tensor([[7]]), 1.0), IndexError,
     "scatter: index 7 is out of bounds for dimension 1 with size 5"),
    (lambda m, x: x.scatter_add(0, m.tensor([[3]]), m.ones(1, 1)), IndexError,
     "scatter_add: index 3 is out of bounds for dimension 0 with size 3"),
    (lambda m, x: x.index_add(1, m.tensor([9]), m.ones(3, 1)), IndexError,
     "index_add: index 9 is out of bounds for dimension 1 with size 5"),
    (lambda m, x: x.index_copy(1, m.tensor([5]), m.ones(3, 1)), IndexError,
     "index_copy: index 5 is out of bounds"),
    (lambda m, x: x.index_fill(0, m.tensor([-4]), 1.0), IndexError,
     "index_fill: index -4 is out of bounds for dimension 0 with size 3"),
    (lambda m, x: x.index_put((m.tensor([1]), m.tensor([6])), m.tensor(1.0)), IndexError,
     "index_put: index 6 is out of bounds for dimension 1 with size 5"),
    (lambda m, x: x.scatter(1, m.tensor([[1.0]]), 1.0), RuntimeError, "int64 or int32"),
    (lambda m, x: x.index_put((m.tensor([1.0]),), m.tensor(1.0)), IndexError,
     "long, int, byte or bool"),
    (lambda m, x: x.scatter(1, m.tensor([[1]]), m.ones(1, 1, dtype=m.float64)), RuntimeError,
     "same dtype"),
    (lambda m, x: x.index_add(1, m.tensor([1]), m.ones(3, 2)), RuntimeError, "does not fit"),
    (lambda m, x: x.masked_fill(m.ones(5), 1.0), RuntimeError, "bool tensor for mask"),
    (lambda m, x: x.masked_fill(m.ones(5, dtype=m.bool), m.ones(1)), RuntimeError,
     "0-dimensional value tensor"),
    (lambda m, x: x.masked_fill_(m.ones(2, 3, 5, dtype=m.bool), 1.0), RuntimeError,
     "cannot be broadcast"),
    (lambda m, x: x.masked_scatter(m.ones(5, dtype=m.bool), m.ones(4)), RuntimeError,
     "number of elements of source"),
    (lambda m, x: x.scatter_reduce(1, m.tensor([[1]]), m.ones(1, 1), "avg"), RuntimeError,
     "reduce argument"),
])
def test_errors(call, error, text):
    with pytest.raises(error) as info:
        call(ember, ember.zeros(3, 5))
    assert text in str(info.value) and "test_scatter.py:" in str(info.value)
    with pytest.raises((RuntimeError, IndexError)):
        call(torch, torch.zeros(3, 5))


def test_inplace_on_expanded_view_is_refused():
    x = ember.zeros(3).expand(2, 3)
    with pytest.raises(RuntimeError, match="read-only"):
        x.masked_fill_(ember.ones(2, 3, dtype=ember.bool), 1.0)
