"""Indexing: ``x[idx]`` and ``x[idx] = value``, with PyTorch's rules.

The index is parsed once into an ``Ix`` (``_index_primitives.py``): a basic part (ints,
slices, None), applied as a NumPy view, then an advanced part (integer and boolean
arrays), which copies. PyTorch applies the basic part first (an int is a ``select``),
so ``x[1, :, [0, 1]]`` keeps the sliced dimension first, where NumPy would move the
broadcast dimension to the front; doing it in two steps gives PyTorch's shapes.
"""

import warnings

import numpy as np

from ember._errors import _with_line, fmt_shape
from ember.autograd.traceable import traceable
from ember.ops._index_primitives import (
    Ix,
    Take,
    check_bounds,
    out_of_bounds,
    value_tensor,
    write_at,
)
from ember.tensor import Tensor

__all__ = []

_FULL = slice(None)
_ONE = np.zeros(1, np.intp)  # x[True] adds a dimension of size 1 and takes its element 0
_NONE = np.zeros(0, np.intp)  # x[False] adds a dimension of size 0


def _classify(item):
    """``(kind, value)`` of one index item, following PyTorch's conversions."""
    if item is None:
        return "none", None
    if item is Ellipsis:
        return "ellipsis", None
    if isinstance(item, slice):
        if item.step is not None and item.step.__index__() <= 0:
            raise ValueError(_with_line("getitem: step must be greater than zero "
                                        "(negative steps are not supported; use .flip())"))
        return "slice", item
    if isinstance(item, (bool, np.bool_)):
        return "bool", bool(item)
    if isinstance(item, (int, np.integer)):
        return "int", int(item)
    if isinstance(item, Tensor):
        arr = item._data
        if arr.dtype.kind == "f":
            raise IndexError(_with_line(
                f"getitem: tensors used as indices must be long, int, byte or bool tensors, "
                f"not {item.dtype}"))
        return _classify_array(arr)
    if isinstance(item, (list, tuple, np.ndarray)):
        return _classify_array(_sequence_array(item))
    if hasattr(item, "__index__"):
        return "int", item.__index__()
    raise IndexError(_with_line(
        "getitem: only integers, slices (`:`), ellipsis (`...`), None and long or byte "
        f"tensors are valid indices (got {type(item).__name__})"))


def _classify_array(arr):
    if arr.dtype == np.uint8:  # PyTorch's deprecated byte masks
        arr = arr.astype(bool)
    if arr.ndim == 0:
        return ("bool", bool(arr)) if arr.dtype == np.bool_ else ("int", int(arr))
    return ("mask" if arr.dtype == np.bool_ else "array"), arr


def _sequence_array(seq):
    """A list or array used as an index: int64, or bool for masks (floats truncate, as in
    PyTorch)."""
    arr = np.asarray(seq._data if isinstance(seq, Tensor) else _unwrap(seq))
    if arr.dtype.kind in "biu":
        return arr
    if arr.size == 0 or arr.dtype.kind == "f":
        return arr.astype(np.int64)
    raise IndexError(_with_line(f"getitem: cannot index with a sequence of {arr.dtype}"))


def _unwrap(seq):
    if isinstance(seq, Tensor):
        return seq._data
    if isinstance(seq, (list, tuple)):
        return [_unwrap(s) for s in seq]
    return seq


def _as_items(index):
    if isinstance(index, tuple):
        return index
    if isinstance(index, list) and len(index) < 32 and any(
            isinstance(i, (Tensor, list, tuple, slice)) or i is None or i is Ellipsis
            for i in index):
        warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated; "
                      "use x[tuple(seq)] instead of x[seq] (PyTorch 2.13 still reads it as "
                      "a tuple, and so does ember)", UserWarning, stacklevel=4)
        return tuple(index)
    return (index,)


def _consumed(kind, value):
    if kind in ("int", "slice", "array"):
        return 1
    return value.ndim if kind == "mask" else 0


def _parse_basic(index, shape, op):
    """The common case, fast: an int, a slice, or a tuple of them; else None."""
    items = index if type(index) is tuple else (index,)
    if len(items) > len(shape):
        return None
    for d, item in enumerate(items):
        kind = type(item)
        if kind is int:
            if not -shape[d] <= item < shape[d]:
                raise out_of_bounds(op, item, d, shape[d])
        elif kind is not slice or not (item.step is None or type(item.step) is int
                                       and item.step > 0):
            return None
    return Ix(items + (Ellipsis,), None, True, op)


def parse(index, shape, op="getitem"):
    """The :class:`Ix` of ``x[index]`` for a tensor of ``shape``, checked against it."""
    ix = _parse_basic(index, shape, op)
    if ix is not None:
        return ix
    items = [_classify(i) for i in _as_items(index)]
    spec = sum(_consumed(k, v) for k, v in items)
    if spec > len(shape):
        raise _too_many(op, items, len(shape))
    walk = _Walk(shape, op, len(shape) - spec)
    for kind, value in items:
        getattr(walk, kind)(value)
    return Ix(_basic_tuple(walk.basic), _adv_tuple(walk.adv), walk.unique, op)


def _too_many(op, items, ndim):
    if ndim == 0 and items[0][0] in ("int", "slice"):
        what = "slice()" if items[0][0] == "slice" else "an integer index"
        return IndexError(_with_line(f"{op}: {what} cannot be applied to a 0-dim tensor; "
                                     "use tensor.item() to read its value"))
    return IndexError(_with_line(f"{op}: too many indices for tensor of dimension {ndim}"))


class _Walk:
    """Turns index items, left to right, into the basic tuple and the advanced arrays.

    ``src`` is the input's dimension the next item indexes, ``dim`` the dimension of the
    basic view it lands on (ints remove one, None adds one); ``adv`` maps a view
    dimension to the array that indexes it.
    """

    def __init__(self, shape, op, rest):
        self.shape, self.op, self.rest = shape, op, rest  # rest: dims an ellipsis stands for
        self.basic, self.adv, self.unique = [], {}, True
        self.src = self.dim = 0
        self.seen_ellipsis = False

    def int(self, value):
        size = self.shape[self.src]
        if not -size <= value < size:
            raise out_of_bounds(self.op, value, self.src, size)
        self.basic.append(value)
        self.src += 1

    def slice(self, value):
        self._keep(value, 1)

    def none(self, _):
        self.basic.append(None)
        self.dim += 1

    def ellipsis(self, _):
        if self.seen_ellipsis:
            raise IndexError(_with_line(f"{self.op}: an index can only have a single "
                                        "ellipsis ('...')"))
        self.seen_ellipsis = True
        self._keep(_FULL, self.rest)

    def bool(self, value):
        # PyTorch: a new dimension of size 1, indexed by [0] (True) or [] (False).
        self.adv[self.dim] = _ONE if value else _NONE
        self.none(None)

    def mask(self, value):
        _check_mask(self.op, value, self.shape, self.src)
        self.adv[self.dim] = value
        self._keep(_FULL, value.ndim)

    def array(self, value):
        check_bounds(self.op, value, self.src, self.shape[self.src])
        self.adv[self.dim], self.unique = value, False
        self._keep(_FULL, 1)

    def _keep(self, item, count):
        """``count`` dimensions that stay in the view, each indexed by ``item``."""
        self.basic.extend([item] * count)
        self.src += count
        self.dim += count


def _check_mask(op, mask, shape, start):
    for j, s in enumerate(mask.shape):
        if s != shape[start + j]:
            raise IndexError(_with_line(
                f"{op}: the shape of the mask {fmt_shape(mask.shape)} at index {j} does not "
                f"match the shape of the indexed tensor {fmt_shape(shape)} at index "
                f"{start + j}"))


def _basic_tuple(basic):
    if all(b == _FULL for b in basic):
        return None
    return tuple(basic) + (Ellipsis,)  # the Ellipsis keeps NumPy from returning a scalar


def _adv_tuple(adv):
    if not adv:
        return None
    out, pos = [], 0
    for dim in sorted(adv):
        out.extend([_FULL] * (dim - pos))
        arr = adv[dim]
        out.append(arr)
        pos = dim + (arr.ndim if arr.dtype == np.bool_ else 1)
    return tuple(out)


# ---- the Tensor methods --------------------------------------------------------------


@traceable("getitem")
def getitem(self, index):
    """``x[index]`` with PyTorch's rules: ints, slices (positive steps), None, ``...``,
    bool masks and integer tensors/lists (advanced indexing, broadcast together).

    Basic indexing (no tensors or lists) returns a view that shares memory and the
    version counter with ``x``; advanced indexing returns a copy. The gradient is the
    output gradient added into zeros of ``x``'s shape (repeated indices accumulate).
    """
    ix = parse(index, self._data.shape)
    if ix.basic is not None and ix.adv is not None:
        view = Take.apply(self, ix=Ix(ix.basic, None, True, ix.op))
        return Take.apply(view, ix=Ix(None, ix.adv, ix.unique, ix.op))
    if ix.basic is None and ix.adv is None:
        return Take.apply(self, ix=Ix((Ellipsis,), None, True, ix.op))
    return Take.apply(self, ix=ix)


def setitem(self, index, value):
    """``x[index] = value`` in place: ``value`` (a number or tensor) is cast to ``x``'s
    dtype and broadcast to the indexed shape.

    Gradients flow to the old ``x`` (zero where it was overwritten) and to ``value``
    (the gradient at those positions, summed to ``value``'s shape). A leaf that
    requires grad is refused outside ``no_grad``, as in PyTorch.
    """
    ix = parse(index, self._data.shape, "setitem")
    src = value_tensor("setitem", value, self._data.dtype)
    write_at("setitem", self, ix, src)


METHODS = {"__getitem__": getitem, "__setitem__": setitem}

FUNCTIONAL = []
