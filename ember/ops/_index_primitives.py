"""The three indexing primitives every index op is built on, and writing in place with them.

An index is an :class:`Ix`: a *basic* part (ints, slices, None), which NumPy applies as
a view, then an *advanced* part (integer and boolean arrays), which copies. The
primitives, all differentiable to any order:

- :class:`Take` ``x[ix]``; its backward adds the gradient into zeros (``AddAt``);
- :class:`AddAt` ``base`` with ``src`` added at ``ix`` (``np.add.at``, so repeated
  indices accumulate); its backward takes the gradient at ``ix`` again;
- :class:`Put` ``base`` with ``src`` written at ``ix``; its backward zeroes the gradient
  of ``base`` there (another ``Put``) and takes it at ``ix`` for ``src``.

``x[idx]`` (``index.py``), ``gather``, ``index_select`` (``gather.py``), ``scatter``,
``masked_fill`` and the rest (``scatter.py``) only build an ``Ix`` and call these.
"""

import numpy as np

from ember._errors import _with_line, fmt_shape, runtime_error, shape_error
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Observers, Op
from ember.ops._inplace import _check_recordable, observe_write
from ember.tensor import Tensor

_make = Tensor._make


class OutOfBounds(IndexError, RuntimeError):
    """An index out of range: an IndexError, and a RuntimeError as PyTorch's gather raises."""


def out_of_bounds(op, value, dim, size):
    """``op: index 7 is out of bounds for dimension 1 with size 5 (train.py:12)``."""
    return OutOfBounds(_with_line(
        f"{op}: index {value} is out of bounds for dimension {dim} with size {size}"))


def check_bounds(op, arr, dim, size, negative=True):
    """Raise ``out_of_bounds`` for the first element of ``arr`` outside the dimension."""
    if arr.size == 0:
        return
    low = -size if negative else 0
    if arr.min() < low or arr.max() >= size:
        bad = arr[(arr < low) | (arr >= size)].flat[0]
        raise out_of_bounds(op, int(bad), dim, size)


class Ix:
    """A parsed index: ``arr[basic]`` (a view) then ``[adv]`` (a copy); either may be None.

    ``unique`` says that no element is addressed twice (no integer arrays), so adding
    needs no ``np.add.at``; ``where`` says ``adv`` is one boolean mask of the view's full
    shape, so that a 0-dim source is written with ``np.copyto(where=)``, which is faster
    than boolean indexing (``masked_fill``).
    """

    __slots__ = ("basic", "adv", "unique", "where", "op")

    def __init__(self, basic, adv, unique, op, where=False):
        self.basic, self.adv, self.unique, self.op, self.where = basic, adv, unique, op, where

    def view(self, arr):
        return arr if self.basic is None else arr[self.basic]

    def take(self, arr):
        v = arr if self.basic is None else arr[self.basic]
        return v if self.adv is None else v[self.adv]

    def put(self, arr, src):
        v = arr if self.basic is None else arr[self.basic]
        if self.where and src.ndim == 0:
            np.copyto(v, src, casting="unsafe", where=self.adv[0])
        elif self.adv is None:
            v[...] = src
        else:
            v[self.adv] = src

    def add_at(self, arr, src):
        v = arr if self.basic is None else arr[self.basic]
        if self.where and src.ndim == 0:
            np.add(v, src, out=v, where=self.adv[0], casting="unsafe")
        elif self.adv is None:
            v += src
        elif self.unique:
            v[self.adv] += src
        else:
            np.add.at(v, self.adv, src)

    def result_shape(self, shape):
        """The shape ``arr[self]`` has for an array of ``shape`` (for error messages)."""
        return self.take(np.broadcast_to(np.zeros((), np.int8), shape)).shape


# ---- the primitives ------------------------------------------------------------------


class Take(Op):
    """``x[ix]``: a view of ``x`` for basic indices, a copy for advanced ones."""

    def forward(self, x, ix):
        self.ix, self.in_shape = ix, x.shape
        self.is_view = ix.adv is None
        return ix.take(x)

    def backward(self, grad_out):
        zeros = _make(np.zeros(self.in_shape, grad_out._data.dtype))
        return AddAt.apply(zeros, grad_out, ix=self.ix, inplace=True)

    def op_name(self):
        return self.ix.op

    def name(self):
        return _node_name(self)


class AddAt(Op):
    """``base`` with ``src`` added at ``ix``; repeated indices accumulate."""

    def forward(self, base, src, ix, inplace=False):
        self.ix, self.src_shape = ix, src.shape
        out = base if inplace else base.copy()
        ix.add_at(out, src)
        return out

    def backward(self, grad_out):
        need_base, need_src = self.needs_input_grad
        grad_src = _fit(Take.apply(grad_out, ix=self.ix), self.src_shape) if need_src else None
        return (grad_out if need_base else None), grad_src

    def op_name(self):
        return self.ix.op

    def name(self):
        return _node_name(self)

    def error(self, inputs, params, exc):
        return _mismatch(params["ix"], inputs)


class Put(Op):
    """``base`` with ``src`` written at ``ix`` (broadcast; the last write wins on repeats)."""

    def forward(self, base, src, ix, inplace=False):
        self.ix, self.src_shape = ix, src.shape
        out = base if inplace else base.copy()
        ix.put(out, src)
        return out

    def backward(self, grad_out):
        need_base, need_src = self.needs_input_grad
        grad_base = grad_src = None
        if need_base:
            zero = _make(np.zeros((), grad_out._data.dtype))
            grad_base = Put.apply(grad_out, zero, ix=self.ix)
        if need_src:
            grad_src = _fit(Take.apply(grad_out, ix=self.ix), self.src_shape)
        return grad_base, grad_src

    def op_name(self):
        return self.ix.op

    def name(self):
        return _node_name(self)

    def error(self, inputs, params, exc):
        return _mismatch(params["ix"], inputs)


_TORCH_NAMES = {"getitem": "Index", "setitem": "IndexPut"}


def _node_name(node):
    """PyTorch's name for the node (``GatherBackward0``), from the op that made it."""
    ix = node.__dict__.get("ix")
    if ix is None:  # released after backward
        return f"{type(node).__name__}Backward0"
    op = ix.op.rstrip("_")
    return _TORCH_NAMES.get(op, "".join(p.capitalize() for p in op.split("_"))) + "Backward0"


def _fit(grad, shape):
    """``grad`` with the leading 1s NumPy's assignment dropped from ``shape`` put back.

    The engine then sums the rest of the broadcast away.
    """
    extra = len(shape) - grad._data.ndim
    if extra > 0:
        return grad.reshape((1,) * extra + grad._data.shape)
    return grad


def _mismatch(ix, inputs):
    target = ix.result_shape(inputs[0]._data.shape)
    return shape_error(ix.op, f"shape mismatch: value tensor of shape "
                              f"{fmt_shape(inputs[1]._data.shape)} cannot be broadcast to "
                              f"indexing result of shape {fmt_shape(target)}")


# ---- writing in place ----------------------------------------------------------------


def write_at(name, self, ix, src, accumulate=False):
    """``self[ix] = src`` (or ``+=`` with ``accumulate``) in place, recorded for autograd.

    This follows NOTE [in-place and autograd] in ``_inplace.py`` without its snapshot
    copy: ``Put`` and ``AddAt`` save nothing of ``self`` for backward, so the op may
    write straight into ``self``'s array; ``self`` then takes the op as its history and
    its version counter is bumped, which invalidates what other ops saved of it.
    ``src`` must already have ``self``'s dtype.
    """
    if not self._data.flags.writeable:
        raise runtime_error(name, "the tensor is a read-only view (made by expand or "
                                  "broadcast_to); call .clone() before writing to it")
    op = AddAt if accumulate else Put
    if Observers.active:  # graph capture must see the write: make it an op
        return _observed_write(op, self, ix, src)
    if not (GradMode.enabled and (self._requires_grad or src._requires_grad)):
        try:
            (ix.add_at if accumulate else ix.put)(self._data, src._data)
        except ValueError:
            raise _mismatch(ix, (self, src)) from None
        self._vbox[0] += 1
        return self
    if self._base is not None and self._base._requires_grad:
        done = write_through_base(name, lambda v: op.apply(v, src, ix=ix), self, (), {})
        if done is not None:
            return done
    _check_recordable(name, self)
    out = op.apply(self, src, ix=ix, inplace=True)
    self.grad_fn, self._output_nr, self._requires_grad = out.grad_fn, 0, True
    self._vbox[0] += 1
    return self


def _observed_write(op, self, ix, src):
    """``write_at`` while an observer (``ember.jit`` capture) watches: through the op."""
    recording = GradMode.enabled and (self._requires_grad or src._requires_grad)
    if recording:
        _check_recordable(op.__name__.lower(), self)
    out = op.apply(self, src, ix=ix, inplace=True)
    if recording:
        self.grad_fn, self._output_nr, self._requires_grad = out.grad_fn, 0, True
    self._vbox[0] += 1
    observe_write(self, out)
    return self


def write_through_base(name, fn, view, args, kwargs):
    """``view`` overwritten by ``fn(view, ...)`` when it is ``base[ix]`` (basic indexing) of a
    base that requires grad, as in ``y[0] += 1``; None for any other view.

    The base cannot keep its history, so the new values go into it through ``Put``
    (``write_at``, which recurses up a chain of views), and the view becomes a fresh
    ``Take`` of the new base (PyTorch's CopySlices). ``fn`` runs on a snapshot, so what
    it saves for backward is the old value (NOTE [in-place and autograd]).
    """
    node, base = view.grad_fn, view._base
    if type(node) is not Take or node._released or node.ix.adv is not None:
        return None
    if node.next_edges[0] is None or node.next_edges[0][0] is not (base.grad_fn or base):
        return None  # the view was taken before base's current history
    snapshot = _make(view._data.copy(), view._requires_grad, view.grad_fn, view._output_nr)
    snapshot._vbox = [view._vbox[0]]
    result = fn(snapshot, *args, **kwargs)
    write_at(name, base, node.ix, value_tensor(name, result, base._data.dtype))
    fresh = Take.apply(base, ix=node.ix)
    view.grad_fn, view._output_nr, view._requires_grad = fresh.grad_fn, 0, True
    if Observers.active:
        observe_write(view, fresh)
    return view


def value_tensor(op, value, dtype):
    """A number or Tensor as a Tensor of ``dtype`` (a differentiable cast for tensors)."""
    if isinstance(value, Tensor):
        return value if value._data.dtype == dtype else value.to(dtype)
    if isinstance(value, (bool, int, float, np.generic)):
        return _make(np.asarray(value).astype(dtype))
    kind = {np.dtype(np.float32): "Float", np.dtype(np.float64): "Double"}.get(dtype, "")
    raise TypeError(_with_line(f"{op}: can't assign a {type(value).__name__} to a "
                               f"{kind}Tensor of dtype {dtype}; use a number or a tensor"))
