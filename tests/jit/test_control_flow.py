"""ember.cond / ember.while_loop: eager equals PyTorch, traced equals eager, named errors."""

import numpy as np
import pytest
import torch

import ember
import ember.jit
from ember import nn
from ember.jit import TraceError
from ember.jit.interpreter import run
from ember.jit.ops import lookup, op_names
from ember.testing import gradcheck


def _both(fn, *arrays):
    """``fn(lib, *tensors)`` for ember and torch on the same float64 arrays."""
    return (fn(ember, *[ember.tensor(a) for a in arrays]),
            fn(torch, *[torch.tensor(a) for a in arrays]))


def _np(out):
    if isinstance(out, (tuple, list)):
        return [_np(o) for o in out]
    return out.detach().numpy()


def _cond_fn(lib, x, y):
    return lib.cond(x.sum() > 0, lambda a, b: (a * b).sin(), lambda a, b: a - b.exp(), (x, y))


def _loop_fn(lib, x):
    def body(i, s):
        return i + 1, s * 1.5 + x
    return lib.while_loop(lambda i, s: (i < 6) & (s.sum() < 50), body,
                          (lib.tensor(0), lib.zeros_like(x)))


# ---- eager --------------------------------------------------------------------------

@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_eager_cond_equals_torch(sign):
    x = sign * np.abs(np.random.default_rng(0).normal(size=(3, 4))) + 0.1 * sign
    y = np.random.default_rng(1).normal(size=(3, 4))
    mine, ref = _both(_cond_fn, x, y)
    np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-12)


@pytest.mark.parametrize("scale", [0.1, 3.0])
def test_eager_while_loop_equals_torch(scale):
    x = scale * np.abs(np.random.default_rng(2).normal(size=5))
    mine, ref = _both(_loop_fn, x)
    assert isinstance(mine, tuple) and len(mine) == 2
    assert int(mine[0]) == int(ref[0])
    np.testing.assert_allclose(mine[1].numpy(), ref[1].numpy(), rtol=1e-12)


def test_eager_cond_gradients_equal_torch():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(2, 3)) + 1.0, rng.normal(size=(2, 3))
    grads = []
    for lib in (ember, torch):
        a = lib.tensor(x, requires_grad=True)
        b = lib.tensor(y, requires_grad=True)
        _cond_fn(lib, a, b).sum().backward()
        grads.append((a.grad.numpy(), b.grad.numpy()))
    for mine, ref in zip(*grads):
        np.testing.assert_allclose(mine, ref, rtol=1e-12)


def test_eager_cond_and_loop_pass_gradcheck():
    x = ember.tensor(np.random.default_rng(4).normal(size=4), requires_grad=True)
    y = ember.tensor(np.random.default_rng(5).normal(size=4), requires_grad=True)
    assert gradcheck(lambda a, b: _cond_fn(ember, a, b), (x, y))
    assert gradcheck(lambda a, b: _cond_fn(ember, -a, b), (x, y))
    assert gradcheck(lambda a: _loop_fn(ember, a)[1], (x,))


def test_python_bool_pred_and_bad_arguments():
    x = ember.ones(2)
    assert ember.cond(False, lambda t: t + 1, lambda t: t - 1, (x,)).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match=r"cond: pred must have one element, got shape \(2,\)"):
        ember.cond(x > 0, lambda t: t, lambda t: t, (x,))
    with pytest.raises(TypeError, match=r"operands\[1\] must be a Tensor, got int"):
        ember.cond(True, lambda t, k: t, lambda t, k: t, (x, 3))
    with pytest.raises(TypeError, match="carried_inputs must be a tuple or list"):
        ember.while_loop(lambda t: t.sum() < 3, lambda t: (t + 1,), x)


def test_names_are_exposed():
    assert ember.cond is ember.jit.cond and ember.while_loop is ember.jit.while_loop
    assert {"cond", "while_loop"} <= set(dir(ember))
    assert {"cond", "while_loop"} <= set(op_names())
    assert lookup("cond") is ember.cond and lookup("while_loop") is ember.while_loop


# ---- traced -------------------------------------------------------------------------

class Gate(nn.Module):
    """A module whose forward branches on its input and loops: needs ember.cond."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.scale = nn.Parameter(ember.tensor(0.5))

    def forward(self, x):
        y = ember.cond(x.mean() > 0, lambda t: self.fc(t).tanh(), lambda t: t * self.scale, (x,))

        def body(i, s):
            return i + 1, s + y * self.scale
        _, s = ember.while_loop(lambda i, s: (i < 3) & (s.abs().sum() < 40), body,
                                (ember.tensor(0), y))
        return s


def _inputs():
    rng = np.random.default_rng(6)
    return [ember.tensor(rng.normal(size=(2, 4)).astype(np.float32) + shift)
            for shift in (2.0, -2.0, 0.3, -0.3, 8.0)]


def test_traced_cond_records_one_node_with_two_subgraphs():
    ember.manual_seed(0)
    model = Gate()
    traced = ember.jit.trace(model, _inputs()[0], check=False)
    (node,) = [n for n in traced.graph.nodes if n.target == "cond"]
    true_graph, false_graph = node.params["branches"]
    assert node.inputs[0].dtype == np.bool_ and node.inputs[0].shape == ()
    assert len(true_graph.inputs) == len(false_graph.inputs) == len(node.inputs) - 1
    assert [v.shape for v in true_graph.outputs] == [v.shape for v in false_graph.outputs]
    assert "Linear" in str(true_graph) and "Linear" not in str(false_graph)
    (loop,) = [n for n in traced.graph.nodes if n.target == "while_loop"]
    test, body = loop.params["cond_graph"], loop.params["body_graph"]
    assert [v.dtype for v in test.outputs] == [np.dtype(bool)]
    assert len(body.outputs) == len(body.inputs) == len(loop.inputs)


def test_traced_equals_eager_on_both_branches_and_loop_lengths():
    ember.manual_seed(0)
    model = Gate()
    traced = ember.jit.trace(model, _inputs()[0], check=False)
    trips = set()
    for x in _inputs():
        expected = model(x)
        np.testing.assert_allclose(traced(x).detach().numpy(), expected.detach().numpy(),
                                   rtol=1e-6, atol=1e-6)
        with ember.no_grad():
            np.testing.assert_allclose(traced(x).numpy(), expected.detach().numpy(),
                                       rtol=1e-6, atol=1e-6)
        trips.add(bool(x.mean() > 0))
    assert trips == {True, False}


def test_gradients_through_traced_cond_equal_eager():
    ember.manual_seed(0)
    model = Gate()
    traced = ember.jit.trace(model, _inputs()[0], check=False)
    for x in _inputs()[:2]:
        grads = []
        for fn in (model, traced):
            model.zero_grad()
            fn(x).square().sum().backward()
            grads.append({k: p.grad.numpy().copy() for k, p in model.named_parameters()
                          if p.grad is not None})
        assert grads[0].keys() == grads[1].keys() and grads[0]
        for k in grads[0]:
            np.testing.assert_allclose(grads[1][k], grads[0][k], rtol=1e-5, atol=1e-6)


def test_interpreter_runs_cond_by_the_pred_at_run_time():
    traced = ember.jit.trace(lambda x, p: ember.cond(p, lambda t: t * 2, lambda t: t - 1, (x,)),
                             (ember.ones(3), ember.tensor(True)), check=False)
    x = ember.tensor([1.0, 2.0, 3.0])
    assert run(traced.graph, [x, ember.tensor(True)], {}).tolist() == [2.0, 4.0, 6.0]
    assert run(traced.graph, [x, ember.tensor(False)], {}).tolist() == [0.0, 1.0, 2.0]


def test_nested_cond_in_while_reads_outer_values():
    def fn(x, limit):
        def body(i, s):
            s = ember.cond(s.sum() > 0, lambda u: u - x, lambda u: u + 2 * x, (s,))
            return i + 1, s
        return ember.while_loop(lambda i, s: i < limit, body, (ember.tensor(0), x))[1]

    x0 = ember.tensor([0.5, -1.0, 2.0])
    traced = ember.jit.trace(fn, (x0, ember.tensor(4)), check=False)
    rng = np.random.default_rng(7)
    for limit in (0, 1, 5):
        x = ember.tensor(rng.normal(size=3).astype(np.float32))
        np.testing.assert_allclose(traced(x, ember.tensor(limit)).numpy(),
                                   fn(x, ember.tensor(limit)).numpy(), rtol=1e-6)


def test_branch_returning_its_operand_does_not_rebind_it():
    def fn(x):
        y = ember.cond(x.sum() > 0, lambda t: t, lambda t: -t, (x,))
        return x * 10 + y

    traced = ember.jit.trace(fn, ember.ones(2), check=False)
    x = ember.tensor([-1.0, -2.0])
    assert traced(x).tolist() == fn(x).tolist() == [-9.0, -18.0]


def test_python_bool_pred_under_trace_is_static():
    traced = ember.jit.trace(lambda x: ember.cond(True, lambda t: t + 1, lambda t: t, (x,)),
                             ember.ones(2), check=False)
    assert "cond" not in [n.target for n in traced.graph.nodes]


# ---- errors while tracing -----------------------------------------------------------

def test_branches_with_other_shapes_name_both():
    fn = lambda x: ember.cond(x.sum() > 0, lambda t: t * 2, lambda t: t[:2], (x,))
    with pytest.raises(TraceError, match=r"cond at test_control_flow.py:\d+: output 0 of "
                                         r"true_fn is float32\[3\] but output 0 of false_fn "
                                         r"is float32\[2\]"):
        ember.jit.trace(fn, ember.ones(3), check=False)


def test_branches_with_other_structures():
    fn = lambda x: ember.cond(x.sum() > 0, lambda t: (t, t), lambda t: t, (x,))
    with pytest.raises(TraceError, match="return different structures"):
        ember.jit.trace(fn, ember.ones(3), check=False)


def test_loop_body_changing_a_shape_is_named():
    def fn(x):
        return ember.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s[:2]),
                                (ember.tensor(0), x))
    with pytest.raises(TraceError, match=r"body_fn returns float32\[2\] for carried value 1, "
                                         r"which is float32\[3\]"):
        ember.jit.trace(fn, ember.ones(3), check=False)


def test_loop_body_returning_another_structure_is_named():
    def fn(x):
        return ember.while_loop(lambda i, s: i < 3, lambda i, s: ((i + 1, s),),
                                (ember.tensor(0), x))
    with pytest.raises(TraceError, match=r"body_fn must return a tuple of 2 tensors"):
        ember.jit.trace(fn, ember.ones(3), check=False)


def test_one_carried_value_may_come_back_bare():
    def fn(x):
        return ember.while_loop(lambda s: s.sum() < 20, lambda s: s * 2, (x,))[0]
    traced = ember.jit.trace(fn, ember.ones(3), check=False)
    x = ember.tensor([0.5, 1.0, 2.0])
    assert traced(x).tolist() == fn(x).tolist() == [4.0, 8.0, 16.0]


def test_python_if_inside_a_branch_points_to_ember_cond():
    def branch(t):
        return t if t.sum() > 0 else -t

    fn = lambda x: ember.cond(x.sum() > 0, branch, lambda t: t, (x,))
    with pytest.raises(TraceError, match=r"bool\(tensor\) at test_control_flow.py:\d+ .*"
                                         r"ember.cond\(pred, true_fn, false_fn"):
        ember.jit.trace(fn, ember.ones(3), check=False)
