"""Extremes: max and min (a value, or values and indices along a dim), amax, amin,
argmax, argmin and aminmax.

NaN counts as larger than every number for max and smaller for min, so it propagates,
as in PyTorch. Along a dim the gradient goes to the selected element (the first of
ties, whose index is returned); over whole reductions (``max()``, ``amax``) ties share
it evenly.
"""

import numpy as np

from ember._errors import index_error, runtime_error
from ember.autograd.node import Op
from ember.ops._along import Select, evenly, host, return_type
from ember.ops._reduce_dims import norm_dim, norm_dims
from ember.ops.compare import maximum, minimum
from ember.tensor import Tensor

__all__ = ["max", "min", "amax", "amin", "argmax", "argmin", "aminmax"]

MaxResult = return_type("max")
MinResult = return_type("min")
AminmaxResult = return_type("aminmax", ("min", "max"))


class Extreme(Op):
    """``amax``/``amin`` over ``axes``; tied elements share the gradient evenly."""

    def forward(self, x, reduce, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim
        self.save_inputs(0)
        self.save_outputs(0)
        return reduce(x, axis=axes, keepdims=keepdim)

    def backward(self, grad_out):
        (x,), (out,) = self.saved_inputs, self.saved_outputs
        return evenly(grad_out, x, out, self.axes, self.keepdim)


class ArgExtreme(Op):
    """The int64 position of the first extreme element (of the flattened input if no axis)."""

    differentiable = False

    def forward(self, x, arg, axis, keepdim):
        if axis is None:
            out = arg(x.reshape(-1))
            return np.full((1,) * x.ndim if keepdim else (), out, dtype=np.int64)
        out = arg(host(x), axis=axis, keepdims=keepdim)
        return out.astype(np.int64, copy=False).reshape(out.shape if x.ndim else ())


class MaxDim(Select):
    """``max(input, dim)``: the first largest element of each slice and its index."""

    def choose(self, data, axis):
        return np.argmax(data, axis=axis, keepdims=True)


class MinDim(Select):
    """``min(input, dim)``: the first smallest element of each slice and its index."""

    def choose(self, data, axis):
        return np.argmin(data, axis=axis, keepdims=True)


def _check_full(input, op, error=runtime_error):
    if input._data.size == 0:
        raise error(op, "Expected reduction dim to be specified for input.numel() == 0. "
                        "Specify the reduction dim with the 'dim' argument.")


def _check_axes(input, axes, op):
    shape = input._data.shape
    for a in axes:
        if shape and shape[a] == 0:
            raise index_error(op, f"Expected reduction dim {a} to have non-zero size.")


def _reduce(input, dim, keepdim, reduce, op):
    axes = norm_dims(dim, input._data.ndim, op)
    if dim is None or dim == () or dim == []:
        _check_full(input, op)
    _check_axes(input, axes, op)
    return Extreme.apply(input, reduce=reduce, axes=axes, keepdim=keepdim)


def _along(input, dim, keepdim, select, result, op):
    axis = norm_dim(dim, input._data.ndim, op)
    _check_axes(input, (axis,), op)
    return result(*select.apply(input, axis=axis, keepdim=keepdim))


def max(input, dim=None, keepdim=False, *, other=None):  # noqa: A001, A002
    """The largest element; or ``(values, indices)`` along ``dim``; or ``maximum(input, other)``.

    Args:
        input: a tensor.
        dim: the dimension to reduce (an int); a Tensor here means ``maximum(input, dim)``.
        keepdim: keep the reduced dimension with size 1.
        other: a tensor to compare with elementwise (``maximum``).

    Returns:
        A 0-dim tensor without ``dim``; with it a named tuple ``(values, indices)`` where
        ``indices`` (int64) point at the first largest element of each slice.
    """
    if other is not None or isinstance(dim, Tensor):
        return maximum(input, dim if other is None else other)
    if dim is None:
        return _reduce(input, None, False, np.max, "max")
    return _along(input, dim, keepdim, MaxDim, MaxResult, "max")


def min(input, dim=None, keepdim=False, *, other=None):  # noqa: A001, A002
    """The smallest element; or ``(values, indices)`` along ``dim``; or ``minimum(input, other)``.

    The arguments are those of :func:`max`.
    """
    if other is not None or isinstance(dim, Tensor):
        return minimum(input, dim if other is None else other)
    if dim is None:
        return _reduce(input, None, False, np.min, "min")
    return _along(input, dim, keepdim, MinDim, MinResult, "min")


def amax(input, dim=(), keepdim=False):  # noqa: A002
    """The largest values over ``dim``: ``out = max_i x_i``.

    Unlike ``max(dim)`` it returns no indices, and tied elements share the gradient evenly.

    Args:
        input: a tensor.
        dim: an int or a tuple of ints; all dimensions when empty (or None).
        keepdim: keep the reduced dimensions with size 1.
    """
    return _reduce(input, dim, keepdim, np.max, "amax")


def amin(input, dim=(), keepdim=False):  # noqa: A002
    """The smallest values over ``dim``; the arguments are those of :func:`amax`."""
    return _reduce(input, dim, keepdim, np.min, "amin")


def aminmax(input, *, dim=None, keepdim=False):  # noqa: A002
    """``(min, max)`` over ``dim`` as a named tuple with fields ``min`` and ``max``.

    Args:
        input: a tensor.
        dim: an int, or None for all elements (keyword only, as in PyTorch).
        keepdim: keep the reduced dimension with size 1.
    """
    axes = norm_dims(dim, input._data.ndim, "aminmax")
    if input._data.size == 0 and (dim is None or 0 in [input._data.shape[a] for a in axes]):
        raise runtime_error("aminmax", "cannot compute aminmax over an empty dimension as the "
                                       "operation has no identity")
    if dim is not None:
        norm_dim(dim, input._data.ndim, "aminmax")
    lo = Extreme.apply(input, reduce=np.min, axes=axes, keepdim=keepdim)
    hi = Extreme.apply(input, reduce=np.max, axes=axes, keepdim=keepdim)
    return AminmaxResult(lo, hi)


def _arg(input, dim, keepdim, arg, op):
    if input._data.dtype == np.bool_:
        raise runtime_error(op, "does not support bool input")
    if dim is None:
        _check_full(input, op, index_error)
        return ArgExtreme.apply(input, arg=arg, axis=None, keepdim=keepdim)
    axis = norm_dim(dim, input._data.ndim, op)
    _check_axes(input, (axis,), op)
    return ArgExtreme.apply(input, arg=arg, axis=axis, keepdim=keepdim)


def argmax(input, dim=None, keepdim=False):  # noqa: A002
    """The int64 index of the first largest element.

    Args:
        input: a tensor (not bool).
        dim: the dimension to search; None searches the flattened input.
        keepdim: keep the reduced dimension(s) with size 1.
    """
    return _arg(input, dim, keepdim, np.argmax, "argmax")


def argmin(input, dim=None, keepdim=False):  # noqa: A002
    """The int64 index of the first smallest element; the arguments are those of ``argmax``."""
    return _arg(input, dim, keepdim, np.argmin, "argmin")


METHODS = {"max": max, "min": min, "amax": amax, "amin": amin, "argmax": argmax,
           "argmin": argmin, "aminmax": aminmax}

FUNCTIONAL = []
