"""Graph nodes, and ``Op``: one differentiable operation as one class.

An ``Op`` subclass writes ``forward`` on NumPy arrays right beside ``backward`` on
Tensors. Because backward uses Tensor operations, gradients are themselves recorded
when ``create_graph=True``, which gives gradients of gradients for free.

``forward`` marks what backward needs with ``self.save_inputs(i, ...)`` and
``self.save_outputs(j, ...)``; backward reads them back as Tensors connected to the
graph (``self.saved_inputs``, ``self.saved_outputs``), after checking that no
in-place op has overwritten them since. Other values backward needs (a mask, an
index array, a shape) go on ``self`` as plain attributes. All of it is dropped after
backward unless the graph is retained.

Example:
    >>> import numpy as np
    >>> class Square(Op):
    ...     def forward(self, x):
    ...         self.save_inputs(0)
    ...         return x * x
    ...     def backward(self, grad_out):
    ...         (x,) = self.saved_inputs
    ...         return grad_out * 2 * x
"""

import itertools

import numpy as np

from ember._errors import ShapeError, fmt_shape, mark, runtime_error, user_line
from ember.autograd.grad_mode import GradMode
from ember.tensor import Tensor, _HookHandle

__all__ = ["Node", "Op", "Anomaly", "Observers"]

_new = object.__new__
_make = Tensor._make
# Creation order of recorded nodes; the engine runs nodes from the newest to the oldest.
next_seq = itertools.count().__next__


class Anomaly:
    """``detect_anomaly`` switch: nodes then remember where they were created."""

    enabled = False


class Observers:
    """Tools that watch every op application (the profiler, TensorBoard's graph capture).

    ``active`` is empty unless such a tool is on, so ``Op.apply`` pays one attribute test.
    Each observer has ``op_begin(cls, inputs, params)``, called before ``forward`` and
    returning a token, and ``op_end(token, outputs)``, called once the outputs exist (not
    when ``forward`` raised). Use ``add`` and ``remove`` (in a ``finally``) to switch on/off.

    An observer may also have ``backward_begin(node, grad_outputs)`` and
    ``backward_end(token, grad_inputs)``, called by the engine around each node's
    ``backward``, and ``function_begin(fn_cls, args, kwargs)`` and
    ``function_end(token, outputs)`` around a custom ``Function``'s forward; ``begin`` and
    ``end`` call them on the observers that have them (the profiler does).
    """

    active = ()

    @classmethod
    def add(cls, observer):
        cls.active = (*cls.active, observer)

    @classmethod
    def remove(cls, observer):
        cls.active = tuple(o for o in cls.active if o is not observer)

    @classmethod
    def begin(cls, kind, *args):
        """``<kind>_begin(*args)`` on each active observer that has it; returns the tokens."""
        return [(w, getattr(w, kind + "_begin")(*args)) for w in cls.active
                if hasattr(w, kind + "_begin")]

    @staticmethod
    def end(kind, tokens, result):
        """``<kind>_end(token, result)`` for the tokens that ``begin`` returned."""
        for w, token in tokens:
            getattr(w, kind + "_end")(token, result)


_FREED = (
    "Trying to backward through the graph a second time (or directly access saved "
    "tensors after they have already been freed). Saved intermediate values of the graph "
    "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
    "you need to backward through the graph a second time or if you need to access saved "
    "tensors after calling backward."
)


class Node:
    """One recorded operation in the backward graph.

    ``next_edges[i]`` says where the gradient of input ``i`` goes: ``None`` when that
    input needs no gradient, else ``(target, output_nr, shape, np_dtype)`` with
    ``target`` the input's own node, or the input tensor itself when it is a leaf.
    """

    __slots__ = ("next_edges", "needs_input_grad", "_n_out", "_seq", "__dict__", "__weakref__")

    # What almost every node keeps, as class defaults: recording a node (once per op) then
    # stores nothing for them; a node that gets hooks or is freed stores its own value.
    _hooks = None
    _released = False
    _created_at = None

    def name(self):
        return f"{type(self).__name__}Backward0"

    def __repr__(self):
        return f"<{self.name()} object>"

    @property
    def next_functions(self):
        return tuple((None, 0) if e is None else (e[0], e[1]) for e in self.next_edges)

    def _add_tensor_hook(self, output_nr, hook):
        if self._hooks is None:
            self._hooks = {}
        return _HookHandle(self._hooks.setdefault(output_nr, []), hook)

    def register_hook(self, hook):
        """``hook(grad_inputs, grad_outputs)`` after this node's backward (PyTorch's node hook)."""
        return self._add_tensor_hook("post", hook)

    def _release(self):
        self.__dict__.clear()
        self._released = True

    def _check_alive(self):
        if self._released:
            raise runtime_error(self.name(), _FREED)


def _edge(t):
    if not t._requires_grad:
        return None
    target = t if t.grad_fn is None else t.grad_fn
    return (target, t._output_nr, t._data.shape, t._data.dtype)


class Op(Node):
    """Base of every primitive op: ``forward`` on arrays, ``backward`` on Tensors.

    Class attributes a subclass may set:
        differentiable: False for ops whose outputs never carry gradients (argmax, ==).
        is_view: True when the output shares memory with input 0 (reshape, transpose).
    """

    differentiable = True
    is_view = False
    _save_in = _save_out = ()

    @classmethod
    def apply(cls, *inputs, **params):
        """Run ``forward`` on the inputs' arrays, wrap the result, and record it if needed."""
        # NOTE [op overhead]: every op of every step comes through here, and on small
        # tensors this function is most of an op's cost (the ``op-overhead`` benchmark).
        # Hence the unrolled calls (a list comprehension or ``**{}`` costs more than the
        # call itself), the inlined ``Tensor._make``, and the common case first.
        watchers = Observers.active
        if watchers:
            tokens = [w.op_begin(cls, inputs, params) for w in watchers]
        self = _new(cls)
        try:
            n = len(inputs)
            if n == 2:
                out = self.forward(inputs[0]._data, inputs[1]._data, **params) if params \
                    else self.forward(inputs[0]._data, inputs[1]._data)
            elif n == 1:
                out = self.forward(inputs[0]._data, **params) if params \
                    else self.forward(inputs[0]._data)
            else:
                out = self.forward(*[t._data for t in inputs], **params)
        except (ValueError, IndexError, TypeError, np.exceptions.AxisError) as exc:
            if getattr(exc, "ember", False):  # already a sentence from ember._errors
                raise
            raise self.error(inputs, params, exc) from None
        record = False
        if GradMode.enabled and cls.differentiable:
            for t in inputs:
                if t._requires_grad:
                    record = True
                    break
        if type(out) is tuple:
            outs = tuple([_wrap(o, self if record else None, i) for i, o in enumerate(out)])
            first = outs[0]
        else:
            if type(out) is not np.ndarray:
                out = np.asarray(out)
            # Tensor._make, inlined.
            outs = first = _new(Tensor)
            first._data = out
            if record and out.dtype.kind == "f":
                first._requires_grad = True
                first.grad_fn = self
            else:
                first._requires_grad = False
                first.grad_fn = None
            first._grad = first._base = first._hooks = None
            first._retains_grad = False
            first._output_nr = 0
            first._vbox = [0]
        if self.is_view:
            first._vbox = inputs[0]._vbox
            first._base = inputs[0]
        if record:
            self._record(inputs, outs)
        if watchers:
            for w, token in zip(watchers, tokens):
                w.op_end(token, outs)
        return outs

    def _record(self, inputs, outs):
        """Link this node to the inputs' history, and keep what backward needs."""
        edges = []
        for t in inputs:
            if t._requires_grad:
                fn = t.grad_fn
                edges.append((t if fn is None else fn, t._output_nr, t._data.shape,
                              t._data.dtype))
            else:
                edges.append(None)
        self.next_edges = tuple(edges)
        self._seq = next_seq()
        self._n_out = len(outs) if type(outs) is tuple else 1
        if self._save_in:
            saved = []
            for i in self._save_in:
                t = inputs[i]
                saved.append((t, t._vbox[0]))
            self._saved_in = saved
        if self._save_out:
            many = outs if type(outs) is tuple else (outs,)
            self._saved_out = [(many[i]._data, i, many[i]._vbox, many[i]._vbox[0])
                               for i in self._save_out]
        if Anomaly.enabled:
            self._created_at = _creation_site()

    @property
    def needs_input_grad(self):
        """One flag per input: whether backward must compute its gradient."""
        edges = self.next_edges
        if len(edges) == 2:
            return edges[0] is not None, edges[1] is not None
        return tuple([e is not None for e in edges])

    def save_inputs(self, *indices):
        """Keep these inputs (by position) for backward, as Tensors connected to the graph."""
        self._save_in = indices

    def save_outputs(self, *indices):
        """Keep these outputs (by position; ``0`` for a single output) for backward."""
        self._save_out = indices or (0,)

    @property
    def saved_inputs(self):
        if self._released:
            self._check_alive()
        tensors = []
        for t, version in self._saved_in:
            if t._vbox[0] != version:
                raise _modified(self, t._data.shape, t._vbox[0], version)
            tensors.append(t)
        return tuple(tensors)

    @property
    def saved_outputs(self):
        self._check_alive()
        outs = []
        for data, nr, vbox, version in self._saved_out:
            if vbox[0] != version:
                raise _modified(self, data.shape, vbox[0], version)
            t = _make(data, True, self, nr)
            t._vbox = vbox
            outs.append(t)
        return tuple(outs)

    def forward(self, *arrays, **params):
        raise NotImplementedError

    def backward(self, *grad_outputs):
        raise NotImplementedError

    def op_name(self):
        """The user-facing name of the op, used in error messages."""
        return type(self).__name__.lower()

    def error(self, inputs, params, exc):
        """The error to raise when ``forward`` failed; ops override it for a better sentence."""
        shapes = " and ".join(fmt_shape(t._data.shape) for t in inputs)
        text = str(exc).split("\n")[0]
        message = f"{self.op_name()}: {text} (inputs of shape {shapes})"
        where = user_line()
        message = f"{message} ({where})" if where else message
        if isinstance(exc, IndexError):
            return mark(IndexError(message))
        if isinstance(exc, TypeError):
            return mark(TypeError(message))
        return ShapeError(message)


def _wrap(arr, node, nr):
    if type(arr) is not np.ndarray:
        arr = np.asarray(arr)
    if node is not None and arr.dtype.kind == "f":
        return _make(arr, True, node, nr)
    return _make(arr)


def _modified(node, shape, now, expected):
    where = getattr(node, "_created_at", None)
    site = f"; the op was called at {where}" if where else ""
    return runtime_error(
        node.name(),
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: a tensor of shape {fmt_shape(shape)} is at version {now}; "
        f"expected version {expected} instead{site}. Hint: replace the in-place op "
        "(e.g. x.add_(y) or x[i] = v) by its out-of-place form (x = x + y), or enable "
        "ember.autograd.detect_anomaly() to find the op",
    )


def _creation_site():
    return user_line() or "<unknown>"
