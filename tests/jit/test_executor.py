"""The compiled executor: equal to the interpreter and to eager on models and on fused
chains (compiled loops and NumPy paths, checked against PyTorch), in-place buffer reuse,
control flow, and ``TracedModule`` choosing it when no gradient is needed."""

import numpy as np
import pytest
import torch

import ember
import ember.jit
from ember import models
from ember.jit.executor import compile_graph
from ember.jit.graph import Graph, Node, Value
from ember.jit.interpreter import rebuild, run
from ember.jit.passes import optimize
from ember.jit.passes._fused import FusedKernel

SMALL_GPT = {"vocab_size": 13, "max_len": 8, "d_model": 12, "n_heads": 3, "n_layers": 2,
             "d_ff": 20}


def _execute(graph, inputs, params=None, optimized=True):
    run_graph = compile_graph(optimize(graph) if optimized else graph)
    named = {k: t._data for k, t in (params or {}).items()}
    return rebuild(graph.out_spec, run_graph([t._data for t in inputs], named))


def _close(got, want, rtol=1e-5, atol=1e-6):
    got = got.numpy() if isinstance(got, ember.Tensor) else got
    want = want.detach().numpy() if isinstance(want, (ember.Tensor, torch.Tensor)) else want
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


# ---- models ------------------------------------------------------------------------------

MODELS = {
    "lenet5": (lambda: models.lenet5(), lambda: ember.randn(2, 1, 28, 28)),
    "resnet8": (lambda: models.resnet8(num_classes=3), lambda: ember.randn(2, 3, 16, 16)),
    "gpt": (lambda: models.gpt(**SMALL_GPT), lambda: ember.randint(0, 13, (2, 8))),
}


@pytest.mark.parametrize("name", MODELS)
def test_executor_matches_interpreter_and_eager_on_models(name, kernels):
    ember.manual_seed(0)
    build, example = MODELS[name]
    model, x = build().eval(), example()
    traced = ember.jit.trace(model, x, check=False)
    params = dict(traced._named_tensors())
    with ember.no_grad():
        want = model(x)
        interpreted = run(traced.graph, (x,), params)
    _close(interpreted, want, rtol=1e-6, atol=1e-7)
    _close(_execute(traced.graph, (x,), params, optimized=False), want, rtol=1e-6, atol=1e-7)
    _close(_execute(traced.graph, (x,), params), want)


def test_trace_with_check_then_executor():
    model = models.lenet5().eval()
    x = ember.randn(1, 1, 28, 28)
    traced = ember.jit.trace(model, x, check=True)
    with ember.no_grad():
        _close(traced(x), model(x))
        other = ember.randn(1, 1, 28, 28)
        _close(traced(other), model(other))


# ---- fused chains against PyTorch ------------------------------------------------------------

def _cheap_chain(lib, x, b, col, s):
    """Ops with a compiled form, with full, bias-like, column and scalar operands."""
    y = ((x + b) * col - s).relu() / (1 + s)
    y = lib.nn.functional.leaky_relu(y - 0.5, 0.2) + lib.nn.functional.hardtanh(x, -0.5, 0.5)
    y = (-y).abs().sqrt() * y ** 2 - b ** -1
    if y.dtype == lib.float64:  # erf has a compiled form in float64 only
        y = lib.nn.functional.gelu(y) + (y * b).erf()
    return y


def _costly_chain(lib, x, b, col, s):
    """Transcendentals: the NumPy path runs them, writing into one buffer."""
    y = ((x + b) * col).exp().log1p().sqrt() - (x - s).neg().sigmoid() + x.tanh() * x.sin()
    return lib.nn.functional.silu(y - x.cos()) + lib.nn.functional.gelu(y) + y.expm1() / 8


def _elu_chain(lib, x, b, col, s):
    """A chain with an op that has no compiled form: the NumPy path runs it."""
    return lib.nn.functional.elu((x * b - col).exp() - s) * 3 + 1


@pytest.mark.parametrize("fn", [_cheap_chain, _costly_chain, _elu_chain])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_chains_match_torch(fn, dtype, kernels):
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(-2, 2, (5, 6)), rng.uniform(0.5, 2, (6,)),
              rng.uniform(0, 2, (5, 1)), np.array(0.25)]
    arrays = [a.astype(dtype) for a in arrays]
    e_in = tuple(ember.from_numpy(a.copy()) for a in arrays)
    graph = ember.jit.trace(lambda *t: fn(ember, *t), e_in, check=False).graph
    fused = [FusedKernel(n.params["body"]) for n in optimize(graph).of_kind("call")
             if n.target == "FusedElementwise"]
    assert fused
    assert all((k.source is not None) == (fn is _cheap_chain) for k in fused)
    got = _execute(graph, e_in)
    want = fn(torch, *[torch.from_numpy(a.copy()) for a in arrays])
    tol = 1e-4 if dtype == np.float32 else 1e-10
    _close(got, want, rtol=tol, atol=tol)
    _close(got, fn(ember, *e_in), rtol=tol, atol=tol)


def test_fused_chain_writing_over_an_input_it_reads_twice(kernels):
    def f(x):
        a = (x * 2).exp()              # read twice by the chain below; it dies there
        return ((x + 1).relu() + a) * a

    x = ember.randn(4, 5, dtype=ember.float64)
    best = optimize(ember.jit.trace(f, x, check=False).graph)
    fused = best.of_kind("call")[-1]
    assert fused.target == "FusedElementwise" and best.plan[id(fused)].reuse is not None
    _close(_execute(best, (x,)), f(x), rtol=1e-12, atol=1e-12)


def test_in_place_steps_give_eager_results(kernels):
    lin = ember.nn.Linear(6, 6)

    def f(x):
        h = lin(x).relu()              # Relu writes over Linear's output
        view = h.reshape(36)           # a view keeps h's buffer alive
        return h.exp().reshape(36) + view, h.sum()

    x = ember.randn(6, 6)
    graph = ember.jit.trace(f, x, check=False).graph
    got, want = _execute(graph, (x,)), f(x)
    for g, w in zip(got, want):
        _close(g, w)


# ---- control flow, constants, side effects ----------------------------------------------------

def test_executor_runs_cond_and_while_loop():
    def f(x):
        y = ember.cond(x.sum() > 0, lambda a: (a * 2).relu(), lambda a: a.exp() - 1, (x,))
        _, total = ember.while_loop(lambda i, s: i < 4, lambda i, s: (i + 1, s * 0.5 + y),
                                    (ember.tensor(0), ember.zeros_like(x)))
        return total

    x = ember.randn(3)
    traced = ember.jit.trace(f, x, check=False)
    for sample in (ember.ones(3), -ember.ones(3), ember.randn(3)):
        _close(_execute(traced.graph, (sample,)), f(sample))


def test_returned_constants_are_copies():
    c = ember.tensor([1.0, 2.0])
    graph = ember.jit.trace(lambda x: (x + 1, c), ember.ones(2), check=False).graph
    run_graph = compile_graph(optimize(graph))
    out = run_graph([np.ones(2, np.float32)], {})
    out[1][:] = 0
    np.testing.assert_array_equal(run_graph([np.ones(2, np.float32)], {})[1], [1.0, 2.0])


def test_buffer_updates_of_training_mode_run_in_place():
    ember.manual_seed(0)
    model, twin = models.resnet8(num_classes=3), models.resnet8(num_classes=3)
    twin.load_state_dict(model.state_dict())
    x = ember.randn(2, 3, 16, 16)
    traced = ember.jit.trace(model, x, check=False)  # training mode: BatchNorm updates
    assert "assign" in [n.target for n in traced.graph.of_kind("call")]
    with ember.no_grad():
        twin(x)  # tracing ran the model once, updating its buffers
        for sample in (x, ember.randn(2, 3, 16, 16)):
            _close(traced(sample), twin(sample), rtol=1e-4, atol=1e-5)
    assert traced.__dict__.get("_executors")  # the executor ran
    for (key, mine), (_, want) in zip(model.named_buffers(), twin.named_buffers()):
        np.testing.assert_allclose(mine.numpy(), want.numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=key)


def test_graphs_with_side_effects_are_refused():
    v = Value("x", (2,), np.float32)
    graph = Graph([Node("input", "x", outputs=[v]), Node("call", "backward", [v], {}, []),
                   Node("output", inputs=[v])])
    with pytest.raises(ValueError, match="backward is run for its side effect"):
        compile_graph(graph)


# ---- TracedModule --------------------------------------------------------------------------

def test_traced_module_uses_the_executor_only_without_gradients():
    ember.manual_seed(0)
    model = models.lenet5().eval()
    x = ember.randn(2, 1, 28, 28)
    traced = ember.jit.trace(model, x, check=False)
    with ember.no_grad():
        fast = traced(x)
        _close(fast, model(x))
    assert traced.__dict__.get("_executors")
    assert not fast.requires_grad

    traced.__dict__["_executors"].clear()
    out = traced(x)                     # parameters require grad: the interpreter
    assert out.requires_grad and not traced.__dict__["_executors"]
    _close(out.detach(), model(x).detach())
    out.sum().backward()
    graph_grads = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()
    for g, p in zip(graph_grads, model.parameters()):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_traced_module_inside_another_trace_is_recorded_op_by_op():
    net = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.ReLU())
    inner = ember.jit.trace(net, ember.randn(4, 3), check=False)
    with ember.no_grad():  # no gradient, but a tracer watches: the interpreter runs
        outer = ember.jit.trace(lambda x: inner(x) * 2, ember.randn(4, 3), check=False)
        targets = [n.target for n in outer.graph.of_kind("call")]
        assert targets[:2] == ["Linear", "Relu"]
        x = ember.randn(4, 3)
        _close(outer(x), net(x) * 2)
