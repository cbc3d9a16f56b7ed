"""Custom differentiable functions, written as in PyTorch.

Example:
    >>> import ember
    >>> class Cube(ember.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad_out):
    ...         (x,) = ctx.saved_tensors
    ...         return grad_out * 3 * x ** 2
    >>> x = ember.tensor(2.0, requires_grad=True)
    >>> Cube.apply(x).backward()
    >>> x.grad
    tensor(12.)

Unlike ember's own ops (``ember.autograd.node.Op``), ``forward`` here receives and
returns Tensors; it runs with gradient recording off, and ``backward`` runs with it on
when ``create_graph=True``, so a backward written with Tensor ops is differentiable.
"""

import functools

import numpy as np

from ember._errors import runtime_error
from ember.autograd.grad_mode import GradMode, no_grad
from ember.autograd.node import Anomaly, Node, Observers, _creation_site, _edge, _modified, next_seq
from ember.tensor import Tensor

__all__ = ["Function", "FunctionCtx", "once_differentiable"]

_new = object.__new__
_make = Tensor._make


class FunctionCtx(Node):
    """The ``ctx`` of a custom Function: what forward leaves for backward."""

    def save_for_backward(self, *tensors):
        """Keep these tensors (inputs or outputs) for backward; read them as ``saved_tensors``."""
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors):
        """Outputs that never carry a gradient (indices, masks)."""
        self._non_diff = {id(t) for t in tensors}

    def mark_dirty(self, *tensors):
        """Inputs that forward modified in place; they take this function as their history."""
        self._dirty = {id(t) for t in tensors}

    def set_materialize_grads(self, value):
        """Whether backward sees zeros (True, the default) or None for unused outputs."""
        self._materialize = bool(value)

    @property
    def saved_tensors(self):
        self._check_alive()
        out = []
        for kind, t, nr, vbox, version in self._saved:
            if vbox[0] != version:
                raise _modified(self, t.shape, vbox[0], version)
            if kind == "output":
                t = _make(t, True, self, nr)
                t._vbox = vbox
            out.append(t)
        return tuple(out)

    def name(self):
        return f"{self._fn_cls.__name__}Backward"

    def backward(self, *grad_outputs):
        fn = self._fn_cls
        grads = fn.backward(self, *grad_outputs)
        if not isinstance(grads, tuple):
            grads = (grads,)
        n = len(self.next_edges)
        if len(grads) > n and all(g is None for g in grads[n:]):
            grads = grads[:n]
        if len(grads) != n:
            raise runtime_error(
                self.name(),
                f"function {fn.__name__}.backward returned an incorrect number of gradients "
                f"(expected {n}, got {len(grads)})",
            )
        return tuple(g if g is None or isinstance(g, Tensor) else _make(np.asarray(g))
                     for g in grads)


class Function:
    """Base class for a differentiable function with a hand-written backward.

    Subclasses define the static methods ``forward(ctx, *args)`` and
    ``backward(ctx, *grad_outputs)`` (one gradient per forward argument, ``None``
    for arguments that need none), and are called with ``MyFunction.apply(*args)``.
    """

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define backward(ctx, *grads)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = _new(FunctionCtx)
        ctx._fn_cls = cls
        ctx._to_save, ctx._non_diff, ctx._dirty, ctx._materialize = (), set(), set(), True
        ctx._hooks, ctx._released, ctx._created_at = None, False, None
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        record = GradMode.enabled and any(ctx.needs_input_grad)
        if record:
            ctx._seq = next_seq()
            ctx.next_edges = tuple(_edge(a) if isinstance(a, Tensor) else None for a in args)
        watchers = Observers.active
        if watchers:
            tokens = Observers.begin("function", cls, args, kwargs)
        with no_grad():
            if cls.setup_context is not Function.setup_context:
                output = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, output)
            else:
                output = cls.forward(ctx, *args, **kwargs)
        if watchers:
            Observers.end("function", tokens, output)
        single = not isinstance(output, tuple)
        outs = (output,) if single else output
        if record:
            outs = _attach(ctx, args, outs)
            _save(ctx, outs)
            if Anomaly.enabled:
                ctx._created_at = _creation_site()
        return outs[0] if single else outs


def _attach(ctx, args, outs):
    """Give the outputs this function as their history."""
    inputs = {id(a) for a in args if isinstance(a, Tensor)}
    ctx._n_out = len(outs)
    ctx._out_meta = [(o.shape, o._data.dtype) if isinstance(o, Tensor) else ((), np.float32)
                     for o in outs] if ctx._materialize else None
    result = []
    for nr, o in enumerate(outs):
        if not isinstance(o, Tensor) or o._data.dtype.kind != "f" or id(o) in ctx._non_diff:
            result.append(o)
            continue
        if id(o) in inputs and id(o) not in ctx._dirty:
            # An input returned unchanged: a new tensor sharing its values, not a relabelled input.
            view = _make(o._data, True, ctx, nr)
            view._vbox = o._vbox
            o = view
        else:
            o.grad_fn, o._output_nr, o._requires_grad = ctx, nr, True
            if id(o) in ctx._dirty:
                o._vbox[0] += 1
        result.append(o)
    return tuple(result)


def _save(ctx, outs):
    by_id = {id(o): nr for nr, o in enumerate(outs) if isinstance(o, Tensor)}
    saved = []
    for t in ctx._to_save:
        if t is None:
            saved.append(("none", None, 0, [0], 0))
        elif id(t) in by_id and t.grad_fn is ctx:
            # Saving the output itself would make a reference cycle; keep its values instead.
            saved.append(("output", t._data, by_id[id(t)], t._vbox, t._vbox[0]))
        else:
            saved.append(("input", t, 0, t._vbox, t._vbox[0]))
    ctx._saved = saved
    del ctx._to_save


def once_differentiable(backward):
    """Mark a ``backward`` that is not itself differentiable: it runs without recording."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with no_grad():
            return backward(ctx, *grads)

    return wrapper
