"""``ember.cond`` and ``ember.while_loop``: branches and loops that a trace keeps.

Outside a trace they are plain Python: ``cond`` calls one branch, ``while_loop`` loops,
and gradients flow through the ops that ran. Under ``ember.jit.trace`` a Python ``if``
on a tensor would bake in the example's answer (the tracer refuses it); these two
record the choice itself instead, as one ``call`` node whose params hold subgraphs:

- ``cond``: inputs ``[pred, *operands]``, params ``{"branches": [true_graph,
  false_graph]}``; both graphs take the operands and return the same number of values
  of the same shapes and dtypes;
- ``while_loop``: inputs ``[*carried]``, params ``{"cond_graph": g, "body_graph": h}``;
  ``g`` maps the carried values to one bool 0-dim value, ``h`` to new carried values of
  the same shapes and dtypes.

NOTE [lifted values]: a branch (or loop function) may read tensors computed outside it
(a closure over ``x``) rather than take them as operands. A subgraph reads only its own
inputs, parameters and constants, so such tensors are appended to the operands (to the
carried values of a loop, which the body passes through unchanged) and the subgraphs
get one more input each. Nested control flow lifts through every level.

While tracing, every function runs on copies of its inputs to record its subgraph, and
then the chosen branch (or the whole loop) runs once more on the real inputs, untraced,
so that the values and gradients the traced code sees are eager ones.

Example:
    >>> import ember
    >>> x = ember.tensor([1.0, -2.0])
    >>> ember.cond(x.sum() > 0, lambda t: t * 2, lambda t: -t, (x,))
    tensor([-1.,  2.])
    >>> ember.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s + x),
    ...                  (ember.tensor(0), ember.zeros(2)))
    (tensor(3), tensor([ 3., -6.]))
"""

import contextlib

import numpy as np

from ember._errors import type_error, user_line, value_error
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Observers
from ember.jit.errors import TraceError
from ember.jit.graph import Graph, Node, Value
from ember.jit.interpreter import rebuild
from ember.jit.tracer import Tracer, _Guards, out_spec
from ember.tensor import Tensor

__all__ = ["cond", "while_loop"]


def cond(pred, true_fn, false_fn, operands=()):
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``, kept by a trace.

    Args:
        pred: a Python bool or a one-element tensor (any dtype; nonzero is true).
        true_fn, false_fn: functions of the operands returning a tensor or a
            tuple/list/dict of tensors; under a trace both must return the same
            structure with the same shapes and dtypes.
        operands: a tuple or list of tensors passed to the branch.

    Returns:
        What the chosen branch returns.
    """
    operands = _operands("cond", operands, "operands")
    tracer = _active_tracer()
    if isinstance(pred, (bool, np.bool_)) or tracer is None:
        return (true_fn if _truth(pred) else false_fn)(*operands)
    pred = _as_pred(pred)
    true_part = _trace_function(tracer, true_fn, operands)
    false_part = _trace_function(tracer, false_fn, operands)
    _check_same_outputs("cond", true_part, false_part, "true_fn", "false_fn")
    lifted = _union(true_part.lifted, false_part.lifted)
    branches = [p.graph(len(operands), lifted) for p in (true_part, false_part)]
    with _untraced():
        result = (true_fn if _truth(pred) else false_fn)(*operands)
    inputs = [pred, *operands, *lifted]
    return _record(tracer, "cond", inputs, {"branches": branches}, result, true_part.spec)


def while_loop(cond_fn, body_fn, carried_inputs):
    """Run ``carried = body_fn(*carried)`` while ``cond_fn(*carried)``; kept by a trace.

    Args:
        cond_fn: a function of the carried values returning a one-element tensor.
        body_fn: a function of the carried values returning a tuple of new values,
            with the same shapes and dtypes.
        carried_inputs: a tuple or list of tensors: the first carried values.

    Returns:
        The carried values after the last iteration, as a tuple.
    """
    carried = _operands("while_loop", carried_inputs, "carried_inputs")
    tracer = _active_tracer()
    if tracer is None:
        return _loop(cond_fn, body_fn, carried)
    test = _trace_function(tracer, cond_fn, carried, predicate=True)
    body = _trace_function(tracer, body_fn, carried)
    _check_body(body, carried)
    lifted = _union(test.lifted, body.lifted)
    n = len(carried)
    graphs = {"cond_graph": test.graph(n, lifted),
              "body_graph": body.graph(n, lifted, passthrough=True)}
    with _untraced():
        result = _loop(cond_fn, body_fn, carried)
    spec = ["tuple", list(range(n))]
    return _record(tracer, "while_loop", [*carried, *lifted], graphs, result, spec,
                   n_extra=len(lifted))


# ---- eager helpers -------------------------------------------------------------------

def _operands(op, operands, what):
    if not isinstance(operands, (tuple, list)):
        raise type_error(op, f"{what} must be a tuple or list of tensors, got "
                             f"{type(operands).__name__}")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise type_error(op, f"{what}[{i}] must be a Tensor, got {type(t).__name__}")
    return tuple(operands)


def _truth(pred, op="cond"):
    """The pred's value without going through ``Tensor.__bool__`` (guarded while tracing)."""
    if isinstance(pred, Tensor):
        if pred._data.size != 1:
            raise value_error(op, f"pred must have one element, got shape "
                                  f"{tuple(pred._data.shape)}")
        return bool(pred._data.reshape(()))
    return bool(pred)


def _loop(cond_fn, body_fn, carried):
    values = tuple(carried)
    while _truth(_one(cond_fn(*values)), "while_loop"):
        new = body_fn(*values)
        values = tuple(new) if isinstance(new, (tuple, list)) else (new,)
        if len(values) != len(carried):
            raise type_error("while_loop", f"body_fn returned {len(values)} values for "
                                           f"{len(carried)} carried inputs")
    return values


def _one(pred):
    if not isinstance(pred, (Tensor, bool, np.bool_)):
        raise type_error("while_loop", f"cond_fn must return a bool tensor, got "
                                       f"{type(pred).__name__}")
    return pred


# ---- tracing -------------------------------------------------------------------------

def _active_tracer():
    """The innermost recording tracer, or None (none active, or inside a @traceable)."""
    for o in reversed(Observers.active):
        if isinstance(o, Tracer):
            return None if o.depth else o
    return None


@contextlib.contextmanager
def _observing(old, new):
    """Let ``new`` record instead of ``old`` (other observers, like a profiler, stay)."""
    saved = Observers.active
    Observers.active = tuple(new if o is old else o for o in saved)
    try:
        with _Guards(new):
            yield
    finally:
        Observers.active = saved


@contextlib.contextmanager
def _untraced():
    """Run eagerly: no tracer records (the real run after the subgraphs are traced)."""
    saved = Observers.active
    Observers.active = tuple(o for o in saved if not isinstance(o, Tracer))
    try:
        yield
    finally:
        Observers.active = saved


def _as_pred(pred, op="cond"):
    """``pred`` as a bool 0-dim tensor (recorded), the form the cond node takes."""
    if not isinstance(pred, Tensor):
        raise type_error(op, f"pred must be a bool or a tensor, got {type(pred).__name__}")
    if pred._data.size != 1:
        raise value_error(op, f"pred must have one element, got shape "
                              f"{tuple(pred._data.shape)}")
    if pred._data.dtype != np.bool_:
        pred = pred != 0
    return pred.reshape(()) if pred._data.shape != () else pred


class _SubTracer(Tracer):
    """Records one function into a subgraph; lifts tensors of enclosing graphs (NOTE
    [lifted values])."""

    def __init__(self, parent):
        super().__init__(())
        self.parent = parent
        self.named = parent.named
        # ember.compile's capture keeps unknown tensors by reference: share its table.
        self.live = getattr(parent, "live", False)
        self.captured = getattr(parent, "captured", {})
        self.counter = parent.counter
        self.lifted = []   # outer tensors read by the function, in order
        self.lifted_values = {}

    def value_of(self, tensor):
        if id(tensor) not in self.values and _known(self.parent, tensor):
            v = Value(self.fresh("a"), tensor._data.shape, tensor._data.dtype)
            self.nodes.append(Node("input", v.name, outputs=[v]))
            self._bind(tensor, v)
            self.lifted.append(tensor)
            self.lifted_values[id(tensor)] = v
            return v
        return super().value_of(tensor)


def _known(tracer, tensor):
    """Whether ``tensor`` is computed inside ``tracer``'s graph or an enclosing one."""
    while tracer is not None:
        if tracer.is_traced(tensor):
            return True
        tracer = getattr(tracer, "parent", None)
    return False


class _Part:
    """One traced function: its tracer, output structure and output values."""

    def __init__(self, tracer, spec, outputs, n_inputs):
        self.tracer, self.spec, self.outputs = tracer, spec, outputs
        self.inputs = [n for n in tracer.nodes if n.kind == "input"][:n_inputs]
        self.lifted = tracer.lifted

    def graph(self, n_operands, lifted, passthrough=False):
        """The subgraph taking ``operands + lifted`` (missing lifted inputs added)."""
        inputs = list(self.inputs[:n_operands])
        for t in lifted:
            v = self.tracer.lifted_values.get(id(t))
            if v is None:
                v = Value(self.tracer.fresh("a"), t._data.shape, t._data.dtype)
                Node("input", v.name, outputs=[v])
            inputs.append(v.node)
        body = [n for n in self.tracer.nodes if n.kind != "input"]
        outputs = list(self.outputs)
        if passthrough:  # a loop's body hands the lifted values on unchanged
            outputs += [n.outputs[0] for n in inputs[n_operands:]]
        return Graph(inputs + body + [Node("output", inputs=outputs)], self.spec)


def _trace_function(parent, fn, operands, predicate=False):
    """Trace ``fn(*operands)`` into a ``_Part``, running it on copies of the operands."""
    sub = _SubTracer(parent)
    args = []
    for t in operands:
        copy = Tensor._make(t._data.copy(), t._requires_grad and GradMode.enabled)
        sub.add_input(sub.fresh("a"), copy)
        args.append(copy)
    with _observing(parent, sub):
        result = fn(*args)
        if predicate:
            result = _as_pred(_scalar_tensor(result), "while_loop")
    outputs = []
    spec = out_spec(result, sub, outputs)
    parent.counter = sub.counter
    parent.alive.extend(sub.alive)  # ids of tensors seen must stay unique while tracing
    return _Part(sub, spec, outputs, len(operands))


def _scalar_tensor(result):
    if isinstance(result, Tensor):
        return result
    if isinstance(result, (bool, np.bool_)):
        return Tensor._make(np.array(bool(result)))
    raise type_error("while_loop", f"cond_fn must return a bool tensor, got "
                                   f"{type(result).__name__}")


def _union(first, second):
    seen = {id(t) for t in first}
    return list(first) + [t for t in second if id(t) not in seen]


def _record(tracer, target, inputs, params, result, spec, n_extra=0):
    """Add the call node to ``tracer``'s graph; bind the eager result to its outputs.

    ``n_extra`` more outputs (a loop's lifted values, passed through) stay unused.
    """
    flat = []
    _flatten(result, flat)
    in_values = [tracer.value_of(t) for t in inputs]
    outs = [Value(tracer.fresh(), t._data.shape, t._data.dtype) for t in flat]
    outs += [Value(tracer.fresh(), v.shape, v.dtype) for v in in_values[len(in_values)
                                                                        - n_extra:]]
    tracer.nodes.append(Node("call", target, in_values, params, outs, where=user_line()))
    with _untraced():
        # New tensors even when a branch returned its input (or a parameter), so that
        # binding them does not rebind the input's own value in the graph.
        fresh = [t.view(t._data.shape) for t in flat]
    for t, v in zip(fresh, outs):
        tracer._bind(t, v)
    return rebuild(spec, fresh)


def _flatten(obj, flat):
    if isinstance(obj, Tensor):
        flat.append(obj)
    elif isinstance(obj, (tuple, list)):
        for o in obj:
            _flatten(o, flat)
    elif isinstance(obj, dict):
        for o in obj.values():
            _flatten(o, flat)


def _check_same_outputs(op, a, b, name_a, name_b):
    """Both functions return the same structure, shapes and dtypes, else ``TraceError``."""
    where = user_line()
    at = f" at {where}" if where else ""
    if a.spec != b.spec:
        raise TraceError(f"{op}{at}: {name_a} and {name_b} return different structures "
                         f"({_describe(a)} and {_describe(b)}); a traced {op} needs both to "
                         "return the same number of tensors in the same containers")
    for i, (u, v) in enumerate(zip(a.outputs, b.outputs)):
        if (u.shape, u.dtype) != (v.shape, v.dtype):
            raise TraceError(f"{op}{at}: output {i} of {name_a} is {u.type_str()} but output "
                             f"{i} of {name_b} is {v.type_str()}; a traced {op} needs the "
                             "same shapes and dtypes from both")


def _check_body(body, carried):
    where = user_line()
    at = f" at {where}" if where else ""
    flat = body.spec == 0 or (isinstance(body.spec, list) and body.spec[0] in ("tuple", "list")
                              and all(isinstance(s, int) for s in body.spec[1]))
    if len(body.outputs) != len(carried) or not flat:
        raise TraceError(f"while_loop{at}: body_fn must return a tuple of {len(carried)} "
                         f"tensors (one per carried input), got {_describe(body)}")
    for i, (v, t) in enumerate(zip(body.outputs, carried)):
        if (v.shape, v.dtype) != (t._data.shape, t._data.dtype):
            was = Value("", t._data.shape, t._data.dtype).type_str()
            raise TraceError(f"while_loop{at}: body_fn returns {v.type_str()} for carried "
                             f"value {i}, which is {was}; each iteration must keep the "
                             "shapes and dtypes of the carried values")
    body.spec = ["tuple", list(range(len(carried)))]


def _describe(part):
    return "(" + ", ".join(v.type_str() for v in part.outputs) + ")" if part.outputs else \
        "no tensors"
