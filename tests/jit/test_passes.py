"""Graph passes: what each removes, merges, folds, fuses or plans; the outputs stay the
same; the input graph is left untouched; random ops are never merged, folded or fused."""

import numpy as np
import pytest

import ember
import ember.jit
from ember.jit.graph import Graph, Node, Value
from ember.jit.interpreter import run
from ember.jit.ops import lookup, op_names
from ember.jit.passes import (
    FusedElementwise,
    PlannedGraph,
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_constants,
    fuse_elementwise,
    optimize,
    plan_memory,
)
from ember.jit.passes._elementwise import FUSABLE

PASSES = [eliminate_dead_code, eliminate_common_subexpressions, fold_constants,
          fuse_elementwise, plan_memory, optimize]


def _trace(fn, *inputs):
    return ember.jit.trace(fn, inputs, check=False).graph


def _snapshot(graph):
    """Everything a pass could change in place."""
    return (str(graph), graph.out_spec, [(id(n), n.kind, n.target, [id(v) for v in n.inputs],
                                          dict(n.params), [id(v) for v in n.outputs])
                                         for n in graph.nodes])


def _targets(graph):
    return [n.target for n in graph.of_kind("call")]


def _same_outputs(before, after, *inputs, params=None):
    ember.manual_seed(0)
    want = run(before, inputs, params or {})
    ember.manual_seed(0)
    got = run(after, inputs, params or {})
    for w, g in zip(_tuple(want), _tuple(got)):
        np.testing.assert_allclose(g.detach().numpy(), w.detach().numpy(), rtol=1e-6, atol=1e-6)


def _tuple(x):
    return x if isinstance(x, (tuple, list)) else (x,)


def _mixed(x, b):
    """Dead code, repeats, constant subexpressions and an elementwise chain."""
    c = ember.tensor([1.0, 2.0, 3.0, 4.0])
    unused = x.exp()  # noqa: F841 - dead on purpose
    y = (x + b).relu() * c.exp()
    return y.sigmoid() + (x * 2).tanh() + (x * 2).tanh()


@pytest.mark.parametrize("graph_pass", PASSES, ids=lambda p: p.__name__)
def test_passes_leave_the_input_graph_untouched_and_outputs_unchanged(graph_pass):
    x, b = ember.randn(3, 4), ember.randn(4)
    graph = _trace(_mixed, x, b)
    before = _snapshot(graph)
    result = graph_pass(graph)
    assert _snapshot(graph) == before
    assert result is not graph and isinstance(result, Graph)
    assert not {id(n) for n in result.nodes} & {id(n) for n in graph.nodes}
    _same_outputs(graph, result, x, b)


# ---- dead code ---------------------------------------------------------------------------

class _Module(ember.nn.Module):
    """Runs ``fn(self, x)``, so that the tensors of ``lin`` and ``other`` are parameters."""

    def __init__(self, fn):
        super().__init__()
        self.lin, self.other = ember.nn.Linear(4, 4), ember.nn.Linear(4, 4)
        self.fn = fn

    def forward(self, x):
        return self.fn(self, x)


def test_dead_code_drops_unused_calls_constants_and_parameters():
    def f(m, x):
        m.other(x).sum()  # a whole unused branch, with its parameters
        (x * ember.tensor(3.0)).exp()
        return m.lin(x).relu()

    traced = ember.jit.trace(_Module(f), ember.randn(2, 4), check=False)
    graph = traced.graph
    assert len(graph.of_kind("parameter")) == 4 and graph.of_kind("constant")
    pruned = eliminate_dead_code(graph)
    assert _targets(pruned) == ["Linear", "Relu"]
    assert sorted(n.target for n in pruned.of_kind("parameter")) == ["lin.bias", "lin.weight"]
    assert not pruned.of_kind("constant")
    assert [v.name for v in pruned.inputs] == [v.name for v in graph.inputs]
    _same_outputs(graph, pruned, ember.randn(2, 4), params=dict(traced.named_parameters()))


def test_dead_code_keeps_random_ops_and_side_effects():
    def f(x):
        ember.nn.functional.rrelu(x, training=True)  # unused, but it advances the generator
        return x + 1

    graph = _trace(f, ember.randn(5))
    assert "RreluTrain" in _targets(eliminate_dead_code(graph))

    def g(x):  # the same inside a branch: the branch node stays
        ember.cond(x.sum() > 0, lambda a: ember.nn.functional.rrelu(a, training=True),
                   lambda a: a * 2, (x,))
        ember.cond(x.sum() > 0, lambda a: a.exp(), lambda a: a * 2, (x,))
        return x + 1

    assert _targets(eliminate_dead_code(_trace(g, ember.randn(5)))).count("cond") == 1
    v = Value("x", (2,), np.float32)
    effect = Graph([Node("input", "x", outputs=[v]), Node("call", "backward", [v], {}, []),
                    Node("output", inputs=[v])])
    assert _targets(eliminate_dead_code(effect)) == ["backward"]


# ---- common subexpressions -------------------------------------------------------------------

def test_cse_merges_repeats_with_equal_params_only():
    def f(x):
        return x.exp() + x.exp() + x.sum(0) + x.sum(0) + x.sum(1, keepdim=True)

    x = ember.randn(3, 3)
    graph = _trace(f, x)
    merged = eliminate_common_subexpressions(graph)
    assert _targets(graph).count("Exp") == 2 and _targets(merged).count("Exp") == 1
    assert _targets(graph).count("Sum") == 3 and _targets(merged).count("Sum") == 2
    _same_outputs(graph, merged, x)


def test_cse_merges_equal_constants():
    graph = _trace(lambda x: x * 2 + x * 2, ember.randn(3))
    merged = eliminate_common_subexpressions(graph)
    assert len(graph.of_kind("constant")) == 2 and len(merged.of_kind("constant")) == 1
    assert _targets(merged) == ["Mul", "Add"]


def test_cse_never_merges_random_ops():
    def f(x):
        r = ember.nn.functional.rrelu
        return r(x, training=True) - r(x, training=True)

    x = -ember.rand(1000) - 0.5
    graph = _trace(f, x)
    merged = eliminate_common_subexpressions(graph)
    assert _targets(merged).count("RreluTrain") == 2
    ember.manual_seed(1)
    out = run(merged, (x,), {})
    assert float(out.abs().max()) > 0  # two different draws


def test_cse_does_not_merge_across_a_side_effect():
    x = Value("x", (2,), np.float32)
    a, b = Value("a", (2,), np.float32), Value("b", (2,), np.float32)
    graph = Graph([Node("input", "x", outputs=[x]), Node("call", "Exp", [x], {}, [a]),
                   Node("call", "optimizer_step", [], {}, []),
                   Node("call", "Exp", [x], {}, [b]), Node("output", inputs=[a, b])])
    assert _targets(eliminate_common_subexpressions(graph)) == ["Exp", "optimizer_step", "Exp"]


# ---- constant folding ---------------------------------------------------------------------

def test_fold_constants_precomputes_calls_on_constants():
    c = ember.tensor([[1.0, 2.0], [3.0, 4.0]])

    def f(x):
        return x + (c.exp() * 2).sum(0)

    x = ember.randn(2)
    graph = _trace(f, x)
    folded = fold_constants(graph)
    assert _targets(folded) == ["Add"]
    const = [n for n in folded.nodes if n.kind == "constant" and n.outputs[0].shape == (2,)]
    np.testing.assert_allclose(const[0].params["value"], (np.exp(c.numpy()) * 2).sum(0),
                               rtol=1e-6)
    _same_outputs(graph, folded, x)


def test_fold_constants_leaves_parameters_large_results_and_random_ops():
    small = ember.tensor(1.5)

    def f(m, x):
        big = small.expand(100, 100)  # folding would store 10,000 numbers for one
        noisy = ember.nn.functional.rrelu(-small.expand(8), training=True)
        return m.lin(x).sum() + m.lin.weight.exp().sum() + big.sum() + noisy.sum()

    traced = ember.jit.trace(_Module(f), ember.randn(3, 4), check=False)
    folded = fold_constants(traced.graph)
    targets = _targets(folded)
    assert "Exp" in targets and "Linear" in targets  # parameters are not constants
    assert "Expand" in targets and "RreluTrain" in targets
    assert "Neg" not in targets  # -small.expand(8) is small: folded
    _same_outputs(traced.graph, folded, ember.randn(3, 4),
                  params=dict(traced.named_parameters()))


# ---- fusion --------------------------------------------------------------------------------

def test_fuse_elementwise_makes_one_node_that_prints_its_expression():
    def f(x, b):
        return ((x + b).relu() * 2).sigmoid()

    x, b = ember.randn(3, 4), ember.randn(4)
    graph = _trace(f, x, b)
    fused = fuse_elementwise(graph)
    assert _targets(fused) == ["FusedElementwise"]
    node = fused.of_kind("call")[0]
    assert [v.name for v in node.inputs] == ["x0", "x1", "c2"]
    assert "body=sigmoid(relu(%x0 + %x1) * %c2)" in str(fused)
    _same_outputs(graph, fused, x, b)


def test_fused_graph_keeps_gradients():
    def f(x, b):
        return ((x * b).tanh() - x).exp()

    x, b = ember.randn(3, 4, dtype=ember.float64), ember.randn(4, dtype=ember.float64)
    fused = fuse_elementwise(_trace(f, x, b))
    xs = [t.clone().requires_grad_() for t in (x, b)]
    ys = [t.clone().requires_grad_() for t in (x, b)]
    run(fused, xs, {}).sum().backward()
    f(*ys).sum().backward()
    for a, e in zip(xs, ys):
        np.testing.assert_allclose(a.grad.numpy(), e.grad.numpy(), rtol=1e-12)


def test_fusion_stops_at_shared_values_graph_outputs_and_random_ops():
    def f(x):
        shared = x.exp()                  # read by two ops: computed once, not fused
        out = (x + 1).relu()              # a result of the graph: stays a value
        r = ember.nn.functional.rrelu(x, training=True).sin()
        return shared * 2 + shared.sin(), out, out.neg(), r

    graph = _trace(f, ember.randn(6))
    fused = fuse_elementwise(graph)
    targets = _targets(fused)
    assert {"Exp", "RreluTrain", "Sin", "Neg"} <= set(targets)
    bodies = [n.params["body"] for n in fused.of_kind("call") if n.target == "FusedElementwise"]
    assert sorted(sorted(_targets(b)) for b in bodies) == [["Add", "Mul", "Sin"], ["Add", "Relu"]]
    outputs = [v.name for v in fused.outputs]
    assert outputs == [v.name for v in graph.outputs]
    _same_outputs(graph, fused, ember.randn(6))


def test_fused_op_is_in_the_op_table():
    assert "FusedElementwise" in op_names()
    assert lookup("FusedElementwise") is FusedElementwise
    missing = FUSABLE - set(op_names())
    assert not missing, f"fusable names that are no op: {sorted(missing)}"


# ---- memory plan ---------------------------------------------------------------------------

def test_plan_memory_reuses_dead_buffers_of_elementwise_ops():
    lin = ember.nn.Linear(3, 3)
    graph = _trace(lambda x: lin(x).relu().exp(), ember.randn(2, 3))
    planned = plan_memory(graph)
    assert isinstance(planned, PlannedGraph)
    steps = {n.target: planned.plan[id(n)] for n in planned.of_kind("call")}
    assert steps["Linear"].reuse is None
    assert steps["Relu"].reuse == 0 and steps["Exp"].reuse == 0
    line = next(s for s in str(planned).split("\n") if "= Relu(" in s)
    assert line.endswith("# in place of input 0; frees " + line.split("Relu(")[1].split(")")[0])


def test_plan_memory_never_overwrites_inputs_parameters_constants_or_outputs():
    lin = ember.nn.Linear(3, 3)

    def f(x):
        y = x.relu()               # x is the caller's array
        z = lin.weight.exp()       # a parameter
        c = ember.tensor([1.0, 2.0, 3.0]).neg()  # a constant
        kept = lin(y) + 1          # returned: its buffer must stay
        return kept, kept.tanh(), z, c

    planned = plan_memory(_trace(f, ember.randn(3, 3)))
    reused = [n.target for n in planned.of_kind("call") if planned.plan[id(n)].reuse is not None]
    assert reused == ["Add"]  # only into Linear's own buffer


def test_plan_memory_keeps_buffers_alive_while_a_view_is():
    def f(x):
        a = x * 2
        view = a.reshape(12)       # shares a's memory
        b = a.exp()                # a's last direct use, but the view lives on
        return (b + a).reshape(12) + view

    x = ember.randn(3, 4)
    planned = plan_memory(_trace(f, x))
    exp, add, _ = [n for n in planned.of_kind("call") if n.target in ("Exp", "Add")]
    assert planned.plan[id(exp)].reuse is None
    assert planned.plan[id(add)].reuse == 0  # b's buffer, not a's


def test_optimize_runs_every_pass():
    graph = _trace(_mixed, ember.randn(3, 4), ember.randn(4))
    best = optimize(graph)
    assert isinstance(best, PlannedGraph)
    targets = _targets(best)
    assert "Exp" not in targets  # dead or folded
    assert targets.count("FusedElementwise") >= 1
    assert len(targets) < len(_targets(graph))
