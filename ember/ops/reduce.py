"""Reductions over dimensions: sum, mean (and, in this family, the other reductions).

``dim`` may be an int, a tuple, or None for all dimensions; ``keepdim`` keeps the
reduced dimensions with size 1. Backward re-inserts the reduced dimensions and lets
``expand`` broadcast the gradient back.
"""

import numpy as np

from ember._dtype import as_dtype
from ember._errors import shape_error, type_error
from ember.autograd.broadcast import Expand
from ember.autograd.node import Op

__all__ = ["sum", "mean"]


def norm_dims(dim, ndim, op):
    """``dim`` as a sorted tuple of non-negative axes (all axes for None)."""
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if not dims:
        return tuple(range(ndim))
    out = set()
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise shape_error(op, f"dimension out of range (expected to be in range of "
                                  f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {d})")
        out.add(d % ndim if ndim else 0)
    return tuple(sorted(out))


def kept_shape(shape, axes):
    """``shape`` with the reduced ``axes`` set to 1 (the keepdim shape)."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def grad_to_input(grad_out, in_shape, axes, keepdim):
    """Broadcast the gradient of a reduction back to the input's shape."""
    if not keepdim and in_shape:
        grad_out = grad_out.reshape(kept_shape(in_shape, axes))
    return Expand.apply(grad_out, shape=in_shape)


class Sum(Op):
    def forward(self, x, axes, keepdim, dtype):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        if dtype is None and x.dtype.kind in "bui":
            dtype = np.int64
        return np.sum(x, axis=axes, keepdims=keepdim, dtype=dtype)

    def backward(self, grad_out):
        return grad_to_input(grad_out, self.in_shape, self.axes, self.keepdim)


class Mean(Op):
    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        self.count = int(np.prod([x.shape[a] for a in axes])) if axes else 1
        return np.mean(x, axis=axes, keepdims=keepdim)

    def backward(self, grad_out):
        return grad_to_input(grad_out / self.count, self.in_shape, self.axes, self.keepdim)


def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001, A002
    """Sum over ``dim`` (all dimensions when None); bools and ints sum to int64."""
    axes = norm_dims(dim, input._data.ndim, "sum")
    np_dtype = None if dtype is None else as_dtype(dtype).np
    return Sum.apply(input, axes=axes, keepdim=keepdim, dtype=np_dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Mean over ``dim``; only for floating tensors, as in PyTorch."""
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise type_error("mean", f"could not infer output dtype: input dtype must be "
                                 f"floating point, but got {input.dtype}; cast with .float()")
    axes = norm_dims(dim, input._data.ndim, "mean")
    return Mean.apply(input, axes=axes, keepdim=keepdim)


METHODS = {"sum": sum, "mean": mean}

FUNCTIONAL = []
