"""Views of part of a tensor: narrow, select, diagonal, unfold; and diag, diag_embed, trace.

``narrow``, ``select``, ``diagonal`` and ``Tensor.unfold`` return NumPy views that share
memory (and the version counter) with their input, as PyTorch's do, so writing through
them under ``no_grad`` changes the base. Each view op's backward is a "scatter" op that
places the gradient into zeros of the input's shape; the scatter's own backward is the
view again, so gradients of gradients work.
"""

import numpy as np

from ember._errors import fmt_shape, index_error, runtime_error, shape_error
from ember.autograd.node import Op
from ember.ops._methods import write_out
from ember.ops.reduce import sum as _sum
from ember.ops.shape import norm_dim

__all__ = ["narrow", "select", "diagonal", "diag", "diag_embed", "trace"]


class Slice(Op):
    """``x[index]`` for a tuple of ints and slices (basic indexing): a view."""

    is_view = True

    def forward(self, x, index):
        self.in_shape, self.index = x.shape, index
        return x[index]

    def backward(self, grad_out):
        return SliceScatter.apply(grad_out, shape=self.in_shape, index=self.index)


class SliceScatter(Op):
    """Zeros of ``shape`` with ``g`` written at ``index``: the backward of ``Slice``."""

    def forward(self, g, shape, index):
        self.index = index
        out = np.zeros(shape, g.dtype)
        out[index] = g
        return out

    def backward(self, grad_out):
        return Slice.apply(grad_out, index=self.index)


def slice_along(dim, key):
    """The index tuple that applies ``key`` (an int or a slice) to axis ``dim`` only."""
    # The trailing Ellipsis keeps an int index returning a 0-d view, never a NumPy scalar.
    return (slice(None),) * dim + (key, Ellipsis)


def narrow(input, dim, start, length):  # noqa: A002
    """The view ``input[..., start:start + length, ...]`` along ``dim``.

    Args:
        input: tensor of any shape with at least one dimension.
        dim: the dimension to narrow (negative counts from the end).
        start: first index kept (negative counts from the end; may be a 0-dim tensor).
        length: number of indices kept.

    Returns:
        A view of ``input`` with ``size(dim) == length``.
    """
    shape = input._data.shape
    d = norm_dim(dim, len(shape), "narrow")
    size, start, length = shape[d], int(start), int(length)
    if not -size <= start <= size:
        raise index_error("narrow", f"start out of range (expected to be in range of "
                                    f"[{-size}, {size}], but got {start})")
    start = start + size if start < 0 else start
    if length < 0:
        raise runtime_error("narrow", "length must be non-negative")
    if start + length > size:
        raise shape_error("narrow", f"start ({start}) + length ({length}) exceeds dimension "
                                    f"size ({size}) of the tensor of shape {fmt_shape(shape)}")
    return Slice.apply(input, index=slice_along(d, slice(start, start + length)))


def select(input, dim, index):  # noqa: A002
    """The view ``input[..., index, ...]`` along ``dim``: that dimension is removed.

    Args:
        input: tensor with at least one dimension.
        dim: the dimension to index (negative counts from the end).
        index: the position along ``dim`` (negative counts from the end).

    Returns:
        A view with one dimension fewer than ``input``.
    """
    shape = input._data.shape
    if not shape:
        raise index_error("select", "select() cannot be applied to a 0-dim tensor")
    d = norm_dim(dim, len(shape), "select")
    index = int(index)
    if not -shape[d] <= index < shape[d]:
        raise index_error("select", f"index {index} out of range for tensor of size "
                                    f"{list(shape)} at dimension {dim}")
    return Slice.apply(input, index=slice_along(d, index % shape[d]))


def _diagonal_view(x, offset, dim1, dim2):
    d = np.diagonal(x, offset, dim1, dim2)
    if x.flags.writeable:  # NumPy marks diagonals read-only; PyTorch lets one write to them
        d.flags.writeable = True
    return d


class Diagonal(Op):
    """The diagonal of the planes (dim1, dim2), moved to the last dimension: a view."""

    is_view = True

    def forward(self, x, offset, dim1, dim2, copy=False):
        self.in_shape, self.args = x.shape, (offset, dim1, dim2)
        if copy:
            self.is_view = False
            return np.diagonal(x, offset, dim1, dim2).copy()
        return _diagonal_view(x, offset, dim1, dim2)

    def backward(self, grad_out):
        return DiagonalScatter.apply(grad_out, shape=self.in_shape, args=self.args)


class DiagonalScatter(Op):
    """Zeros of ``shape`` with ``g`` written on a diagonal: the backward of ``Diagonal``."""

    def forward(self, g, shape, args):
        self.args = args
        out = np.zeros(shape, g.dtype)
        _diagonal_view(out, *args)[...] = g
        return out

    def backward(self, grad_out):
        offset, dim1, dim2 = self.args
        return Diagonal.apply(grad_out, offset=offset, dim1=dim1, dim2=dim2)


def _diag_dims(ndim, dim1, dim2, op):
    d1, d2 = norm_dim(dim1, ndim, op), norm_dim(dim2, ndim, op)
    if d1 == d2:
        raise runtime_error(op, f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input, offset=0, dim1=0, dim2=1):  # noqa: A002
    """The view of the diagonal ``input[..., i, i + offset, ...]`` over dims (dim1, dim2).

    Args:
        input: tensor with at least 2 dimensions.
        offset: 0 for the main diagonal, > 0 above it, < 0 below it.
        dim1, dim2: the two dimensions whose diagonal is taken.

    Returns:
        A view whose last dimension runs along the diagonal; dim1 and dim2 are removed.
    """
    d1, d2 = _diag_dims(input._data.ndim, dim1, dim2, "diagonal")
    return Diagonal.apply(input, offset=int(offset), dim1=d1, dim2=d2)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):  # noqa: A002
    """Matrices whose diagonal ``offset`` in the planes (dim1, dim2) holds ``input``'s last dim.

    Args:
        input: tensor of shape ``(..., n)``.
        offset: which diagonal to fill (0 main, > 0 above, < 0 below).
        dim1, dim2: where the two new dimensions of size ``n + |offset|`` go in the result.

    Returns:
        Tensor with one more dimension than ``input``, zero off that diagonal.
    """
    shape = input._data.shape
    d1, d2 = _diag_dims(len(shape) + 1, dim1, dim2, "diag_embed")
    n = (shape[-1] if shape else 1) + abs(int(offset))
    rest = list(shape[:-1])
    out_shape = []
    for i in range(len(shape) + 1):
        out_shape.append(n if i in (d1, d2) else rest.pop(0))
    if not shape:
        input = input.reshape(1)
    return DiagonalScatter.apply(input, shape=tuple(out_shape), args=(int(offset), d1, d2))


def diag(input, diagonal=0, *, out=None):  # noqa: A002
    """A 1-D tensor as a square matrix with it on ``diagonal``; a matrix's ``diagonal`` as 1-D.

    Args:
        input: tensor of shape ``(n,)`` or ``(m, n)``.
        diagonal: 0 for the main diagonal, > 0 above it, < 0 below it.

    Returns:
        ``(n + |diagonal|, n + |diagonal|)`` for a vector; a new 1-D tensor for a matrix.
    """
    ndim = input._data.ndim
    if ndim == 1:
        result = diag_embed(input, diagonal, 0, 1)
    elif ndim == 2:
        result = Diagonal.apply(input, offset=int(diagonal), dim1=0, dim2=1, copy=True)
    else:
        raise runtime_error("diag", f"supports 1D or 2D tensors, got {ndim}D "
                                    f"(shape {fmt_shape(input._data.shape)})")
    return write_out(result, out)


def trace(input):  # noqa: A002
    """The sum of the main diagonal of a matrix (integers sum to int64, as in PyTorch)."""
    if input._data.ndim != 2:
        raise runtime_error("trace", f"expected a matrix, but got tensor with dim "
                                     f"{input._data.ndim} (shape {fmt_shape(input._data.shape)})")
    if input._data.dtype == np.bool_:
        raise runtime_error("trace", "not implemented for bool tensors (as in PyTorch)")
    return _sum(Diagonal.apply(input, offset=0, dim1=0, dim2=1))


def _windows(x, dim, size, step):
    n_win = (x.shape[dim] - size) // step + 1
    shape = x.shape[:dim] + (n_win,) + x.shape[dim + 1:] + (size,)
    strides = x.strides[:dim] + (x.strides[dim] * step,) + x.strides[dim + 1:] \
        + (x.strides[dim],)
    return np.lib.stride_tricks.as_strided(x, shape, strides, writeable=x.flags.writeable)


class Unfold(Op):
    """Sliding windows along one dimension, as a strided view (``Tensor.unfold``)."""

    is_view = True

    def forward(self, x, dim, size, step):
        self.in_shape, self.args = x.shape, (dim, size, step)
        return _windows(x, dim, size, step)

    def backward(self, grad_out):
        return UnfoldBackward.apply(grad_out, shape=self.in_shape, args=self.args)


class UnfoldBackward(Op):
    """Sum each window's gradient back into place; overlapping windows add up."""

    def forward(self, g, shape, args):
        self.args = dim, size, step = args
        out = np.zeros(shape, g.dtype)
        if step >= size:  # windows do not overlap: one strided write
            _windows(out, dim, size, step)[...] = g
            return out
        n_win = g.shape[dim]
        # One vectorized add per position inside the window (size is small: a kernel).
        for k in range(size):
            target = slice_along(dim, slice(k, k + step * (n_win - 1) + 1, step))
            out[target] += g[..., k]
        return out

    def backward(self, grad_out):
        dim, size, step = self.args
        return Unfold.apply(grad_out, dim=dim, size=size, step=step)


def unfold(input, dimension, size, step):  # noqa: A002
    """All windows of ``size`` elements, ``step`` apart, along ``dimension`` (a view).

    Args:
        input: tensor of shape ``(..., n, ...)``.
        dimension: the dimension to slide along.
        size: the window length; step: the distance between window starts (> 0).

    Returns:
        A view of shape ``(..., (n - size) // step + 1, ..., size)``: the windows' elements
        form a new last dimension.
    """
    shape = input._data.shape
    if not shape:  # PyTorch treats a 0-dim tensor as one element and drops the window dim
        return unfold(input.reshape(1), 0, size, step).reshape(int(size))
    d = norm_dim(dimension, len(shape), "unfold")
    if size > shape[d]:
        raise runtime_error("unfold", f"maximum size for tensor at dimension {d} is "
                                      f"{shape[d]} but size is {size}")
    if step <= 0:
        raise runtime_error("unfold", f"step is {step} but must be > 0")
    if size < 0:
        raise runtime_error("unfold", f"size is {size} but must be >= 0")
    return Unfold.apply(input, dim=d, size=int(size), step=int(step))


METHODS = {
    "narrow": narrow, "select": select, "diagonal": diagonal, "diag": diag,
    "diag_embed": diag_embed, "trace": trace, "unfold": unfold,
}

FUNCTIONAL = []
