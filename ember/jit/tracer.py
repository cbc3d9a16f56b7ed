"""Capture: run the user's code once on example inputs and record every op into a Graph.

The tracer is an ``Observers`` entry (``ember.autograd.node``): ``Op.apply`` tells it
each op with its input tensors and keyword params, and ``@traceable`` functions tell it
each call. It maps every tensor it has seen to the graph ``Value`` that computes it;
tensors it has not seen are the module's parameters (by name) or constants.

NOTE [data-dependent capture]: a trace is a record of one run, so Python code that
looks at tensor *values* (``if x.sum() > 0``, ``x.item()``, ``x.tolist()``) would bake
in the example's answer. While tracing, those Tensor methods raise ``TraceError`` for
values computed from the inputs, naming the user's line and the fix. Values can also
leak through ops that read an integer tensor in Python; ``trace`` catches those by
tracing a second time on other example values (the inputs rolled by one element) and
comparing the two graphs: they must be the same up to the inputs.
"""

import contextlib

import numpy as np

from ember._errors import user_line
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Observers
from ember.jit.errors import TraceError
from ember.jit.graph import Graph, Node, Value
from ember.tensor import Tensor

__all__ = ["Tracer", "capture"]

# Tensor methods that hand a tensor's values to Python, and what to say instead.
_GUARDED = {
    "__bool__": "use ember.where(cond, a, b) or ember.cond(pred, true_fn, false_fn, args)",
    "item": "keep the value as a tensor, or pass it as a Python number argument",
    "tolist": "keep the values as a tensor",
    "numpy": "keep the values as a tensor",
    "__float__": "keep the value as a tensor",
    "__int__": "keep the value as a tensor",
    "__index__": "pass sizes as Python ints, not as tensors",
    "__array__": "keep the values as a tensor",
}


class Tracer:
    """Records ops into nodes; see the module docstring."""

    # Ops see this among ``Observers.active``: what they record is frozen into a graph (an
    # op must not then take a shortcut that depends on this call's values).
    captures_graph = True

    def __init__(self, named_tensors, live=False):
        self.live = live       # capture unknown tensors by reference, not as copies
        self.captured = {}     # name -> tensor, for the tensors captured by reference
        self.nodes = []
        self.values = {}       # id(tensor) -> Value
        self.alive = []        # every tensor seen, so that ids stay unique while tracing
        self.named = {id(t): (name, t) for name, t in named_tensors}
        self.depth = 0         # > 0 inside a @traceable call: its ops are not recorded
        self.grad_mode = GradMode.enabled  # the mode the recorded nodes run in
        self.counter = 0

    # ---- values ----------------------------------------------------------------------

    def fresh(self, prefix="v"):
        self.counter += 1
        return f"{prefix}{self.counter - 1}"

    def add_input(self, name, tensor):
        v = Value(name, tensor._data.shape, tensor._data.dtype)
        self.nodes.append(Node("input", name, outputs=[v]))
        self._bind(tensor, v)

    def _bind(self, tensor, value):
        self.values[id(tensor)] = value
        self.alive.append(tensor)

    def value_of(self, tensor):
        """The Value computing ``tensor``: seen before, a named parameter, or a constant."""
        v = self.values.get(id(tensor))
        if v is not None:
            return v
        named = self.named.get(id(tensor))
        if named is None and self.live:
            named = (f"captured{len(self.captured)}", tensor)
            self.captured[named[0]] = tensor
        if named is not None:
            name, _ = named
            v = Value(name, tensor._data.shape, tensor._data.dtype)
            node = Node("parameter", name, outputs=[v],
                        params={"requires_grad": bool(tensor._requires_grad)})
        else:
            v = Value(self.fresh("c"), tensor._data.shape, tensor._data.dtype)
            node = Node("constant", outputs=[v], params={"value": np.array(tensor._data)})
        self.nodes.append(node)
        self._bind(tensor, v)
        return v

    def is_traced(self, tensor):
        """True for tensors computed from the inputs (not parameters or constants)."""
        v = self.values.get(id(tensor))
        return v is not None and v.node.kind in ("input", "call")

    # ---- the Observers interface -----------------------------------------------------

    def op_begin(self, cls, inputs, params):
        if self.depth:
            return None
        if params.get("inplace") is True:
            # A write into an input's array (x[i] = v): the graph records the functional
            # form, and inplace_write rebinds the written tensor to its result.
            params = {**params, "inplace": False}
        return (cls.__name__, [self.value_of(t) for t in inputs], params)

    def op_end(self, token, outputs):
        if token is not None:
            self._record(*token, outputs)

    def call_begin(self, name, args, kwargs):
        self.depth += 1
        if self.depth > 1:
            return None
        tensors = []
        spec_args = _spec(args, tensors)
        spec_kwargs = _spec(kwargs, tensors)
        values = [self.value_of(t) for t in tensors]
        return (name, values, {"args": spec_args, "kwargs": spec_kwargs})

    def call_end(self, token, out):
        self.depth -= 1
        if token is not None:
            outs = out if isinstance(out, tuple) else (out,)
            if not all(isinstance(t, Tensor) for t in outs):
                raise TraceError(f"{token[0]} returned {type(out).__name__}, not tensors; "
                                 "it cannot be captured")
            self._record(*token, out)

    def inplace_write(self, target, result):
        """``target`` now holds ``result``'s values (an in-place op wrote them)."""
        if self.depth:
            return
        if target._data.shape != result._data.shape or target._data.dtype != result._data.dtype:
            from ember.autograd.broadcast import Cast, Expand  # record the write's conversion

            if target._data.dtype != result._data.dtype:
                result = Cast.apply(result, dtype=target._data.dtype)
            if target._data.shape != result._data.shape:
                result = Expand.apply(result, shape=target._data.shape)
        value = self.value_of(result)
        written = self.values.get(id(target))
        if written is not None and written.node.kind == "parameter":
            # A named tensor (a buffer such as num_batches_tracked) changes: replay the write.
            self._append_call(Node("call", "assign", [value], {"name": written.node.target},
                                   where=user_line()))
        self._bind(target, value)

    def add_effect(self, target, inputs, params):
        """A node run for its effect (``backward``, ``optimizer_step``): no outputs."""
        self._append_call(Node("call", target, inputs, params, [], where=user_line()))

    @contextlib.contextmanager
    def paused(self):
        """Ops run inside this block are not recorded (they belong to an effect node)."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def _append_call(self, node):
        """Append a call node, after a ``set_grad_enabled`` node if the mode changed since
        the last one (``with no_grad():`` inside the traced code is part of the graph)."""
        if GradMode.enabled != self.grad_mode:
            self.grad_mode = GradMode.enabled
            self.nodes.append(Node("call", "set_grad_enabled", [],
                                   {"enabled": self.grad_mode}, where=node.where))
        self.nodes.append(node)

    def _record(self, target, inputs, params, outputs):
        outs = outputs if isinstance(outputs, tuple) else (outputs,)
        values = [Value(self.fresh(), t._data.shape, t._data.dtype) for t in outs]
        self._append_call(Node("call", target, inputs, params, values, where=user_line()))
        for t, v in zip(outs, values):
            self._bind(t, v)


class _Marker(dict):
    """``{"$in": i}``: the i-th tensor argument of a @traceable call."""


def _spec(obj, tensors):
    """``obj`` with each tensor replaced by ``{"$in": i}`` (appending it to ``tensors``)."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return _Marker({"$in": len(tensors) - 1})
    if isinstance(obj, (tuple, list)):
        return type(obj)(_spec(o, tensors) for o in obj)
    if isinstance(obj, dict):
        return {k: _spec(o, tensors) for k, o in obj.items()}
    return obj


def out_spec(obj, tracer, outputs):
    """The JSON-able structure of a traced function's result (see ``Graph.out_spec``)."""
    if isinstance(obj, Tensor):
        outputs.append(tracer.value_of(obj))
        return len(outputs) - 1
    if isinstance(obj, (tuple, list)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return [kind, [out_spec(o, tracer, outputs) for o in obj]]
    if isinstance(obj, dict):
        return ["dict", [[k, out_spec(o, tracer, outputs)] for k, o in obj.items()]]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return ["const", obj]
    raise TraceError(f"a traced function must return tensors (or tuples, lists and dicts of "
                     f"them), not {type(obj).__name__}")


class _Guards:
    """Makes the Tensor methods in ``_GUARDED`` raise for traced values while tracing."""

    def __init__(self, tracer):
        self.tracer = tracer
        self.saved = {}

    def __enter__(self):
        for name, fix in _GUARDED.items():
            original = getattr(Tensor, name, None)
            if original is None:
                continue
            self.saved[name] = original
            setattr(Tensor, name, _guarded(self.tracer, name, original, fix))
        return self

    def __exit__(self, *exc):
        for name, original in self.saved.items():
            setattr(Tensor, name, original)


def _guarded(tracer, name, original, fix):
    def method(self, *args, **kwargs):
        if tracer.depth == 0 and tracer.is_traced(self):
            where = user_line()
            at = f" at {where}" if where else ""
            shown = "bool(tensor)" if name == "__bool__" else f"tensor.{name}()"
            raise TraceError(
                f"trace: {shown}{at} reads the value of a tensor computed from the inputs, "
                "so Python control flow would depend on data and the graph would only be "
                f"right for this example; {fix}")
        return original(self, *args, **kwargs)
    method.__name__ = name
    return method


def capture(fn, example_inputs, named_tensors, input_names, tracer=None):
    """Run ``fn(*example_inputs)`` once and return its Graph (see ``Tracer``)."""
    tracer = tracer or Tracer(named_tensors)
    args = []
    for name, x in zip(input_names, example_inputs):
        t = Tensor._make(x._data, x._requires_grad and GradMode.enabled)
        tracer.add_input(name, t)
        args.append(t)
    Observers.add(tracer)
    try:
        with _Guards(tracer):
            result = fn(*args)
    finally:
        Observers.remove(tracer)
    outputs = []
    spec = out_spec(result, tracer, outputs)
    tracer.nodes.append(Node("output", inputs=outputs))
    return Graph(tracer.nodes, spec)
