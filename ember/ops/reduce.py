"""Reductions over dimensions: sum, mean, prod, logsumexp, norm, and truth tests.

``dim`` may be an int, a tuple, or None for all dimensions; ``keepdim`` keeps the
reduced dimensions with size 1. Backward re-inserts the reduced dimensions and lets
``expand`` broadcast the gradient back. The other reductions live beside this file:
``moments`` (var, std), ``extrema`` (max, min, argmax), ``scan`` (cumsum, cummax) and
``sort`` (sort, topk, median).
"""

import numpy as np

from ember._dtype import as_dtype, get_default_dtype
from ember._errors import runtime_error
from ember.autograd.broadcast import Expand
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.ops._methods import write_out
from ember.ops._reduce_dims import (
    const,
    grad_to_input,
    keep_dims,
    kept_shape,
    norm_dim,
    norm_dims,
    omit_each,
)

__all__ = ["sum", "mean", "nansum", "nanmean", "prod", "logsumexp", "norm", "all", "any",
           "count_nonzero"]

_INTS = "bui"
# ``dim=None`` as axes, by rank: ``tuple(range(ndim))`` without building it on every call.
_ALL_AXES = [tuple(range(n)) for n in range(65)]


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _acc(np_dtype):
    """The accumulation dtype: float32 for float16 (as PyTorch), else the dtype itself."""
    return np.float32 if np_dtype == np.float16 else None


# ---- sum, mean --------------------------------------------------------------------------

class Sum(Op):
    def forward(self, x, axes, keepdim, dtype):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        if dtype is None:
            if x.dtype.kind in _INTS:
                dtype = np.int64
            elif x.dtype.char == "e":
                out = np.add.reduce(x, axis=axes, keepdims=keepdim, dtype=np.float32)
                return out.astype(x.dtype, copy=False)
            elif not axes:  # a 0-dim tensor: nothing to add up
                return x.copy()
        # np.add.reduce, not np.sum: the same ufunc without np.sum's Python-level dispatch.
        return np.add.reduce(x, axis=axes, keepdims=keepdim, dtype=dtype)

    def backward(self, grad_out):
        shape = grad_out._data.shape
        if shape == self.in_shape:
            return grad_out
        if not shape:  # a sum over every dim: broadcast the 0-dim gradient directly
            return Expand.apply(grad_out, shape=self.in_shape)
        return grad_to_input(grad_out, self.in_shape, self.axes, self.keepdim)


class Mean(Op):
    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        self.count = _count(x.shape, axes)
        total = np.sum(x, axis=axes, keepdims=keepdim, dtype=_acc(x.dtype))
        with np.errstate(invalid="ignore"):  # an empty mean is NaN, as in PyTorch
            return (total / self.count).astype(x.dtype, copy=False)

    def backward(self, grad_out):
        return grad_to_input(grad_out / self.count, self.in_shape, self.axes, self.keepdim)


def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001, A002
    """Sum over ``dim`` (all dimensions when None): ``out = sum_i x_i``.

    Args:
        input: a tensor of any shape; bools and integers sum to int64.
        dim: an int, a tuple of ints, or None for every dimension.
        keepdim: keep the reduced dimensions with size 1.
        dtype: the dtype to accumulate in and return.

    Returns:
        The input's shape without (or with size 1 at) the reduced dimensions.
    """
    ndim = input._data.ndim
    axes = _ALL_AXES[ndim] if dim is None else norm_dims(dim, ndim, "sum")
    np_dtype = None if dtype is None else as_dtype(dtype).np
    return Sum.apply(input, axes=axes, keepdim=keepdim, dtype=np_dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Mean over ``dim``: ``sum(x) / n``; only for floating tensors (or with a float ``dtype``).

    Args:
        input: a floating tensor (integers raise, as in PyTorch, unless ``dtype`` is given).
        dim: an int, a tuple of ints, or None for every dimension.
        keepdim: keep the reduced dimensions with size 1.
        dtype: cast the input to this floating dtype first.

    Returns:
        The input's shape without (or with size 1 at) the reduced dimensions; an empty
        slice gives NaN.
    """
    if dtype is not None:
        if not as_dtype(dtype).is_floating_point:
            raise runtime_error("mean", f"could not infer output dtype: optional dtype must "
                                        f"be a floating point dtype, got {as_dtype(dtype)}")
        input = input.to(dtype)
    _require_float(input, "mean")
    axes = norm_dims(dim, input._data.ndim, "mean")
    return Mean.apply(input, axes=axes, keepdim=keepdim)


def _require_float(input, op):
    if input._data.dtype.kind != "f":
        raise runtime_error(op, f"could not infer output dtype: input dtype must be floating "
                                f"point, but got {input.dtype}; cast with .float()")


# ---- nansum, nanmean --------------------------------------------------------------------

class NanSum(Op):
    """Sum treating NaN as 0; the gradient at a NaN is 0."""

    def forward(self, x, axes, keepdim, dtype):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        self.save_inputs(0)
        if dtype is None and x.dtype.kind in _INTS:
            dtype = np.int64
        return np.nansum(x, axis=axes, keepdims=keepdim, dtype=dtype)

    def backward(self, grad_out):
        (x,) = self.saved_inputs
        keep = const(~np.isnan(x._data), grad_out._data.dtype)
        return grad_to_input(grad_out, self.in_shape, self.axes, self.keepdim) * keep


def nansum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Sum over ``dim`` treating NaN as zero; the gradient at a NaN is 0.

    Args:
        input: a tensor; bools and integers sum to int64.
        dim: an int, a tuple of ints, or None for every dimension.
        keepdim: keep the reduced dimensions with size 1.
        dtype: the dtype to accumulate in and return.
    """
    axes = norm_dims(dim, input._data.ndim, "nansum")
    np_dtype = None if dtype is None else as_dtype(dtype).np
    return NanSum.apply(input, axes=axes, keepdim=keepdim, dtype=np_dtype)


class NanMean(Op):
    """Mean of the elements that are not NaN; NaN where a slice has none."""

    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        self.keep = ~np.isnan(x)
        self.count = np.sum(self.keep, axis=axes, keepdims=True)
        total = np.nansum(x, axis=axes, keepdims=True, dtype=_acc(x.dtype))
        with np.errstate(invalid="ignore"):
            out = (total / self.count).astype(x.dtype, copy=False)
        return out if keepdim else out.reshape([s for i, s in enumerate(out.shape)
                                                if i not in axes])

    def backward(self, grad_out):
        d = grad_out._data.dtype
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = const(self.keep / self.count, d)
        return grad_to_input(grad_out, self.in_shape, self.axes, self.keepdim) * weights


def nanmean(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Mean over ``dim`` of the elements that are not NaN: ``nansum(x) / count(not NaN)``.

    Args:
        input: a floating tensor.
        dim: an int, a tuple of ints, or None for every dimension.
        keepdim: keep the reduced dimensions with size 1.
        dtype: cast the input to this dtype first.

    Returns:
        The reduced tensor; NaN where a slice holds only NaN.
    """
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise runtime_error("nanmean", f"expected input to have floating point dtype but got "
                                       f"{input.dtype}")
    axes = norm_dims(dim, input._data.ndim, "nanmean")
    return NanMean.apply(input, axes=axes, keepdim=keepdim)


# ---- prod -------------------------------------------------------------------------------

class Prod(Op):
    """Product over one axis (or all, ``axis=None``); the gradient is exact with zeros."""

    def forward(self, x, axis, keepdim, dtype):
        self.in_shape, self.axis, self.keepdim = x.shape, axis, keepdim
        self.save_inputs(0)
        self.save_outputs(0)
        if dtype is None and x.dtype.kind in _INTS:
            dtype = np.int64
        return np.prod(x, axis=axis, keepdims=keepdim, dtype=dtype)

    def backward(self, grad_out):
        (x,), (out,) = self.saved_inputs, self.saved_outputs
        if self.axis is None:  # all elements: the product along one flat axis
            x, axis = x.reshape(-1), 0
            grad_out, out = grad_out.reshape(1), out.reshape(1)
        else:
            axis = self.axis
            if not self.keepdim:
                grad_out, out = grad_out.unsqueeze(axis), out.unsqueeze(axis)
        return (grad_out * _prod_others(x, out, axis)).reshape(self.in_shape)


def _prod_others(x, out, axis):
    """d prod / d x_i = the product of all other elements along ``axis``.

    Without zeros this is ``out / x``. In a slice with zeros only the first zero has a
    nonzero derivative (the product of the rest), computed by a product in which that
    zero is replaced by 1. That shortcut has no correct derivative at zeros, so when the
    gradient is itself differentiated (``create_graph``), each product is taken
    explicitly, as PyTorch does.
    """
    data = x._data
    is_zero = data == 0
    if not is_zero.any():
        return out / x
    if GradMode.enabled:
        return prod(omit_each(x, axis), axis + 1).movedim(0, axis)
    d = data.dtype
    first = is_zero & (np.cumsum(is_zero, axis=axis) == 1)
    clean = ~is_zero.any(axis=axis, keepdims=True)
    first_f = const(first, d)
    rest = prod(x + first_f, axis, keepdim=True)
    return rest * first_f + rest / (x + const(is_zero, d)) * const(clean, d)


def prod(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """Product over one dimension (all elements when ``dim`` is None): ``out = prod_i x_i``.

    Args:
        input: a tensor; bools and integers multiply to int64.
        dim: an int, or None for every element (PyTorch takes no tuple here).
        keepdim: keep the reduced dimension with size 1.
        dtype: the dtype to compute in and return.
    """
    np_dtype = None if dtype is None else as_dtype(dtype).np
    ndim = input._data.ndim
    if dim is None or ndim == 0:
        if dim is not None:
            norm_dim(dim, ndim, "prod")
        return Prod.apply(input, axis=None, keepdim=False, dtype=np_dtype)
    axis = norm_dim(dim, ndim, "prod")
    return Prod.apply(input, axis=axis, keepdim=keepdim, dtype=np_dtype)


# ---- logsumexp --------------------------------------------------------------------------

class LogSumExp(Op):
    """``log(sum(exp(x)))`` computed as ``m + log(sum(exp(x - m)))`` with ``m`` the max."""

    def forward(self, x, axes, keepdim):
        self.in_shape, self.axes, self.keepdim = x.shape, axes, keepdim
        self.save_inputs(0)
        self.save_outputs(0)
        m = np.asarray(np.max(x, axis=axes, keepdims=True, initial=-np.inf))
        m[~np.isfinite(m)] = 0  # all -inf (or an inf) stays -inf (inf) instead of NaN
        shifted = np.asarray(x - m)  # 0-dim arithmetic gives NumPy scalars
        np.exp(shifted, out=shifted)
        with np.errstate(divide="ignore"):
            out = np.log(np.sum(shifted, axis=axes, keepdims=True))
        out += m
        return out if keepdim else out.reshape([s for i, s in enumerate(out.shape)
                                                if i not in axes])

    def backward(self, grad_out):
        (x,), (out,) = self.saved_inputs, self.saved_outputs
        out = keep_dims(out, self.in_shape, self.axes, self.keepdim)
        grad = keep_dims(grad_out, self.in_shape, self.axes, self.keepdim)
        return grad * (x - out).exp()


def logsumexp(input, dim, keepdim=False):  # noqa: A002
    """``log(sum(exp(input)))`` over ``dim``, without overflow for large inputs.

    Args:
        input: a tensor; integers are computed in the default float dtype.
        dim: an int or a tuple of ints (required, as in PyTorch).
        keepdim: keep the reduced dimensions with size 1.
    """
    if input._data.dtype.kind != "f":
        input = input.to(get_default_dtype())
    axes = norm_dims(dim, input._data.ndim, "logsumexp")
    return LogSumExp.apply(input, axes=axes, keepdim=keepdim)


# ---- norm -------------------------------------------------------------------------------

class VectorNorm(Op):
    """``(sum_i |x_i|^p)^(1/p)`` over ``axes``; p = inf / -inf give max / min of ``|x|``."""

    def forward(self, x, p, axes, keepdim):
        self.p, self.in_shape, self.axes, self.keepdim = p, x.shape, axes, keepdim
        self.save_inputs(0)
        self.save_outputs(0)
        reduce = {"axis": axes, "keepdims": keepdim}
        if p == 2:
            return np.sqrt(_sum_squares(x, axes, keepdim))
        if p == 0:
            return np.count_nonzero(x, axis=axes, keepdims=keepdim).astype(x.dtype)
        a = np.abs(x)
        if p == 1:
            return np.sum(a, **reduce)
        if np.isinf(p):
            if 0 in (x.shape[i] for i in axes):
                raise runtime_error("norm", "cannot compute the inf norm on an empty tensor "
                                            "because the operation does not have an identity")
            return (np.max if p > 0 else np.min)(a, **reduce)
        with np.errstate(divide="ignore"):  # 0 ** negative p is inf, as in PyTorch
            return np.power(np.sum(np.power(a, p), **reduce), 1.0 / p)

    def backward(self, grad_out):
        (x,), (out,) = self.saved_inputs, self.saved_outputs
        p, d = self.p, x._data.dtype
        grad = keep_dims(grad_out, self.in_shape, self.axes, self.keepdim)
        out = keep_dims(out, self.in_shape, self.axes, self.keepdim)
        if p == 0:  # piecewise constant: PyTorch gives no gradient at all
            return None
        sign = const(np.sign(x._data), d)
        if p == 1:
            return grad * sign
        if p == 2:  # a zero norm means x == 0 there, so x / 1 gives the 0 PyTorch returns
            return grad * x / (out + const(out._data == 0, d))
        if np.isinf(p):
            a, o = np.abs(x._data), out._data
            mask = (a == o) | np.isnan(a)
            return grad * sign * const(mask / mask.sum(axis=self.axes, keepdims=True), d)
        abs_x = x * sign
        if p < 1:
            return grad * sign * (abs_x + const(x._data == 0, d)) ** (p - 1) * out ** (1 - p)
        safe_out = out + const(out._data == 0, d)
        return grad * sign * abs_x ** (p - 1) / safe_out ** (p - 1)


def _sum_squares(x, axes, keepdim):
    """``sum(x * x)`` over ``axes``; dot products (no temporary) where the layout allows."""
    if x.dtype != np.float16 and x.ndim and x.flags.c_contiguous:
        if len(axes) == x.ndim:
            total = np.asarray(np.vdot(x, x))
            return total.reshape(kept_shape(x.shape, axes)) if keepdim else total
        if axes == (x.ndim - 1,):
            total = np.vecdot(x, x)
            return np.expand_dims(total, -1) if keepdim else total
    return np.sum(x * x, axis=axes, keepdims=keepdim)


def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):  # noqa: A002
    """The vector p-norm over ``dim``: ``(sum |x|^p)^(1/p)`` ('fro' is the 2-norm).

    Args:
        input: a floating tensor.
        p: a number (2, 1, inf, -inf, 0 or any other float) or 'fro'.
        dim: an int, a tuple of ints, or None for all elements ('fro': at most 2 dims).
        keepdim: keep the reduced dimensions with size 1.
        out: write the result into this tensor.
        dtype: cast the input to this dtype first.
    """
    if isinstance(p, str):
        if p != "fro" or not (dim is None or isinstance(dim, int) or len(dim) <= 2):
            raise runtime_error("norm", f"matrix norm p={p!r} over dim={dim} is not supported; "
                                        "use p='fro' over at most 2 dims or a number p")
        p = 2
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise runtime_error("norm", f"expected a floating point tensor as input, got "
                                    f"{input.dtype}")
    axes = norm_dims(dim, input._data.ndim, "norm")
    p = 2.0 if p is None else float(p)
    return write_out(VectorNorm.apply(input, p=p, axes=axes, keepdim=keepdim), out)


# ---- all, any, count_nonzero --------------------------------------------------------------

class _Truth(Op):
    """``all``/``any`` of the truth values (nonzero) of the elements; bool result."""

    differentiable = False

    def forward(self, x, reduce, axes, keepdim):
        out = reduce(x, axis=axes, keepdims=keepdim)
        return out.astype(np.uint8) if x.dtype == np.uint8 else out


class CountNonzero(Op):
    differentiable = False

    def forward(self, x, axes):
        return np.asarray(np.count_nonzero(x, axis=axes), dtype=np.int64)


def _truth(input, dim, keepdim, reduce, op):
    if isinstance(dim, (tuple, list)) and not dim:  # PyTorch reduces nothing for dim=()
        return _Truth.apply(input, reduce=reduce, axes=(), keepdim=keepdim)
    axes = norm_dims(dim, input._data.ndim, op)
    return _Truth.apply(input, reduce=reduce, axes=axes, keepdim=keepdim)


def all(input, dim=None, keepdim=False):  # noqa: A001, A002
    """True where every element over ``dim`` is nonzero (NaN counts as nonzero).

    Args:
        input: a tensor of any dtype.
        dim: an int, a tuple of ints (``()`` reduces nothing), or None for all elements.
        keepdim: keep the reduced dimensions with size 1.

    Returns:
        A bool tensor (uint8 for uint8 inputs, as in PyTorch).
    """
    return _truth(input, dim, keepdim, np.all, "all")


def any(input, dim=None, keepdim=False):  # noqa: A001, A002
    """True where some element over ``dim`` is nonzero; the arguments are those of ``all``."""
    return _truth(input, dim, keepdim, np.any, "any")


def count_nonzero(input, dim=None):  # noqa: A002
    """The number of nonzero elements over ``dim`` (an int, a tuple, or None for all): int64."""
    return CountNonzero.apply(input, axes=norm_dims(dim, input._data.ndim, "count_nonzero"))


METHODS = {"sum": sum, "mean": mean, "nansum": nansum, "nanmean": nanmean, "prod": prod,
           "logsumexp": logsumexp, "norm": norm, "all": all, "any": any,
           "count_nonzero": count_nonzero}

FUNCTIONAL = []
