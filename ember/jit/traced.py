"""``ember.jit.trace``: a module or function captured as a graph, callable like the original.

Example:
    >>> import ember
    >>> net = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.ReLU())
    >>> traced = ember.jit.trace(net, ember.ones(4, 3))
    >>> print(traced.graph)  # doctest: +NORMALIZE_WHITESPACE
    graph(%x0: float32[4, 3]):
        %0.weight: float32[2, 3] = parameter('0.weight')
        %0.bias: float32[2] = parameter('0.bias')
        %v0: float32[4, 2] = Linear(%x0, %0.weight, %0.bias)
        %v1: float32[4, 2] = Relu(%v0)
        return %v1
    >>> bool((traced(ember.ones(4, 3)) == net(ember.ones(4, 3))).all())
    True
"""

import numpy as np

from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Observers
from ember.jit.errors import TraceError, graph_input_error
from ember.jit.executor import compile_graph
from ember.jit.graph import Graph
from ember.jit.interpreter import rebuild, run
from ember.jit.passes import optimize
from ember.jit.tracer import capture
from ember.nn.module import Module
from ember.tensor import Tensor

__all__ = ["trace", "TracedModule"]


def trace(fn, example_inputs, *, dynamic=False, check=True):
    """Capture ``fn`` (a Module or a function of tensors) run on ``example_inputs``.

    Args:
        fn: an ``nn.Module`` (its parameters and buffers become the graph's named
            parameters) or a function of tensors (tensors it reads besides its arguments
            become constants).
        example_inputs: a Tensor or a tuple of Tensors: the arguments of one call.
        dynamic: when False (the default), calling with other shapes or dtypes raises
            ``GraphInputError``; when True, such a call traces again and keeps one graph
            per input signature.
        check: trace a second time on other values (each input rolled by one element)
            and raise ``TraceError`` if the graphs differ, which means Python code used
            the input's values (see NOTE [data-dependent capture] in ``tracer.py``).

    Returns:
        A ``TracedModule``; its ``graph`` attribute prints the captured ops.
    """
    inputs = _as_tuple(example_inputs)
    return TracedModule(fn, inputs, dynamic=dynamic, check=check)


class TracedModule(Module):
    """A captured graph plus the tensors it reads by name; call it like the original.

    With gradients enabled it runs the graph through ember's eager ops (so its
    parameters can be trained); under ``no_grad`` it runs the same ops on arrays.
    """

    def __init__(self, fn, example_inputs, *, dynamic=False, check=True, graph=None,
                 name=None):
        super().__init__()
        object.__setattr__(self, "_fn", fn)  # not a submodule: its tensors are adopted
        self._dynamic = dynamic
        self._check = check
        self._name = name or (type(fn).__name__ if isinstance(fn, Module) else
                              getattr(fn, "__name__", "function"))
        if isinstance(fn, Module):
            _adopt(self, fn)
        self._graphs = {}
        self.graph = graph if graph is not None else self._capture(example_inputs)
        self._graphs[_signature_of_graph(self.graph)] = self.graph

    # ---- capture ---------------------------------------------------------------------

    @classmethod
    def from_graph(cls, graph, parameters=(), buffers=(), name="graph"):
        """A TracedModule running ``graph`` with these ``(key, tensor)`` pairs; no Python
        function behind it, so it cannot trace again (``ember.jit.load`` builds these)."""
        self = cls.__new__(cls)
        Module.__init__(self)
        object.__setattr__(self, "_fn", None)
        self._dynamic, self._check, self._name = False, False, name
        for key, p in parameters:
            _child(self, key).register_parameter(key.rsplit(".", 1)[-1], p)
        for key, b in buffers:
            _child(self, key).register_buffer(key.rsplit(".", 1)[-1], b)
        self._graphs = {_signature_of_graph(graph): graph}
        self.graph = graph
        return self

    def _named_tensors(self):
        return list(self.named_parameters()) + list(self.named_buffers())

    def _capture(self, inputs):
        fn = self._fn
        names = [f"x{i}" for i in range(len(inputs))]
        graph = capture(fn, inputs, self._named_tensors(), names)
        if self._check:
            _check_same(graph, fn, inputs, self._named_tensors(), names)
        return graph

    # ---- calling ---------------------------------------------------------------------

    def forward(self, *inputs):
        graph = self._graph_for(inputs)
        params = dict(self._named_tensors())
        # The executor runs arrays, unseen by autograd and by observers (a tracer capturing
        # this module inside another graph, the profiler): those need the interpreter.
        if Observers.active or (GradMode.enabled and any(
                t._requires_grad for t in (*inputs, *params.values()))):
            return run(graph, inputs, params)
        compiled = self._compiled(graph)
        outs = compiled([x._data for x in inputs], {k: t._data for k, t in params.items()})
        return rebuild(graph.out_spec, [Tensor._make(a) for a in outs])

    def _compiled(self, graph):
        cache = self.__dict__.setdefault("_executors", {})  # from_graph skips __init__
        entry = cache.get(id(graph))
        if entry is None or entry[0] is not graph:  # holding graph keeps its id unique
            entry = cache[id(graph)] = (graph, compile_graph(optimize(graph)))
        return entry[1]

    def _graph_for(self, inputs):
        key = _signature(inputs, self._name)
        graph = self._graphs.get(key)
        if graph is not None:
            return graph
        if self._dynamic and self._fn is not None:
            graph = self._graphs[key] = self._capture(inputs)
            return graph
        raise _mismatch(self._name, self.graph, inputs, self._fn is not None)

    def extra_repr(self):
        return f"name={self._name!r}, calls={len(self.graph.of_kind('call'))}"


def _adopt(owner, module):
    """Register ``module``'s parameters and buffers on ``owner`` under the same keys."""
    for key, p in module.named_parameters():
        _child(owner, key).register_parameter(key.rsplit(".", 1)[-1], p)
    for key, b in module.named_buffers():
        _child(owner, key).register_buffer(key.rsplit(".", 1)[-1], b)


def _child(owner, key):
    node = owner
    for part in key.split(".")[:-1]:
        sub = node._modules.get(part)
        if sub is None:
            sub = Module()
            node.add_module(part, sub)
        node = sub
    return node


def _as_tuple(example_inputs, what="trace: example input {}"):
    """The example inputs as a tuple of Tensors; ``what`` names an input in the error."""
    inputs = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{what.format(i)} must be a Tensor, got {type(x).__name__}; "
                            "close over other values in the function")
    return inputs


def _signature(inputs, name):
    sig = []
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise graph_input_error(f"{name}: input {i} must be a Tensor, got "
                                    f"{type(x).__name__}")
        sig.append((x._data.shape, x._data.dtype.str))
    return tuple(sig)


def _signature_of_graph(graph):
    return tuple((v.shape, v.dtype.str) for v in graph.inputs)


def _mismatch(name, graph, inputs, can_retrace):
    expected = graph.inputs
    if len(inputs) != len(expected):
        return graph_input_error(f"{name} was traced with {len(expected)} inputs, "
                                 f"but was called with {len(inputs)}")
    for i, (x, v) in enumerate(zip(inputs, expected)):
        got = (tuple(x._data.shape), x._data.dtype)
        if got != (v.shape, v.dtype):
            hint = ("trace it again with such an example, or pass dynamic=True to trace() "
                    "to capture one graph per input shape") if can_retrace else \
                "this saved graph only runs on the shapes it was traced with"
            return graph_input_error(
                f"{name} was traced for input {i} ({v.name}) of shape {list(v.shape)} and "
                f"dtype {np.dtype(v.dtype).name}, but got shape {list(got[0])} and dtype "
                f"{np.dtype(got[1]).name}; {hint}")
    return graph_input_error(f"{name}: no graph for these inputs")


# ---- the second trace (NOTE [data-dependent capture] in tracer.py) ---------------------

def _check_same(graph, fn, inputs, named, names):
    rolled = tuple(_rolled(x) for x in inputs)
    if all(np.array_equal(a._data, b._data) for a, b in zip(rolled, inputs)):
        return
    try:
        other = capture(fn, rolled, named, names)
    except Exception:
        return
    _compare(graph, other)


def _rolled(x):
    data = np.roll(x._data.reshape(-1), 1).reshape(x._data.shape)
    return Tensor._make(data, x._requires_grad)


def _compare(first, second):
    a, b = first.nodes, second.nodes
    for n, m in zip(a, b):
        if n.kind != m.kind or n.target != m.target or len(n.inputs) != len(m.inputs):
            _raise_diverged(n, m, "different ops ran for other input values")
        if [v.name for v in n.inputs] != [v.name for v in m.inputs]:
            _raise_diverged(n, m, "the ops were wired differently for other input values")
        if n.kind == "constant" and not _same(n.params["value"], m.params["value"]):
            _raise_diverged(_first_user(first, n), m, "a constant was computed from the "
                            "input values in Python (outside ember's ops)")
        if n.kind == "call" and not _same(n.params, m.params):
            _raise_diverged(n, m, "it took input values as fixed arguments (an op that "
                            "reads an integer tensor in Python)")
    if len(a) != len(b):
        _raise_diverged(a[min(len(a), len(b)) - 1], None, "a different number of ops ran")


def _first_user(graph, node):
    value = node.outputs[0]
    return next((n for n in graph.nodes if value in n.inputs), node)


def _raise_diverged(node, other, why):
    where = f" at {node.where}" if node.where else ""
    what = f"{node.kind} {node.target}" if node.target else node.kind
    raise TraceError(
        f"trace: the graph depends on the input values: {why}, first seen at {what}{where}. "
        "A trace records one run; code that branches on or computes with tensor values in "
        "Python gives a graph that is only right for the example. Use ember.where or "
        "ember.cond for branches, keep values as tensors, or pass check=False if the "
        "difference is intended")


def _same(x, y):
    if isinstance(x, Graph) or isinstance(y, Graph):  # cond / while_loop subgraphs
        return isinstance(x, Graph) and isinstance(y, Graph) and _same_graph(x, y)
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
                and x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x)
    if isinstance(x, (tuple, list)) and isinstance(y, (tuple, list)):
        return len(x) == len(y) and all(_same(p, q) for p, q in zip(x, y))
    if type(x) is type(y) and not isinstance(x, type) and _fields(x) is not None:
        return all(_same(getattr(x, f, None), getattr(y, f, None)) for f in _fields(x))
    try:
        return bool(x == y)
    except Exception:
        return x is y


def _same_graph(first, second):
    """Whether two subgraphs are the same (their Values point back at their nodes, so
    comparing them field by field would never end)."""
    try:
        _compare(first, second)
    except TraceError:
        return False
    return True


def _fields(obj):
    """The attribute names of a plain object (slots or ``__dict__``), else None."""
    if hasattr(obj, "__dict__"):
        return sorted(vars(obj))
    slots = getattr(type(obj), "__slots__", None)
    return list(slots) if slots else None
