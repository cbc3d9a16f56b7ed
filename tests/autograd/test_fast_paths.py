"""The engine's and the ops' fast paths keep PyTorch's semantics.

NOTE [op overhead] in ember/autograd/node.py explains why these paths exist; each case
here takes one of them and checks the result against PyTorch: retained graphs whose
nodes reuse buffers on the first backward, scalar gradients accumulated in place, a
reduction over nothing, outputs that are leaves of another graph.
"""

import numpy as np
import pytest
import torch

import ember

F = {"ember": ember.nn.functional, "torch": torch.nn.functional}


def _both(fn, *arrays):
    """``fn(lib, *tensors)`` for ember and torch on leaf copies of ``arrays``; the leaves."""
    out = {}
    for name, lib in (("ember", ember), ("torch", torch)):
        leaves = [lib.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
        out[name] = (fn(lib, F[name], *leaves), leaves)
    return out


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_backward_twice_through_a_retained_graph(reduction):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 5)), rng.integers(0, 5, 6)
    runs = _both(lambda lib, f, x, y: f.cross_entropy(x * 2, y, reduction=reduction), x, y)
    for loss, leaves in runs.values():
        grad = None if reduction != "none" else type(loss)(np.ones(6))
        loss.backward(grad, retain_graph=True)
        loss.backward(grad)
    np.testing.assert_allclose(runs["ember"][1][0].grad.numpy(),
                               runs["torch"][1][0].grad.numpy(), rtol=1e-12)


def test_relu_and_arithmetic_backward_twice_through_a_retained_graph():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    runs = _both(lambda lib, f, a, b: (f.relu(a * b + a) * b).sum(), a, b)
    for loss, _ in runs.values():
        loss.backward(retain_graph=True)
        loss.backward()
    for e, t in zip(runs["ember"][1], runs["torch"][1]):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scalar_leaves_accumulate_like_torch(dtype):
    values = [np.array(v, dtype=dtype) for v in (1.5, -2.0, 3.0)]
    runs = _both(lambda lib, f, a, b, c: (a, b, c), *values)
    for (a, b, c), _ in runs.values():
        for _ in range(3):
            ((a * b + c).sum()).backward()
    for e, t in zip(runs["ember"][0], runs["torch"][0]):
        assert e.grad.shape == t.grad.shape == ()
        assert str(e.grad.dtype).split(".")[-1] == dtype
        np.testing.assert_array_equal(e.grad.numpy(), t.grad.numpy())


def test_accumulating_a_scalar_gradient_never_writes_into_another_tensor():
    a = ember.tensor(2.0, requires_grad=True)
    b = ember.tensor(3.0, requires_grad=True)
    (a + b).backward()
    first_a, first_b = a.grad, b.grad
    assert first_a._data is not first_b._data  # one array each, though add passed one on
    (a + b).backward()
    assert first_a.item() == first_b.item() == 2.0


def test_sum_of_a_scalar_is_a_new_tensor_with_a_gradient():
    x = ember.tensor(4.0, requires_grad=True)
    s = x.sum()
    assert s._data is not x._data and not np.shares_memory(s._data, x._data)
    s.backward()
    assert x.grad.item() == 1.0


@pytest.mark.parametrize("shape, dim", [((3, 4), None), ((3, 4), 1), ((2, 3, 4), (0, 2))])
def test_sum_backward_broadcasts_like_torch(shape, dim):
    x = np.random.default_rng(2).standard_normal(shape)
    runs = _both(lambda lib, f, x: (x.sum() if dim is None else x.sum(dim)) * 3, x)
    for out, _ in runs.values():
        out.backward(type(out)(np.ones(out.shape)))
    np.testing.assert_array_equal(runs["ember"][1][0].grad.numpy(),
                                  runs["torch"][1][0].grad.numpy())


def test_parameters_as_leaves_take_the_inline_path():
    w = ember.nn.Parameter(ember.tensor([1.0, 2.0]))
    (w * w).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [5.0, 7.0])


def test_ops_under_a_profiler_still_record_the_graph():
    from ember.profiler import profile

    x = ember.tensor([1.0, -2.0], requires_grad=True)
    with profile() as prof:
        y = (ember.relu(x) * x).sum()
        y.backward()
    names = [e.name for e in prof.events()]
    assert "relu" in names and "mul" in names
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0])
