"""Dimension bookkeeping shared by the reduction family (reduce, moments, extrema, scan,
sort): normalizing ``dim`` arguments, keepdim shapes, and broadcasting a reduction's
gradient back to its input.
"""

import numpy as np

from ember._errors import index_error, runtime_error, type_error
from ember.autograd.broadcast import Expand
from ember.tensor import Tensor

__all__ = ["norm_dim", "norm_dims", "kept_shape", "keep_dims", "grad_to_input", "const",
           "omit_each"]

_make = Tensor._make


def norm_dim(dim, ndim, op):
    """One ``dim`` as a non-negative axis; a 0-dim tensor accepts 0 and -1 (axis 0)."""
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise type_error(op, f"argument 'dim' must be int, not {type(dim).__name__}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise index_error(op, f"dimension out of range (expected to be in range of "
                              f"[{-n}, {n - 1}], but got {dim})")
    return int(dim) % n


def norm_dims(dim, ndim, op):
    """``dim`` as a sorted tuple of axes: all axes for None or ``()``, none for a 0-dim tensor."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if not dims:
        return tuple(range(ndim))
    axes = []
    for d in dims:
        axis = norm_dim(d, ndim, op)
        if axis in axes:
            raise runtime_error(op, f"dim {axis} appears multiple times in the list of dims")
        axes.append(axis)
    return tuple(sorted(axes)) if ndim else ()


def kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` set to 1 (the keepdim shape)."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def grad_to_input(grad_out, in_shape, axes, keepdim):
    """Broadcast the gradient of a reduction back to the input's shape."""
    return Expand.apply(keep_dims(grad_out, in_shape, axes, keepdim), shape=in_shape)


def keep_dims(t, in_shape, axes, keepdim):
    """A reduction's result ``t`` reshaped to the keepdim shape (a no-op when it has it)."""
    if keepdim or not in_shape:
        return t
    return t.reshape(kept_shape(in_shape, axes))


def const(array, np_dtype):
    """A constant Tensor (a mask or weights) of ``np_dtype``, outside the graph."""
    return _make(np.asarray(array, dtype=np_dtype))


def omit_each(x, axis):
    """``n`` copies of ``x`` stacked in front, copy ``k`` with ``x[k]`` along ``axis`` set to 1.

    Products over ``axis + 1`` of the result leave one element out each (O(n) memory
    per element: only for differentiable gradients at zeros).
    """
    n, d = x._data.shape[axis], x._data.dtype
    eye = np.eye(n, dtype=d).reshape((n,) + (1,) * axis + (n,) + (1,) * (x.ndim - axis - 1))
    return x.unsqueeze(0) * const(1 - eye, d) + const(eye, d)
