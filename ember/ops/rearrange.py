"""Ops that copy elements into a new arrangement: repeat, tile, repeat_interleave, flip,
roll, rot90, and the triangles tril/triu.

Each backward is the inverse rearrangement (flip by the same dims, roll back, rotate
back) or, for repetitions, the sum over the copies; all are Tensor ops, so gradients
of gradients work.
"""

import numpy as np

from ember._errors import fmt_shape, runtime_error
from ember.autograd.node import Op
from ember.ops._methods import inplace, write_out
from ember.ops.shape import norm_dim
from ember.tensor import Tensor, _sizes

__all__ = ["tile", "repeat_interleave", "flip", "fliplr", "flipud", "roll", "rot90", "tril",
           "triu"]

_make = Tensor._make


class Repeat(Op):
    """``Tensor.repeat``: the whole tensor tiled ``sizes[i]`` times along each dim."""

    def forward(self, x, sizes):
        self.in_shape = x.shape
        self.shape = (1,) * (len(sizes) - x.ndim) + x.shape
        self.sizes = sizes
        return np.tile(x.reshape(self.shape), sizes)

    def backward(self, grad_out):
        # View the gradient as (r0, s0, r1, s1, ...) and sum the copies r_i away.
        pairs = tuple(n for rs in zip(self.sizes, self.shape) for n in rs)
        summed = grad_out.reshape(pairs).sum(tuple(range(0, len(pairs), 2)))
        return summed.reshape(self.in_shape)


def repeat(input, *sizes):  # noqa: A002
    """Tile the tensor ``sizes[i]`` times along each dimension (``Tensor.repeat``).

    Args:
        input: tensor of shape ``s``.
        *sizes: repetitions per dimension, at least ``input.dim()`` of them; extra leading
            ones add new dimensions (like ``np.tile``).

    Returns:
        Tensor of shape ``(sizes[0] * s'[0], ...)`` with ``s'`` the shape padded with ones.
    """
    sizes = _sizes(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise runtime_error("repeat", f"number of dimensions of repeat dims ({len(sizes)}) can "
                                      "not be smaller than number of dimensions of the tensor "
                                      f"of shape {fmt_shape(shape)}")
    if any(s < 0 for s in sizes):
        raise runtime_error("repeat", f"repeats can not be negative, got {list(sizes)}")
    return Repeat.apply(input, sizes=sizes)


def tile(input, dims):  # noqa: A002
    """Like ``repeat``, but fewer ``dims`` than dimensions repeat the trailing ones."""
    dims = _sizes((dims,))
    return repeat(input, *((1,) * (input._data.ndim - len(dims)) + dims))


class RepeatInterleave(Op):
    """Each element repeated ``repeats`` times (an int, or one count per element)."""

    def forward(self, x, repeats, axis):
        self.in_shape, self.repeats, self.axis = x.shape, repeats, axis
        return np.repeat(x, repeats, axis)

    def backward(self, grad_out):
        if isinstance(self.repeats, int):
            shape, axis = self.in_shape, self.axis
            split = shape[:axis] + (shape[axis], self.repeats) + shape[axis + 1:]
            return grad_out.reshape(split).sum(axis + 1)
        return SegmentSum.apply(grad_out, repeats=self.repeats, axis=self.axis)


class SegmentSum(Op):
    """Sums of consecutive segments of ``repeats[i]`` elements along ``axis``."""

    def forward(self, g, repeats, axis):
        self.repeats, self.axis = repeats, axis
        shape = g.shape[:axis] + (len(repeats),) + g.shape[axis + 1:]
        nonzero = repeats > 0
        if nonzero.all():
            return np.add.reduceat(g, np.cumsum(repeats) - repeats, axis)
        out = np.zeros(shape, g.dtype)
        # reduceat cannot express an empty segment, so sum the others and leave zeros.
        starts = (np.cumsum(repeats) - repeats)[nonzero]
        if starts.size:
            out[(slice(None),) * axis + (nonzero,)] = np.add.reduceat(g, starts, axis)
        return out

    def backward(self, grad_out):
        return RepeatInterleave.apply(grad_out, repeats=self.repeats, axis=self.axis)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):  # noqa: A002
    """Repeat each element along ``dim`` (of the flattened tensor when ``dim`` is None).

    Args:
        input: tensor of any shape (or, called with only an int tensor of counts, the
            counts themselves: the result is then ``arange(len)`` repeated by them).
        repeats: an int, or a 0-d/1-d int tensor with one count per element along ``dim``.
        dim: the dimension to repeat along.

    Returns:
        Tensor whose ``dim`` has ``sum(repeats)`` elements.
    """
    if repeats is None:
        counts = input._data
        return repeat_interleave(_make(np.arange(counts.shape[0], dtype=np.int64)), input)
    if dim is None:
        input, dim = input.reshape(-1), 0
    axis = norm_dim(dim, input._data.ndim, "repeat_interleave")
    size = input._data.shape[axis] if input._data.ndim else 1
    counts = repeats._data if isinstance(repeats, Tensor) else np.asarray(repeats)
    if counts.ndim > 1 or counts.ndim == 1 and counts.shape[0] not in (1, size):
        raise runtime_error("repeat_interleave", f"repeats must have the same size as input "
                                                 f"along dim {dim}, but got repeats of shape "
                                                 f"{fmt_shape(counts.shape)} and input of "
                                                 f"shape {fmt_shape(input._data.shape)}")
    if (counts < 0).any():
        raise runtime_error("repeat_interleave", "repeats can not be negative")
    if counts.size == 1:
        repeats = int(counts.reshape(()))
    else:
        repeats = counts.astype(np.int64)
    if not input._data.ndim:
        input = input.reshape(1)
    return RepeatInterleave.apply(input, repeats=repeats, axis=axis)


class Flip(Op):
    def forward(self, x, axes):
        self.axes = axes
        # np.flip is a negative-stride view; PyTorch's flip returns new memory.
        return np.flip(x, axes).copy()

    def backward(self, grad_out):
        return Flip.apply(grad_out, axes=self.axes)


def _unique_dims(dims, ndim, op):
    axes = tuple(norm_dim(d, ndim, op) for d in dims)
    for a in axes:
        if axes.count(a) > 1:
            raise runtime_error(op, f"dim {a} appears multiple times in the list of dims")
    return axes


def flip(input, *dims):  # noqa: A002
    """Reverse the order of elements along each of ``dims`` (a copy, as in PyTorch).

    Args:
        input: tensor of any shape.
        *dims: the dimensions to reverse, as ints or one list/tuple (``x.flip(0, 1)``,
            ``flip(x, (0, 1))``).
    """
    dims = _sizes(dims)
    if input._data.ndim == 0:
        return Flip.apply(input, axes=())
    return Flip.apply(input, axes=_unique_dims(dims, input._data.ndim, "flip"))


def fliplr(input):  # noqa: A002
    """Flip left-right: reverse dimension 1 (the tensor needs at least 2 dimensions)."""
    if input._data.ndim < 2:
        raise runtime_error("fliplr", f"input must be >= 2-d, got shape "
                                      f"{fmt_shape(input._data.shape)}")
    return Flip.apply(input, axes=(1,))


def flipud(input):  # noqa: A002
    """Flip up-down: reverse dimension 0 (the tensor needs at least 1 dimension)."""
    if input._data.ndim < 1:
        raise runtime_error("flipud", "input must be >= 1-d, got a 0-dim tensor")
    return Flip.apply(input, axes=(0,))


class Roll(Op):
    def forward(self, x, shifts, axes):
        self.shifts, self.axes = shifts, axes
        return np.roll(x, shifts, axes)

    def backward(self, grad_out):
        neg = tuple(-s for s in self.shifts) if self.axes is not None else -self.shifts
        return Roll.apply(grad_out, shifts=neg, axes=self.axes)


def roll(input, shifts, dims=None):  # noqa: A002
    """Shift elements cyclically by ``shifts`` along ``dims`` (over the flattened tensor,
    keeping its shape, when ``dims`` is None).

    Args:
        input: tensor of any shape.
        shifts: an int or a tuple of ints, one per dim in ``dims``.
        dims: an int, a tuple of ints, or None.

    Returns:
        Tensor of the same shape, with ``out[(i + shift) % n] = input[i]`` along each dim.
    """
    shifts = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise runtime_error("roll", f"shifts and dimensions must align. shifts: "
                                        f"{len(shifts)}, dims: 0")
        return Roll.apply(input, shifts=shifts[0], axes=None)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise runtime_error("roll", f"shifts and dimensions must align. shifts: "
                                    f"{len(shifts)}, dims: {len(dims)}")
    axes = tuple(norm_dim(d, input._data.ndim, "roll") for d in dims)
    return Roll.apply(input, shifts=shifts, axes=axes)


class Rot90(Op):
    def forward(self, x, k, axes):
        self.k, self.axes = k, axes
        return np.rot90(x, k, axes).copy()

    def backward(self, grad_out):
        return Rot90.apply(grad_out, k=-self.k, axes=self.axes)


def rot90(input, k=1, dims=(0, 1)):  # noqa: A002
    """Rotate by 90 degrees ``k`` times in the plane ``dims``, from dims[0] towards dims[1]."""
    dims = tuple(dims)
    ndim = input._data.ndim
    if len(dims) != 2:
        raise runtime_error("rot90", f"expected total rotation dims == 2, but got dims = "
                                     f"{len(dims)}")
    if ndim < 2:
        raise runtime_error("rot90", f"expected total dims >= 2, but got total dims = {ndim}")
    axes = tuple(norm_dim(d, ndim, "rot90") for d in dims)
    if axes[0] == axes[1]:
        raise runtime_error("rot90", f"expected rotation dims to be different, but got "
                                     f"dim0 = {dims[0]} and dim1 = {dims[1]}")
    return Rot90.apply(input, k=int(k) % 4, axes=axes)


class Triangle(Op):
    """The lower (``tril``) or upper (``triu``) triangle of the last two dims; zeros elsewhere."""

    def forward(self, x, diagonal, upper):
        self.diagonal, self.upper = diagonal, upper
        rows, cols = x.shape[-2:]
        # np.tril/triu build the mask through broadcasting helpers; one tri() is cheaper.
        keep = np.tri(rows, cols, diagonal - 1 if upper else diagonal, dtype=bool)
        if upper:
            keep = ~keep
        return np.where(keep, x, np.zeros((), x.dtype))

    def backward(self, grad_out):
        return Triangle.apply(grad_out, diagonal=self.diagonal, upper=self.upper)


def _triangle(input, diagonal, upper, out):
    if input._data.ndim < 2:
        name = "triu" if upper else "tril"
        raise runtime_error(name, f"input tensor must have at least 2 dimensions, got shape "
                                  f"{fmt_shape(input._data.shape)}")
    return write_out(Triangle.apply(input, diagonal=int(diagonal), upper=upper), out)


def tril(input, diagonal=0, *, out=None):  # noqa: A002
    """The lower triangle of the matrices (last two dims): ``out[i, j] = x[i, j]`` for
    ``j - i <= diagonal``, else 0."""
    return _triangle(input, diagonal, False, out)


def triu(input, diagonal=0, *, out=None):  # noqa: A002
    """The upper triangle of the matrices (last two dims): ``out[i, j] = x[i, j]`` for
    ``j - i >= diagonal``, else 0."""
    return _triangle(input, diagonal, True, out)


METHODS = {
    "repeat": repeat, "tile": tile, "repeat_interleave": repeat_interleave, "flip": flip,
    "fliplr": fliplr, "flipud": flipud, "roll": roll, "rot90": rot90, "tril": tril,
    "triu": triu, "tril_": inplace(tril, "tril_"), "triu_": inplace(triu, "triu_"),
}

FUNCTIONAL = []
