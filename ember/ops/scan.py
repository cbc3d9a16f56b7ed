"""Cumulative ops along one dimension: cumsum, cumprod, cummax, cummin.

The backward of a cumulative sum is a cumulative sum in reverse, and the reverse
sum's backward is the forward sum again, so both directions are one op here. The
gradient of ``cumprod`` is exact with zeros in the input (only the first zero of a
slice and the elements before it get a gradient).
"""

import numpy as np

from ember._dtype import as_dtype
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.ops._along import Select, return_type
from ember.ops._methods import inplace
from ember.ops._reduce_dims import const, norm_dim, omit_each

__all__ = ["cumsum", "cumprod", "cummax", "cummin"]

CummaxResult = return_type("cummax")
CumminResult = return_type("cummin")


def _int_dtype(x, dtype):
    """PyTorch's result dtype: bools and integers accumulate in int64 unless told otherwise."""
    if dtype is None and x.dtype.kind in "bui":
        return np.int64
    return dtype


class Cumsum(Op):
    """``out_i = sum_{j <= i} x_j`` along ``axis`` (``j >= i`` when ``reverse``)."""

    def forward(self, x, axis, dtype, reverse):
        self.axis, self.reverse = axis, reverse
        dtype = _int_dtype(x, dtype)
        if x.ndim == 0:
            return x.astype(dtype or x.dtype)
        if reverse:
            flipped = np.flip(x, axis)
            return np.flip(np.cumsum(flipped, axis=axis, dtype=dtype), axis)
        return np.cumsum(x, axis=axis, dtype=dtype)

    def backward(self, grad_out):
        return Cumsum.apply(grad_out, axis=self.axis, dtype=None, reverse=not self.reverse)


class Cumprod(Op):
    """``out_i = prod_{j <= i} x_j`` along ``axis``."""

    def forward(self, x, axis, dtype):
        self.axis = axis
        self.save_inputs(0)
        self.save_outputs(0)
        dtype = _int_dtype(x, dtype)
        if x.ndim == 0:
            return x.astype(dtype or x.dtype)
        return np.cumprod(x, axis=axis, dtype=dtype)

    def backward(self, grad_out):
        (x,), (out,) = self.saved_inputs, self.saved_outputs
        if x._data.ndim == 0:
            return grad_out
        return _cumprod_grad(grad_out, x, out, self.axis)


def _reverse_cumsum(t, axis):
    return Cumsum.apply(t, axis=axis, dtype=None, reverse=True)


def _cumprod_grad(grad_out, x, out, axis):
    """d/dx_k of sum_i g_i out_i = sum_{i >= k} g_i prod_{j <= i, j != k} x_j.

    Before a slice's first zero ``z`` this is ``reverse_cumsum(g * out) / x``. At ``z``
    it is ``prod(x[:z]) * reverse_cumsum(g * cumprod(x[z+1:]))``; after ``z`` every
    product holds the zero, so it is 0.
    """
    data = x._data
    is_zero = data == 0
    if not is_zero.any():
        return _reverse_cumsum(grad_out * out, axis) / x
    if GradMode.enabled:  # differentiable at zeros too: every product taken explicitly
        return _cumprod_grad_explicit(grad_out, x, axis)
    d = data.dtype
    seen = np.cumsum(is_zero, axis=axis)
    after = seen > 0  # at or after the first zero
    first = is_zero & (seen == 1)
    later = after & ~first
    before_f, after_f = const(~after, d), const(after, d)
    x_before = x * before_f + after_f  # ones from the first zero on
    grad = _reverse_cumsum(grad_out * out, axis) / x_before * before_f
    x_later = x * const(later, d) + const(~later, d)  # ones up to the first zero
    tail = _reverse_cumsum(grad_out * cumprod(x_later, axis) * after_f, axis)
    return grad + cumprod(x_before, axis) * tail * const(first, d)


def _cumprod_grad_explicit(grad_out, x, axis):
    """sum_{i >= k} g_i prod_{j <= i, j != k} x_j with one running product per k."""
    n = x._data.shape[axis]
    later = np.triu(np.ones((n, n), dtype=x._data.dtype))  # [k, i]: i >= k
    later = later.reshape((n,) + (1,) * axis + (n,) + (1,) * (x.ndim - axis - 1))
    products = cumprod(omit_each(x, axis), axis + 1)
    return (grad_out.unsqueeze(0) * products * const(later, x._data.dtype)).sum(axis + 1) \
        .movedim(0, axis)


def cumsum(input, dim, *, dtype=None):  # noqa: A002
    """Running sum along ``dim``: ``out_i = x_0 + ... + x_i``.

    Args:
        input: a tensor; bools and integers accumulate in int64.
        dim: the dimension to run along (required).
        dtype: the dtype to accumulate in and return.
    """
    axis = norm_dim(dim, input._data.ndim, "cumsum")
    np_dtype = None if dtype is None else as_dtype(dtype).np
    return Cumsum.apply(input, axis=axis, dtype=np_dtype, reverse=False)


def cumprod(input, dim, *, dtype=None):  # noqa: A002
    """Running product along ``dim``: ``out_i = x_0 * ... * x_i``.

    The arguments are those of :func:`cumsum`; the gradient is exact with zeros.
    """
    axis = norm_dim(dim, input._data.ndim, "cumprod")
    np_dtype = None if dtype is None else as_dtype(dtype).np
    return Cumprod.apply(input, axis=axis, dtype=np_dtype)


class _CumulativeExtreme(Select):
    """The running extreme along ``axis`` and the index where it was found."""

    unique = False  # a running maximum can come from one element many times
    accumulate = None

    def choose(self, data, axis):
        running = self.accumulate(data, axis=axis)
        # A new extreme (or a tie, or a NaN) moves the index to the current position.
        moved = data == running
        if data.dtype.kind == "f":
            moved |= np.isnan(data)
        shape = [1] * data.ndim
        shape[axis] = data.shape[axis]
        positions = np.where(moved, np.arange(data.shape[axis]).reshape(shape), 0)
        return np.maximum.accumulate(positions, axis=axis), running


class Cummax(_CumulativeExtreme):
    accumulate = staticmethod(np.maximum.accumulate)


class Cummin(_CumulativeExtreme):
    accumulate = staticmethod(np.minimum.accumulate)


def cummax(input, dim):  # noqa: A002
    """``(values, indices)``: the running maximum along ``dim`` and where it was found.

    Ties move the index to the later element and NaN propagates, as in PyTorch.
    """
    axis = norm_dim(dim, input._data.ndim, "cummax")
    return CummaxResult(*Cummax.apply(input, axis=axis, keepdim=True))


def cummin(input, dim):  # noqa: A002
    """``(values, indices)``: the running minimum along ``dim`` (see :func:`cummax`)."""
    axis = norm_dim(dim, input._data.ndim, "cummin")
    return CumminResult(*Cummin.apply(input, axis=axis, keepdim=True))


METHODS = {"cumsum": cumsum, "cumprod": cumprod, "cummax": cummax, "cummin": cummin,
           "cumsum_": inplace(cumsum, "cumsum_"), "cumprod_": inplace(cumprod, "cumprod_")}

FUNCTIONAL = []
