"""Reading by index: gather, take, take_along_dim, index_select, masked_select, nonzero.

Each op checks its index (dtype, shape, bounds) and turns it into an advanced index
for the ``Take`` primitive of ``index.py``, whose backward adds the gradient back into
zeros at the same positions (repeated indices accumulate).
"""

import numpy as np

from ember._errors import _with_line, fmt_shape, runtime_error, shape_error
from ember.autograd.node import Op
from ember.autograd.traceable import traceable
from ember.ops._index_primitives import Ix, Take, check_bounds
from ember.ops._methods import write_out
from ember.ops.shape import expand, reshape
from ember.tensor import Tensor

__all__ = ["gather", "take", "take_along_dim", "index_select", "masked_select", "nonzero",
           "argwhere"]

_make = Tensor._make


def norm_dim(dim, ndim, op):
    """``dim`` as a non-negative axis of a tensor of ``ndim`` dimensions (0-dim has one)."""
    top = max(ndim, 1)
    if not -top <= dim < top:
        raise shape_error(op, f"dimension out of range (expected to be in range of "
                              f"[{-top}, {top - 1}], but got {dim})")
    return dim % top


def index_array(op, index, what="index"):
    """The integer array of an index tensor; a clear error for any other dtype."""
    if not isinstance(index, Tensor):
        raise TypeError(_with_line(f"{op}: {what} must be a Tensor of int64, not "
                                   f"{type(index).__name__}"))
    arr = index._data
    if arr.dtype.kind not in "iu":
        raise runtime_error(op, f"expected an int64 or int32 {what} tensor, but got "
                                f"{index.dtype}; cast it with .long()")
    return arr


def along(index, dim):
    """The advanced index that reads ``x[i, index[i, j], ...]``: ``index`` at ``dim`` and
    each position's own coordinate in every other dimension."""
    n = index.ndim
    adv = []
    for d in range(n):
        if d == dim:
            adv.append(index)
        else:
            shape = [1] * n
            shape[d] = index.shape[d]
            adv.append(np.arange(index.shape[d]).reshape(shape))
    return tuple(adv)


def along_ix(op, shape, dim, index):
    """The ``Ix`` of ``gather``/``scatter``; a 0-dim tensor is seen as one of shape (1,)."""
    if not shape:
        return Ix((None, Ellipsis), (index.reshape(-1),), False, op)
    return Ix(None, along(index, dim), False, op)


def check_along(op, shape, dim, index, limits=()):
    """``index`` fits ``shape`` outside ``dim`` (and fits each shape in ``limits``)."""
    if index.ndim != len(shape) and not (index.ndim <= 1 and not shape):
        raise runtime_error(op, f"index tensor must have the same number of dimensions as "
                                f"input tensor: index {fmt_shape(index.shape)}, input "
                                f"{fmt_shape(shape)}")
    for d, n in enumerate(index.shape):
        if (d != dim and n > shape[d]) or any(d < len(lim) and n > lim[d] for lim in limits):
            raise runtime_error(
                op, f"size does not match at dimension {d}: expected index "
                    f"{fmt_shape(index.shape)} to be no larger than self {fmt_shape(shape)} "
                    f"apart from dimension {dim}"
                    + "".join(f" and no larger than src {fmt_shape(lim)}" for lim in limits))
    check_bounds(op, index, dim, shape[dim] if shape else 1, negative=False)


@traceable("gather")
def gather(input, dim, index, *, sparse_grad=False, out=None):  # noqa: A002
    """Values along ``dim`` picked by ``index``: for dim=1, ``out[i][j] = input[i][index[i][j]]``.

    Args:
        input: tensor of any shape.
        dim: the dimension to index along (negative counts from the end).
        index: int64 tensor with input's number of dimensions, no larger than ``input``
            outside ``dim``.

    Returns:
        A tensor of ``index``'s shape. Its gradient scatter-adds into ``input``'s shape.
    """
    return _out(_gather("gather", input, dim, index_array("gather", index)), out)


def _gather(op, input, dim, idx):
    dim = norm_dim(dim, input._data.ndim, op)
    check_along(op, input._data.shape, dim, idx)
    result = Take.apply(input, ix=along_ix(op, input._data.shape, dim, idx))
    if result._data.shape != idx.shape:  # a 0-dim input
        result = reshape(result, idx.shape)
    return result


@traceable("take_along_dim")
def take_along_dim(input, indices, dim=None, *, out=None):  # noqa: A002
    """``gather`` after broadcasting ``input`` and ``indices`` outside ``dim``; with
    ``dim=None``, both are flattened first."""
    idx = index_array("take_along_dim", indices, "indices")
    if dim is None:
        return _out(_gather("take_along_dim", reshape(input, -1), 0, idx.reshape(-1)), out)
    ndim = input._data.ndim
    dim = norm_dim(dim, ndim, "take_along_dim")
    if idx.ndim != ndim:
        raise runtime_error("take_along_dim", f"input and indices should have the same number "
                                              f"of dimensions, but got {ndim} dimensions for "
                                              f"input, and {idx.ndim} dimensions for indices")
    shape = np.broadcast_shapes(_without(input._data.shape, dim), _without(idx.shape, dim))
    in_shape = shape[:dim] + (input._data.shape[dim],) + shape[dim + 1:]
    idx_shape = shape[:dim] + (idx.shape[dim],) + shape[dim + 1:]
    if in_shape != input._data.shape:
        input = expand(input, in_shape)
    return _out(_gather("take_along_dim", input, dim, np.broadcast_to(idx, idx_shape)), out)


def _without(shape, dim):
    return tuple(s if d != dim else 1 for d, s in enumerate(shape))


@traceable("take")
def take(input, index):  # noqa: A002
    """``input`` read as 1-D at ``index`` (negative counts from the end); ``index``'s shape."""
    idx = index_array("take", index)
    n = input._data.size
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)].flat[0]
        raise IndexError(_with_line(f"take: index {bad} is out of range for a tensor of "
                                    f"{n} elements"))
    return Take.apply(reshape(input, -1), ix=Ix(None, (idx,), False, "take"))


@traceable("index_select")
def index_select(input, dim, index, *, out=None):  # noqa: A002
    """The slices of ``input`` at ``index`` (a vector) along ``dim``; ``dim`` gets len(index).

    Args:
        input: tensor of any shape.
        dim: the dimension to select along.
        index: 1-D (or 0-dim) integer tensor of positions in ``dim``.
    """
    idx = index_array("index_select", index)
    result = Take.apply(input, ix=select_ix("index_select", input._data.shape, dim, idx))
    if not input._data.ndim and idx.size == 1:
        result = reshape(result, ())
    return _out(result, out)


def select_ix(op, shape, dim, idx, negative=False):
    """The ``Ix`` of positions ``idx`` (a vector) along ``dim``: ``x[:, :, idx]``."""
    if idx.ndim > 1:
        raise IndexError(_with_line(f"{op}: index is supposed to be a vector, but got shape "
                                    f"{fmt_shape(idx.shape)}"))
    dim = norm_dim(dim, len(shape), op)
    size = shape[dim] if shape else 1
    check_bounds(op, idx, dim, size, negative=negative)
    if not shape:  # a 0-dim tensor has one position
        return Ix((None, Ellipsis), (idx.reshape(-1),), False, op)
    return Ix(None, (slice(None),) * dim + (idx.reshape(-1),), False, op)


def masked_select(input, mask):  # noqa: A002
    """The elements of ``input`` where ``mask`` is True, as a 1-D tensor (both broadcast)."""
    m = bool_mask("masked_select", mask)
    shape = np.broadcast_shapes(input._data.shape, m.shape)
    if input._data.shape != shape:
        input = expand(input, shape)
    return Take.apply(input, ix=Ix(None, (np.broadcast_to(m, shape),), True, "masked_select"))


def bool_mask(op, mask):
    """The boolean array of ``mask``; PyTorch refuses any other dtype."""
    if not isinstance(mask, Tensor) or mask._data.dtype != np.bool_:
        got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise runtime_error(op, f"expected a bool tensor for mask, but got {got}")
    return mask._data


class Nonzero(Op):
    """The coordinates of the nonzero elements, one row per element (no gradient)."""

    differentiable = False

    def forward(self, x, as_tuple):
        if not as_tuple:
            return np.argwhere(x)
        if x.ndim == 0:
            return (np.zeros(int(x != 0), np.int64),)
        return tuple(i.astype(np.int64, copy=False) for i in np.nonzero(x))


def nonzero(input, *, out=None, as_tuple=False):  # noqa: A002
    """The indices of the nonzero elements: an ``(n, ndim)`` int64 tensor, or with
    ``as_tuple`` one 1-D tensor per dimension (``x[x.nonzero(as_tuple=True)]`` works)."""
    result = Nonzero.apply(input, as_tuple=as_tuple)
    return result if as_tuple else _out(result, out)


def argwhere(input):  # noqa: A002
    """``nonzero(input)``: an ``(n, ndim)`` int64 tensor of the nonzero elements' indices."""
    return Nonzero.apply(input, as_tuple=False)


def _out(result, out):
    return result if out is None else write_out(result, out)


METHODS = {
    "gather": gather, "take": take, "take_along_dim": take_along_dim,
    "index_select": index_select, "masked_select": masked_select, "nonzero": nonzero,
    "argwhere": argwhere,
}

FUNCTIONAL = []
