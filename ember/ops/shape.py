"""Shape ops: reshape/view, permute/transpose, squeeze/unsqueeze, expand, and casts.

Ops that NumPy can express as a view (``is_view``) share memory and the version
counter with their input, as PyTorch's views do, so writing through a view is seen
by the base and invalidates what backward saved of either.
"""

import numpy as np

from ember import _dtype
from ember._errors import fmt_shape, runtime_error, shape_error
from ember.autograd.broadcast import Cast, Expand, SumToSize
from ember.autograd.node import Op
from ember.tensor import Tensor, _sizes

__all__ = ["reshape", "permute", "transpose", "swapaxes", "swapdims", "squeeze", "unsqueeze",
           "broadcast_to", "clone", "movedim", "moveaxis", "t", "adjoint"]


class Reshape(Op):
    is_view = True

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            out = x.reshape(shape)
        except ValueError:
            raise shape_error("reshape", f"shape {fmt_shape(shape)} is invalid for input of "
                                         f"size {x.size} (shape {fmt_shape(x.shape)})") from None
        # A view only when NumPy did not have to copy (non-contiguous inputs).
        self.is_view = np.may_share_memory(out, x)
        return out

    def backward(self, grad_out):
        return Reshape.apply(grad_out, shape=self.in_shape)


class View(Reshape):
    """Like reshape, but refuses to copy: the result must share memory with the input."""

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            return x.reshape(shape, copy=False)
        except ValueError:
            if np.prod(x.shape) == np.prod([s for s in shape if s != -1]) or -1 in shape:
                raise runtime_error(
                    "view", f"view size {fmt_shape(shape)} is not compatible with the input "
                            f"tensor's size {fmt_shape(x.shape)} and stride (at least one "
                            "dimension spans across two contiguous subspaces); use "
                            ".reshape(...) instead") from None
            raise shape_error("view", f"shape {fmt_shape(shape)} is invalid for input of "
                                      f"size {x.size}") from None


class Permute(Op):
    is_view = True

    def forward(self, x, dims):
        if len(dims) != x.ndim or sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)):
            raise shape_error("permute", f"dims {tuple(dims)} are not a permutation of the "
                                         f"{x.ndim} dimensions of shape {fmt_shape(x.shape)}")
        self.dims = dims
        return x.transpose(dims)

    def backward(self, grad_out):
        return Permute.apply(grad_out, dims=tuple(np.argsort(self.dims)))


class Squeeze(Reshape):
    pass


def _norm_dim(dim, ndim, op):
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise shape_error(op, f"dimension out of range (expected to be in range of "
                              f"[{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {dim})")
    return dim % ndim if ndim else 0


def reshape(input, *shape):  # noqa: A002
    """The same values in a new shape (a view when the memory layout allows)."""
    return Reshape.apply(input, shape=_sizes(shape))


def view(input, *shape):  # noqa: A002
    """The same memory seen with a new shape; fails where ``reshape`` would copy."""
    if len(shape) == 1 and isinstance(shape[0], (_dtype.dtype, np.dtype, type)):
        raise runtime_error("view", "reinterpreting a tensor as another dtype is not supported")
    return View.apply(input, shape=_sizes(shape))


def permute(input, *dims):  # noqa: A002
    return Permute.apply(input, dims=_sizes(dims))


def transpose(input, dim0, dim1):  # noqa: A002
    n = input._data.ndim
    d0, d1 = _norm_dim(dim0, n, "transpose"), _norm_dim(dim1, n, "transpose")
    dims = list(range(n))
    dims[d0], dims[d1] = d1, d0
    return Permute.apply(input, dims=tuple(dims))


swapaxes = swapdims = transpose


def t(input):  # noqa: A002
    """Transpose a matrix (a tensor of at most 2 dimensions)."""
    if input._data.ndim > 2:
        raise shape_error("t", f"expects a tensor with <= 2 dimensions, but got shape "
                               f"{fmt_shape(input._data.shape)}; use .mT or transpose()")
    return input if input._data.ndim < 2 else transpose(input, 0, 1)


def adjoint(input):  # noqa: A002
    return transpose(input, -2, -1)


def movedim(input, source, destination):  # noqa: A002
    n = input._data.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [_norm_dim(s, n, "movedim") for s in src]
    dst = [_norm_dim(d, n, "movedim") for d in dst]
    order = [d for d in range(n) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return Permute.apply(input, dims=tuple(order))


moveaxis = movedim


def squeeze(input, dim=None):  # noqa: A002
    """Remove dimensions of size 1 (all of them, or those in ``dim``)."""
    shape = input._data.shape
    if dim is None:
        dims = {i for i, s in enumerate(shape) if s == 1}
    else:
        dims = {_norm_dim(d, len(shape), "squeeze") for d in
                ((dim,) if isinstance(dim, int) else dim)}
        dims = {d for d in dims if len(shape) and shape[d] == 1}
    return Squeeze.apply(input, shape=tuple(s for i, s in enumerate(shape) if i not in dims))


def unsqueeze(input, dim):  # noqa: A002
    """Insert a dimension of size 1 at ``dim``."""
    shape = list(input._data.shape)
    dim = _norm_dim(dim, len(shape) + 1, "unsqueeze")
    shape.insert(dim, 1)
    return Squeeze.apply(input, shape=tuple(shape))


def expand(input, *sizes):  # noqa: A002
    """A broadcast view to a larger shape (``-1`` keeps a size); writing to it is refused."""
    return Expand.apply(input, shape=_sizes(sizes))


def broadcast_to(input, size):  # noqa: A002
    return Expand.apply(input, shape=_sizes((size,)))


def expand_as(input, other):  # noqa: A002
    return Expand.apply(input, shape=other._data.shape)


def sum_to_size(input, *size):  # noqa: A002
    return SumToSize.apply(input, shape=_sizes(size))


class Clone(Op):
    def forward(self, x):
        return x.copy()

    def backward(self, grad_out):
        return grad_out


def clone(input, *, memory_format=None):  # noqa: A002
    return Clone.apply(input)


def contiguous(input, memory_format=None):  # noqa: A002
    return input if input._data.flags.c_contiguous else Clone.apply(input)


def to(input, *args, dtype=None, copy=False, **kwargs):  # noqa: A002
    """``x.to(dtype)``, ``x.to('cpu')``, ``x.to(other)``; returns ``x`` itself when unchanged."""
    for a in args:
        if isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (_dtype.dtype, np.dtype, type)):
            dtype = a
        else:
            from ember.tensor import device

            device(a)
    if dtype is None:
        return clone(input) if copy else input
    d = _dtype.as_dtype(dtype).np
    if d == input._data.dtype and not copy:
        return input
    return Cast.apply(input, dtype=d)


def type_(input, dtype=None, **_):  # noqa: A002
    if dtype is None:
        return f"ember.{input.dtype.name.capitalize()}Tensor"
    return to(input, dtype)


def _caster(d):
    def method(self, memory_format=None):
        return to(self, d)

    return method


METHODS = {
    "reshape": reshape, "view": view, "permute": permute, "transpose": transpose,
    "swapaxes": swapaxes, "swapdims": swapaxes, "t": t, "adjoint": adjoint, "movedim": movedim,
    "moveaxis": movedim, "squeeze": squeeze, "unsqueeze": unsqueeze, "expand": expand,
    "expand_as": expand_as, "broadcast_to": broadcast_to, "sum_to_size": sum_to_size,
    "clone": clone, "contiguous": contiguous, "to": to, "type": type_,
    "float": _caster(_dtype.float32), "double": _caster(_dtype.float64),
    "half": _caster(_dtype.float16), "long": _caster(_dtype.int64),
    "int": _caster(_dtype.int32), "short": _caster(_dtype.int16),
    "char": _caster(_dtype.int8), "byte": _caster(_dtype.uint8), "bool": _caster(_dtype.bool),
    "view_as": lambda self, other: view(self, other._data.shape),
    "reshape_as": lambda self, other: reshape(self, other._data.shape),
    "T": property(lambda self: permute(self, tuple(range(self._data.ndim))[::-1])),
    "mT": property(lambda self: transpose(self, -2, -1)),
    "H": property(lambda self: t(self)),
    "mH": property(lambda self: transpose(self, -2, -1)),
}

FUNCTIONAL = []
