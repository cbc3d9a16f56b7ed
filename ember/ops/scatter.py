"""Writing by index: scatter, scatter_add, scatter_reduce, index_add/copy/fill, index_put,
masked_fill, masked_scatter, and their in-place forms.

Each op checks its index and builds an ``Ix`` for the ``Put`` (write) or ``AddAt``
(accumulate) primitive of ``index.py``. The in-place forms write straight into the
tensor through ``write_at`` (see its docstring for how that keeps autograd right).
"""

import numpy as np

from ember._errors import _with_line, fmt_shape, runtime_error, shape_error
from ember.autograd.node import Op
from ember.ops._index_primitives import AddAt, Ix, Put, Take, check_bounds, value_tensor, write_at
from ember.ops._inplace import apply_inplace
from ember.ops.arithmetic import div, mul
from ember.ops.gather import along_ix, bool_mask, check_along, index_array, norm_dim, select_ix
from ember.ops.shape import expand, reshape
from ember.tensor import Tensor

__all__ = ["scatter", "scatter_add", "scatter_reduce", "index_add", "index_copy", "index_fill",
           "index_put", "masked_fill", "masked_scatter"]

_make = Tensor._make


def _same_dtype(op, input, src, what="src"):
    if src._data.dtype != input._data.dtype:
        raise runtime_error(op, f"expected self and {what} to have the same dtype, but got "
                                f"{input.dtype} and {src.dtype}")


def _scatter_args(op, input, dim, index, src):
    """The checked ``Ix`` of a scatter, and ``src`` as a tensor of ``index``'s shape."""
    idx = index_array(op, index)
    shape = input._data.shape
    dim = norm_dim(dim, len(shape), op)
    if not isinstance(src, Tensor):
        check_along(op, shape, dim, idx)
        return along_ix(op, shape, dim, idx), value_tensor(op, src, input._data.dtype)
    _same_dtype(op, input, src)
    check_along(op, shape, dim, idx, (src._data.shape,))
    if src._data.shape != idx.shape and src._data.ndim == idx.ndim:
        corner = tuple(slice(0, n) for n in idx.shape) + (Ellipsis,)
        src = Take.apply(src, ix=Ix(corner, None, True, op))
    return along_ix(op, shape, dim, idx), src


def scatter(input, dim, index, src=None, *, value=None, reduce=None):  # noqa: A002
    """``input`` with ``src`` written at ``index`` along ``dim``: for dim=1,
    ``out[i][index[i][j]] = src[i][j]``.

    Args:
        input: tensor of any shape.
        dim: the dimension ``index`` points into.
        index: int64 tensor of input's number of dimensions, no larger than ``input``
            outside ``dim`` nor than ``src`` anywhere.
        src: tensor of input's dtype, or ``value``: a number written at every index.
        reduce: None, ``'add'`` or ``'multiply'`` (``scatter_reduce`` sum or prod).

    Returns:
        A new tensor of ``input``'s shape. Where indices repeat, the last write wins.
    """
    src = value if src is None else src
    if reduce is not None:
        return _scatter_with_reduce("scatter", input, dim, index, src, reduce)
    ix, src = _scatter_args("scatter", input, dim, index, src)
    return Put.apply(input, src, ix=ix)


def _scatter_with_reduce(op, input, dim, index, src, reduce):
    kinds = {"add": "sum", "multiply": "prod"}
    if reduce not in kinds:
        raise runtime_error(op, f"reduce argument must be either add or multiply, not {reduce!r}")
    if not isinstance(src, Tensor):
        src = _make(np.full(index_array(op, index).shape, src, input._data.dtype))
    return scatter_reduce(input, dim, index, src, kinds[reduce])


def scatter_add(input, dim, index, src):  # noqa: A002
    """``input`` with ``src`` added at ``index`` along ``dim``; repeated indices accumulate.

    For dim=1, ``out[i][index[i][j]] += src[i][j]``. The gradient of ``src`` is the
    output gradient gathered at ``index``.
    """
    ix, src = _scatter_args("scatter_add", input, dim, index, src)
    return AddAt.apply(input, src, ix=ix)


_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):  # noqa: A002
    """``input`` with each ``src`` element reduced into the position ``index`` points at.

    Args:
        reduce: ``'sum'``, ``'prod'``, ``'mean'``, ``'amax'`` or ``'amin'``.
        include_self: whether ``input``'s own values at the scattered positions take part;
            positions no index points at always keep ``input``'s value.

    Returns:
        A tensor of ``input``'s shape. For amax/amin the gradient is shared evenly among
        the elements equal to the result, as in PyTorch.
    """
    reduce = {"max": "amax", "min": "amin"}.get(reduce, reduce)  # PyTorch accepts these too
    if reduce not in _REDUCTIONS:
        raise runtime_error("scatter_reduce", f"reduce argument must be one of "
                                              f"{', '.join(_REDUCTIONS)}, not {reduce!r}")
    ix, src = _scatter_args("scatter_reduce", input, dim, index, src)
    if not include_self:
        input = Put.apply(input, _identity(reduce, input._data.dtype), ix=ix)
    if reduce == "prod":
        return ScatterProd.apply(input, src, ix=ix)
    if reduce in ("amax", "amin"):
        return ScatterExtreme.apply(input, src, ix=ix, largest=reduce == "amax")
    out = AddAt.apply(input, src, ix=ix)
    if reduce == "sum":
        return out
    count = np.full(out._data.shape, int(include_self), out._data.dtype)
    ix.add_at(count, np.ones((), count.dtype))
    count[count == 0] = 1  # positions no index reaches keep input's value
    if count.dtype.kind == "f":
        return div(out, _make(count))
    return div(out, _make(count), rounding_mode="floor")


def _identity(reduce, dtype):
    if reduce in ("amax", "amin"):
        info = np.finfo(dtype) if dtype.kind == "f" else np.iinfo(dtype)
        value = (-np.inf if reduce == "amax" else np.inf) if dtype.kind == "f" else (
            info.min if reduce == "amax" else info.max)
    else:
        value = 1 if reduce == "prod" else 0
    return _make(np.asarray(value, dtype))


class ScatterExtreme(Op):
    """``x`` with the largest (smallest) of it and the ``src`` elements sent to each spot."""

    def forward(self, x, src, ix, largest):
        self.ix = ix
        self.save_inputs(0, 1)
        self.save_outputs(0)
        out = x.copy()
        (np.maximum if largest else np.minimum).at(ix.view(out), ix.adv, src)
        return out

    def backward(self, grad_out):
        x, src = self.saved_inputs
        (out,) = self.saved_outputs
        dtype = out._data.dtype
        hit_x = x._data == out._data
        hit_src = src._data == self.ix.take(out._data)
        count = hit_x.astype(dtype)
        self.ix.add_at(count, hit_src.astype(dtype))
        share = grad_out / _make(count)
        grad_x = share * _make(hit_x.astype(dtype)) if self.needs_input_grad[0] else None
        grad_src = None
        if self.needs_input_grad[1]:
            grad_src = Take.apply(share, ix=self.ix) * _make(hit_src.astype(dtype))
        return grad_x, grad_src


class ScatterProd(Op):
    """``x`` with each spot multiplied by the ``src`` elements sent to it.

    The gradient of a factor is the product of the others: ``out / factor``, or, for a
    factor that is exactly 0, the product of the nonzero others when it is the only zero.
    """

    def forward(self, x, src, ix):
        self.ix = ix
        self.save_inputs(0, 1)
        self.save_outputs(0)
        out = x.copy()
        np.multiply.at(ix.view(out), ix.adv, src)
        return out

    def backward(self, grad_out):
        x, src = self.saved_inputs
        (out,) = self.saved_outputs
        take = self.ix.take
        zero_x, zero_src = x._data == 0, src._data == 0
        any_zero = zero_x.any() or zero_src.any()
        if any_zero:
            x, src = x.masked_fill(_make(zero_x), 1), src.masked_fill(_make(zero_src), 1)
        factor_x, factor_src = out / x, Take.apply(out, ix=self.ix) / src
        if any_zero:
            zeros = zero_x.astype(np.int64)
            self.ix.add_at(zeros, zero_src.astype(np.int64))
            lone = zeros == 1
            others = ScatterProd.apply(x, src, ix=self.ix)
            dtype = out._data.dtype
            factor_x = factor_x + others * _make((zero_x & lone).astype(dtype))
            factor_src = factor_src + Take.apply(others, ix=self.ix) * _make(
                (zero_src & take(lone)).astype(dtype))
        grad_x = grad_out * factor_x if self.needs_input_grad[0] else None
        grad_src = None
        if self.needs_input_grad[1]:
            grad_src = Take.apply(grad_out, ix=self.ix) * factor_src
        return grad_x, grad_src


# ---- index_add, index_copy, index_fill, index_put ------------------------------------


def _index_args(op, input, dim, index, source, negative=False):
    """The checked ``Ix`` of ``input[..., index, ...]`` for a ``source`` to add or copy."""
    idx = index_array(op, index)
    ix = select_ix(op, input._data.shape, dim, idx, negative)
    _same_dtype(op, input, source, "source")
    shape = list(input._data.shape)
    if shape:
        shape[norm_dim(dim, len(shape), op)] = idx.size
    if source._data.ndim and tuple(shape) != source._data.shape:
        raise shape_error(op, f"source of shape {fmt_shape(source._data.shape)} does not fit: "
                              f"expected {fmt_shape(shape)} (self's shape {fmt_shape(input.shape)} "
                              f"with dimension {dim} of size len(index) = {idx.size})")
    return ix


def index_add(input, dim, index, source, *, alpha=1):  # noqa: A002
    """``input`` with ``alpha * source`` added at positions ``index`` along ``dim``.

    For dim=0, ``out[index[i]] += alpha * source[i]``; repeated indices accumulate.
    """
    ix = _index_args("index_add", input, dim, index, source)
    return AddAt.apply(input, source if alpha == 1 else mul(source, alpha), ix=ix)


def index_copy(input, dim, index, source):  # noqa: A002
    """``input`` with ``source`` written at positions ``index`` along dim:
    ``out[index[i]] = source[i]`` for dim=0."""
    ix = _index_args("index_copy", input, dim, index, source)
    return Put.apply(input, source, ix=ix)


def _fill_args(op, input, dim, index, value):
    idx = index_array(op, index)
    if idx.ndim > 1:
        raise IndexError(_with_line(f"{op}: index has to be a vector or a scalar, but got "
                                    f"shape {fmt_shape(idx.shape)}"))
    ix = select_ix(op, input._data.shape, dim, idx, negative=True)
    if input._data.ndim:  # each position once, so that value's gradient counts it once
        size = input._data.shape[norm_dim(dim, input._data.ndim, op)]
        ix = select_ix(op, input._data.shape, dim, np.unique(idx % size))
    return ix, _scalar_value(op, value, input._data.dtype)


def _scalar_value(op, value, dtype):
    if isinstance(value, Tensor) and value._data.ndim:
        raise runtime_error(op, f"only supports a 0-dimensional value tensor, but got tensor "
                                f"with {value._data.ndim} dimension(s)")
    return value_tensor(op, value, dtype)


def index_fill(input, dim, index, value):  # noqa: A002
    """``input`` with ``value`` (a number or 0-dim tensor) at positions ``index`` along dim."""
    ix, value = _fill_args("index_fill", input, dim, index, value)
    return Put.apply(input, value, ix=ix)


def put_ix(op, shape, indices):
    """The ``Ix`` of ``index_put``: one tensor (or None for ``:``) per leading dimension."""
    adv, d, unique = [], 0, True
    for t in indices:
        if t is None:
            adv.append(slice(None))
            d += 1
            continue
        arr = t._data if isinstance(t, Tensor) else np.asarray(t)
        if arr.dtype.kind not in "biu":
            raise IndexError(_with_line(f"{op}: tensors used as indices must be long, int, "
                                        f"byte or bool tensors, not {arr.dtype}"))
        if d + (arr.ndim if arr.dtype.kind == "b" else 1) > len(shape):
            raise IndexError(_with_line(f"{op}: too many indices for tensor of dimension "
                                        f"{len(shape)}"))
        if arr.dtype.kind == "b" or arr.dtype == np.uint8:
            adv.append(arr.astype(bool, copy=False))
            d += arr.ndim
        else:
            check_bounds(op, arr, d, shape[d])
            adv.append(arr)
            unique, d = False, d + 1
    return Ix(None, tuple(adv), unique, op)


def index_put(input, indices, values, accumulate=False):  # noqa: A002
    """``input`` with ``input[indices] = values`` (``+=`` with ``accumulate``, where repeated
    indices add up); ``indices`` is a tuple of index tensors, as in ``x[i, j]``."""
    ix = put_ix("index_put", input._data.shape, indices)
    _same_dtype("index_put", input, values, "values")
    return (AddAt if accumulate else Put).apply(input, values, ix=ix)


# ---- masked_fill, masked_scatter -----------------------------------------------------


def _masked_args(op, input, mask, inplace):
    """``input`` (broadcast with ``mask`` unless in place) and the mask's ``Ix``."""
    m = bool_mask(op, mask)
    shape = input._data.shape
    if not inplace:
        shape = np.broadcast_shapes(shape, m.shape)
        if input._data.shape != shape:
            input = expand(input, shape)
    elif np.broadcast_shapes(shape, m.shape) != shape:
        raise shape_error(op, f"the mask of shape {fmt_shape(m.shape)} cannot be broadcast to "
                              f"the tensor's shape {fmt_shape(shape)}")
    return input, np.broadcast_to(m, shape)


def masked_fill(input, mask, value):  # noqa: A002
    """``input`` with ``value`` where ``mask`` is True (``mask`` broadcasts with ``input``).

    Args:
        input: tensor of any shape.
        mask: bool tensor broadcastable with ``input``.
        value: a number, or a 0-dim tensor (then differentiable: its gradient is the sum
            of the output gradient over the filled positions).
    """
    input, m = _masked_args("masked_fill", input, mask, inplace=False)
    value = _scalar_value("masked_fill", value, input._data.dtype)
    return Put.apply(input, value, ix=Ix(None, (m,), True, "masked_fill", where=True))


def _scatter_source(op, input, m, source):
    _same_dtype(op, input, source, "source")
    n = int(np.count_nonzero(m))
    if source._data.size < n:
        raise runtime_error(op, f"number of elements of source ({source._data.size}) < number "
                                f"of ones in mask ({n})")
    flat = reshape(source, -1)
    if n != source._data.size:
        flat = Take.apply(flat, ix=Ix((slice(0, n), Ellipsis), None, True, op))
    return flat


def masked_scatter(input, mask, source):  # noqa: A002
    """``input`` with the first elements of ``source`` (in order) where ``mask`` is True."""
    input, m = _masked_args("masked_scatter", input, mask, inplace=False)
    flat = _scatter_source("masked_scatter", input, m, source)
    return Put.apply(input, flat, ix=Ix(None, (m,), True, "masked_scatter"))


# ---- in-place forms ------------------------------------------------------------------


def scatter_(self, dim, index, src=None, *, value=None, reduce=None):
    src = value if src is None else src
    if reduce is not None:
        return apply_inplace("scatter_", lambda x: _scatter_with_reduce(
            "scatter_", x, dim, index, src, reduce), self)
    ix, src = _scatter_args("scatter_", self, dim, index, src)
    return write_at("scatter_", self, ix, src)


def scatter_add_(self, dim, index, src):
    ix, src = _scatter_args("scatter_add_", self, dim, index, src)
    return write_at("scatter_add_", self, ix, src, accumulate=True)


def scatter_reduce_(self, dim, index, src, reduce, *, include_self=True):
    return apply_inplace("scatter_reduce_", scatter_reduce, self, dim, index, src, reduce,
                         include_self=include_self)


def index_add_(self, dim, index, source, *, alpha=1):
    ix = _index_args("index_add_", self, dim, index, source)
    src = source if alpha == 1 else mul(source, alpha)
    return write_at("index_add_", self, ix, src, accumulate=True)


def index_copy_(self, dim, index, source):
    ix = _index_args("index_copy_", self, dim, index, source)
    return write_at("index_copy_", self, ix, source)


def index_fill_(self, dim, index, value):
    ix, value = _fill_args("index_fill_", self, dim, index, value)
    return write_at("index_fill_", self, ix, value)


def index_put_(self, indices, values, accumulate=False):
    ix = put_ix("index_put_", self._data.shape, indices)
    _same_dtype("index_put_", self, values, "values")
    return write_at("index_put_", self, ix, values, accumulate=accumulate)


def masked_fill_(self, mask, value):
    _, m = _masked_args("masked_fill_", self, mask, inplace=True)
    value = _scalar_value("masked_fill_", value, self._data.dtype)
    return write_at("masked_fill_", self, Ix(None, (m,), True, "masked_fill_", where=True), value)


def masked_scatter_(self, mask, source):
    _, m = _masked_args("masked_scatter_", self, mask, inplace=True)
    flat = _scatter_source("masked_scatter_", self, m, source)
    return write_at("masked_scatter_", self, Ix(None, (m,), True, "masked_scatter_"), flat)


METHODS = {
    "scatter": scatter, "scatter_add": scatter_add, "scatter_reduce": scatter_reduce,
    "index_add": index_add, "index_copy": index_copy, "index_fill": index_fill,
    "index_put": index_put, "masked_fill": masked_fill, "masked_scatter": masked_scatter,
    "scatter_": scatter_, "scatter_add_": scatter_add_, "scatter_reduce_": scatter_reduce_,
    "index_add_": index_add_, "index_copy_": index_copy_, "index_fill_": index_fill_,
    "index_put_": index_put_, "masked_fill_": masked_fill_, "masked_scatter_": masked_scatter_,
}

FUNCTIONAL = []
