"""ember.jit.trace: graphs equal to eager for the zoo, named errors for what a trace cannot be."""

import numpy as np
import pytest

import ember
import ember.jit
import ember.nn.functional as F
from ember import nn
from ember.jit import GraphInputError, TraceError
from tests.jit.zoo import zoo


ZOO = zoo()


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_trace_equals_eager_on_new_inputs(name):
    model, example = ZOO[name]
    model.eval()
    traced = ember.jit.trace(model, example)
    ember.manual_seed(1)
    other = (ember.randint(0, int(example.max()) + 1, tuple(example.shape))
             if example.dtype == ember.int64 else ember.randn(*example.shape))
    with ember.no_grad():
        expected = _first(model(other))
        got = _first(traced(other))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6)
    assert "parameter(" in str(traced.graph)


def test_traced_gradients_reach_the_modules_parameters():
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = ember.randn(5, 4), ember.randint(0, 3, (5,))
    traced = ember.jit.trace(net, x)
    F.cross_entropy(traced(x), y).backward()
    traced_grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    F.cross_entropy(net(x), y).backward()
    for got, p in zip(traced_grads, net.parameters()):
        np.testing.assert_allclose(got.numpy(), p.grad.numpy(), rtol=1e-6)
    assert [k for k, _ in traced.named_parameters()] == [k for k, _ in net.named_parameters()]


def test_graph_prints_like_python():
    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    text = str(ember.jit.trace(net, ember.ones(4, 3)).graph)
    assert text.splitlines() == [
        "graph(%x0: float32[4, 3]):",
        "    %0.weight: float32[2, 3] = parameter('0.weight')",
        "    %0.bias: float32[2] = parameter('0.bias')",
        "    %v0: float32[4, 2] = Linear(%x0, %0.weight, %0.bias)",
        "    %v1: float32[4, 2] = Relu(%v0)",
        "    return %v1",
    ]


def test_other_shape_or_dtype_raises_a_named_error():
    traced = ember.jit.trace(nn.Linear(3, 2), ember.ones(4, 3))
    with pytest.raises(GraphInputError, match=r"input 0 \(x0\) of shape \[4, 3\].*\[5, 3\]"):
        traced(ember.ones(5, 3))
    with pytest.raises(GraphInputError, match="dtype float32.*float64"):
        traced(ember.ones(4, 3, dtype=ember.float64))
    with pytest.raises(GraphInputError, match="traced with 1 inputs"):
        traced(ember.ones(4, 3), ember.ones(4, 3))


def test_dynamic_traces_once_per_shape():
    lin = nn.Linear(3, 2)
    traced = ember.jit.trace(lin, ember.ones(4, 3), dynamic=True)
    x = ember.randn(7, 3)
    np.testing.assert_allclose(traced(x).detach().numpy(), lin(x).detach().numpy())
    assert len(traced._graphs) == 2


def _branchy(x):
    if x.sum() > 0:  # the line the error must name
        return x * 2
    return x


@pytest.mark.parametrize("read", [
    lambda x: bool(x.sum() > 0), lambda x: x.sum().item(), lambda x: x.tolist(),
    lambda x: x.numpy(), lambda x: float(x.sum()),
])
def test_reading_traced_values_in_python_is_refused(read):
    def fn(x):
        read(x)
        return x + 1
    with pytest.raises(TraceError, match="computed from the inputs"):
        ember.jit.trace(fn, ember.randn(3))


def test_branch_error_names_the_users_line_and_the_fix():
    with pytest.raises(TraceError) as info:
        ember.jit.trace(_branchy, ember.randn(3))
    message = str(info.value)
    assert "test_trace.py:" in message and "ember.cond" in message


def test_values_leaking_into_op_arguments_are_caught_by_the_second_trace():
    table = ember.randn(10, 4)

    def leaky(idx):
        rows = idx.clone()
        return ember.ops.index.Take.apply(table, ix=_rows_ix(rows))

    with pytest.raises(TraceError, match="depends on the input values"):
        ember.jit.trace(leaky, ember.tensor([1, 2, 3]))
    # Marked functions (embedding, indexing with tensors) are recorded as one call instead.
    traced = ember.jit.trace(lambda idx: F.embedding(idx, table), ember.tensor([1, 2, 3]))
    np.testing.assert_array_equal(traced(ember.tensor([4, 0, 9])).numpy(),
                                  table.numpy()[[4, 0, 9]])


def _rows_ix(rows):
    from ember.ops._index_primitives import Ix

    return Ix(None, (rows._data,), False, "take")


def test_inplace_ops_are_followed():
    def fn(x):
        y = x * 1
        y.add_(1)
        y.relu_()
        return y * 2

    traced = ember.jit.trace(fn, ember.randn(5))
    x = ember.randn(5)
    np.testing.assert_allclose(traced(x).numpy(), fn(x).numpy())


def test_returned_structures_are_rebuilt():
    def fn(x):
        return {"double": x * 2, "pair": (x + 1, [x - 1]), "n": 3}

    out = ember.jit.trace(fn, ember.ones(2))(ember.full((2,), 5.0))
    assert out["n"] == 3
    np.testing.assert_array_equal(out["pair"][1][0].numpy(), [4.0, 4.0])


def test_examples_must_be_tensors():
    with pytest.raises(TypeError, match="example input 1 must be a Tensor"):
        ember.jit.trace(lambda a, b: a, (ember.ones(1), 3.0))
