"""The compiled executor: a graph turned into a list of steps over NumPy arrays.

``compile_graph(graph)`` does once what the interpreter does at every node: it looks up
each op, numbers the values (a list of slots instead of a dict keyed by value), binds
each call to its input and output slots, and reads the memory plan. Running it is then a
loop over steps that call ``Op.forward`` on arrays directly: no Tensor, no autograd
record, no dtype or shape checks (the graph is specialized to its shapes). Elementwise
ops the memory plan allows write into a dead input's buffer (``out=``), fused chains run
as one kernel (``FusedKernel``), and buffers are dropped right after their last use.

Traceable functions (``embedding``, ``getitem`` ...) and ops with their own ``apply``
run on Tensor wrappers under ``no_grad``; they are a few nodes of a graph. ``cond`` and
``while_loop`` run their subgraphs, each optimized and compiled the same way; ``assign``
writes into the named array it updates. The other nodes run for a side effect (a
captured training step's ``backward``, ``optimizer_step``) are not supported: such graphs
run in the interpreter (``ember.compile``).

It computes what the interpreter computes (tests/jit/test_executor.py and
tests/jit/test_op_table_graph.py compare them); it has no gradients, so
``TracedModule`` uses it only when no gradient is needed.

Example:
    >>> import numpy as np, ember
    >>> from ember.jit.passes import optimize
    >>> g = ember.jit.trace(lambda x: (x + 1).relu(), ember.ones(3)).graph
    >>> run = compile_graph(optimize(g))
    >>> run([np.array([-2.0, 0.0, 2.0], np.float32)], {})
    [array([0., 1., 3.], dtype=float32)]
"""

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.autograd.node import Op
from ember.jit.interpreter import fill_args
from ember.jit.ops import CONTROL_FLOW, is_function, lookup
from ember.jit.passes import optimize
from ember.jit.passes._elementwise import out_form
from ember.jit.passes._fused import FusedKernel
from ember.jit.passes.memory import PlannedGraph
from ember.tensor import Tensor

__all__ = ["compile_graph", "CompiledGraph"]

_new = object.__new__
_make = Tensor._make


def compile_graph(graph):
    """A ``CompiledGraph`` running ``graph`` on arrays (see the module docstring).

    Args:
        graph: a ``Graph``; when it is a ``PlannedGraph`` (``plan_memory``, ``optimize``)
            its plan is followed, else every op allocates its output.

    Returns:
        ``run(inputs, params) -> list of output arrays``: ``inputs`` are arrays in the
        order of ``graph.inputs``, ``params`` maps parameter names to arrays; the outputs
        are in the order of ``graph.outputs`` (``interpreter.rebuild`` gives the traced
        function's structure).
    """
    return CompiledGraph(graph)


class CompiledGraph:
    """The steps of one graph; call it with input arrays and a ``{name: array}`` dict."""

    def __init__(self, graph):
        self.graph = graph
        slots = {}
        for node in graph.nodes:
            for v in node.outputs:
                slots[id(v)] = len(slots)
        # One more register than values: the last holds the params dict (control flow).
        self._template = [None] * (len(slots) + 1)
        self._inputs = [slots[id(v)] for v in graph.inputs]
        self._params = [(slots[id(n.outputs[0])], n.target) for n in graph.of_kind("parameter")]
        self._outputs = [(slots[id(v)], v.node.kind == "constant") for v in graph.outputs]
        plan = graph.plan if isinstance(graph, PlannedGraph) else {}
        self._steps = []
        for node in graph.nodes:
            if node.kind == "constant":
                self._template[slots[id(node.outputs[0])]] = node.params["value"]
            elif node.kind == "call":
                step = plan.get(id(node))
                reuse = step.reuse if step is not None else None
                frees = tuple(slots[id(v)] for v in step.frees) if step is not None else ()
                self._steps.append((_step(node, slots, reuse), frees))

    def __call__(self, inputs, params):
        regs = self._template.copy()
        if len(inputs) != len(self._inputs):
            raise TypeError(f"this graph takes {len(self._inputs)} inputs, got {len(inputs)}")
        for slot, x in zip(self._inputs, inputs):
            regs[slot] = x
        for slot, name in self._params:
            regs[slot] = params[name]
        regs[-1] = params
        # Outside autograd, as what it computes is (ops read the mode: ember/_threads.py's
        # NOTE [inference products] gives OpenBLAS the threads then).
        with no_grad():
            for step, frees in self._steps:
                step(regs)
                for slot in frees:
                    regs[slot] = None
        # A constant returned as is would let the caller change the graph's constant.
        return [regs[s].copy() if constant else regs[s] for s, constant in self._outputs]

    def __repr__(self):
        return f"<ember.jit.CompiledGraph: {len(self._steps)} steps>"


def _no_step(regs):
    return None


def _step(node, slots, reuse):
    """``step(regs)``: run ``node`` reading and writing the register list."""
    ins = [slots[id(v)] for v in node.inputs]
    outs = [slots[id(v)] for v in node.outputs]
    if node.target == "set_grad_enabled":  # arrays carry no gradients: nothing to switch
        return _no_step
    if not outs and node.target != "assign":
        raise ValueError(f"compile_graph: {node.target} is run for its side effect; a graph "
                         "with such nodes (a captured training step) runs in the interpreter")
    if node.target == "assign":
        return _assign_step(node.params["name"], ins[0])
    if node.target in CONTROL_FLOW:
        return _CONTROL_STEPS[node.target](node.params, ins, outs)
    if node.target == "FusedElementwise":
        return _fused_step(FusedKernel(node.params["body"]), ins, outs[0], reuse)
    if is_function(node.target):
        return _tensor_step(_function_call(lookup(node.target), node.params), ins, outs)
    cls = lookup(node.target)
    if cls.apply.__func__ is not Op.apply.__func__:  # the op runs its own way (control flow)
        return _tensor_step(_apply_call(cls, node.params), ins, outs)
    if reuse is not None:
        return _in_place_step(out_form(node.target, node.outputs[0].dtype), ins, outs[0],
                              ins[reuse], node.params)
    return _forward_step(cls, ins, outs, node.params)


def _forward_step(cls, ins, outs, params):
    if len(outs) > 1:
        def many(regs):
            res = _new(cls).forward(*[regs[i] for i in ins], **params)
            for slot, r in zip(outs, res):
                regs[slot] = r if type(r) is np.ndarray else np.asarray(r)
        return many
    out = outs[0]
    if len(ins) == 1 and not params:
        (a,) = ins

        def unary(regs):
            r = _new(cls).forward(regs[a])
            regs[out] = r if type(r) is np.ndarray else _array(r)
        return unary

    def one(regs):
        r = _new(cls).forward(*[regs[i] for i in ins], **params)
        regs[out] = r if type(r) is np.ndarray else _array(r)
    return one


def _array(r):
    # A NumPy scalar from a 0-dim operand, or the one-element tuple of a multi-output op.
    return np.asarray(r[0] if type(r) is tuple else r)


def _in_place_step(fn, ins, out, buffer, params):
    def step(regs):
        r = fn(regs[buffer], *[regs[i] for i in ins], **params)
        regs[out] = r if type(r) is np.ndarray else np.asarray(r)
    return step


def _fused_step(fused, ins, out, reuse):
    buffer = None if reuse is None else ins[reuse]

    def step(regs):
        arrays = [regs[i] for i in ins]
        regs[out] = fused(arrays, None if buffer is None else regs[buffer], reuse)
    return step


def _function_call(fn, params):
    def call(tensors):
        args, kwargs = fill_args(params, tensors)
        return fn(*args, **kwargs)
    return call


def _apply_call(cls, params):
    return lambda tensors: cls.apply(*tensors, **params)


def _assign_step(name, value):
    # A named tensor updated in place (a BatchNorm buffer in training mode): its array is
    # the one the caller passed in ``params``, so the module's tensor changes, as in the
    # interpreter (whose write also bumps the tensor's version counter; arrays have none).
    def step(regs):
        regs[-1][name][...] = regs[value]
    return step


def _cond_step(params, ins, outs):
    true_run, false_run = (_compiled_subgraph(g) for g in params["branches"])

    def step(regs):
        chosen = true_run if regs[ins[0]] else false_run
        regs_out = chosen([regs[i] for i in ins[1:]], regs[-1])
        for slot, a in zip(outs, regs_out):
            regs[slot] = a
    return step


def _while_step(params, ins, outs):
    test = _compiled_subgraph(params["cond_graph"])
    body = _compiled_subgraph(params["body_graph"])

    def step(regs):
        values, named = [regs[i] for i in ins], regs[-1]
        while test(values, named)[0]:
            values = body(values, named)
        for slot, a in zip(outs, values):
            regs[slot] = a
    return step


_CONTROL_STEPS = {"cond": _cond_step, "while_loop": _while_step}


def _compiled_subgraph(graph):
    return CompiledGraph(optimize(graph))


def _tensor_step(call, ins, outs):
    def step(regs):
        with no_grad():
            result = call([_make(regs[i]) for i in ins])
        many = result if isinstance(result, tuple) else (result,)
        for slot, t in zip(outs, many):
            regs[slot] = t._data
    return step
