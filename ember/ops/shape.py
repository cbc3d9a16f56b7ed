"""Shape ops: reshape/view, permute/transpose, squeeze/unsqueeze, expand, and casts.

Ops that NumPy can express as a view (``is_view``) share memory and the version
counter with their input, as PyTorch's views do, so writing through a view is seen
by the base and invalidates what backward saved of either.
"""

import numpy as np

from ember import _dtype
from ember._errors import fmt_shape, index_error, runtime_error, shape_error
from ember.autograd.broadcast import Cast, Expand, SumToSize
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.ops._inplace import _check_recordable
from ember.tensor import Tensor, _sizes

__all__ = ["reshape", "permute", "transpose", "swapaxes", "swapdims", "squeeze", "unsqueeze",
           "broadcast_to", "clone", "movedim", "moveaxis", "t", "adjoint", "flatten",
           "unflatten", "ravel", "atleast_1d", "atleast_2d", "atleast_3d"]


class Reshape(Op):
    is_view = True

    def forward(self, x, shape):
        self.in_shape = x.shape
        try:
            out = x.reshape(shape)
        except ValueError:
            infer_shape(shape, x.size, "reshape")
            raise
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
            infer_shape(shape, x.size, "view")
            raise runtime_error(
                "view", f"view size {fmt_shape(shape)} is not compatible with the input "
                        f"tensor's size {fmt_shape(x.shape)} and stride "
                        f"{fmt_shape(s // x.itemsize for s in x.strides)} (at least one "
                        "dimension spans across two contiguous subspaces); use "
                        ".reshape(...) instead") from None


def infer_shape(shape, numel, op):
    """``shape`` with its one ``-1`` filled in so that it holds ``numel`` elements."""
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    free = [i for i, s in enumerate(shape) if s == -1]
    if len(free) > 1:
        raise runtime_error(op, f"only one dimension can be inferred, got shape "
                                f"{fmt_shape(shape)}")
    if any(s < -1 for s in shape):
        raise runtime_error(op, f"invalid shape dimension in {fmt_shape(shape)}")
    if free and known == 0:
        raise runtime_error(op, f"cannot reshape tensor of {numel} elements into shape "
                                f"{fmt_shape(shape)} because the unspecified dimension size "
                                "-1 can be any value and is ambiguous")
    if (numel % known if free else numel != known):
        raise shape_error(op, f"shape {fmt_shape(shape)} is invalid for input of size {numel}")
    if not free:
        return tuple(shape)
    return tuple(numel // known if s == -1 else s for s in shape)


class Permute(Op):
    is_view = True

    def forward(self, x, dims):
        if len(dims) != x.ndim or sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)):
            raise shape_error("permute", f"dims {tuple(dims)} are not a permutation of the "
                                         f"{x.ndim} dimensions of shape {fmt_shape(x.shape)}")
        self.dims = dims = tuple(d % x.ndim for d in dims) if x.ndim else dims
        return x.transpose(dims)

    def backward(self, grad_out):
        return Permute.apply(grad_out, dims=tuple(np.argsort(self.dims)))


class Squeeze(Reshape):
    pass


def norm_dim(dim, ndim, op):
    """``dim`` as a non-negative axis of an ``ndim``-dim tensor (a 0-dim one accepts 0, -1)."""
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise index_error(op, f"dimension out of range (expected to be in range of "
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
    d0, d1 = norm_dim(dim0, n, "transpose"), norm_dim(dim1, n, "transpose")
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
    src = [norm_dim(s, n, "movedim") for s in src]
    dst = [norm_dim(d, n, "movedim") for d in dst]
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
        dims = {norm_dim(d, len(shape), "squeeze") for d in
                ((dim,) if isinstance(dim, int) else dim)}
        dims = {d for d in dims if len(shape) and shape[d] == 1}
    return Squeeze.apply(input, shape=tuple(s for i, s in enumerate(shape) if i not in dims))


def unsqueeze(input, dim):  # noqa: A002
    """Insert a dimension of size 1 at ``dim``."""
    shape = list(input._data.shape)
    dim = norm_dim(dim, len(shape) + 1, "unsqueeze")
    shape.insert(dim, 1)
    return Squeeze.apply(input, shape=tuple(shape))


def flatten(input, start_dim=0, end_dim=-1):  # noqa: A002
    """Merge dimensions ``start_dim..end_dim`` into one (a view when the layout allows).

    Args:
        input: tensor of any shape; a 0-dim tensor becomes shape ``(1,)``.
        start_dim, end_dim: the first and last dimension merged (negative from the end).

    Returns:
        Tensor of shape ``shape[:start_dim] + (prod(shape[start_dim:end_dim + 1]),) +
        shape[end_dim + 1:]``.
    """
    shape = input._data.shape
    if not shape:
        return Reshape.apply(input, shape=(1,))
    s = norm_dim(start_dim, len(shape), "flatten")
    e = norm_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise runtime_error("flatten", "flatten() has invalid args: start_dim cannot come "
                                       f"after end_dim (got {start_dim} and {end_dim})")
    merged = 1
    for n in shape[s:e + 1]:
        merged *= n
    return Reshape.apply(input, shape=shape[:s] + (merged,) + shape[e + 1:])


def unflatten(input, dim, sizes):  # noqa: A002
    """Split dimension ``dim`` into ``sizes`` (one of them may be -1): the inverse of flatten."""
    shape = input._data.shape
    d = norm_dim(dim, len(shape), "unflatten")
    sizes = _sizes((sizes,))
    if not sizes:
        raise runtime_error("unflatten", "sizes must be non-empty")
    known = int(np.prod([s for s in sizes if s != -1]))
    if -1 not in sizes and known != shape[d] or -1 in sizes and known and shape[d] % known:
        raise shape_error("unflatten", f"provided sizes {list(sizes)} don't multiply up to "
                                       f"the size of dim {dim} ({shape[d]}) in the input "
                                       f"tensor of shape {fmt_shape(shape)}")
    sizes = infer_shape(sizes, shape[d], "unflatten")
    return Reshape.apply(input, shape=shape[:d] + sizes + shape[d + 1:])


def ravel(input):  # noqa: A002
    """The elements as a 1-D tensor (a view when the input is contiguous)."""
    return Reshape.apply(input, shape=(-1,))


def _atleast(ndim, tensors):
    def lift(x):
        shape = x._data.shape
        if len(shape) >= ndim:
            return x
        if ndim == 3 and len(shape) == 2:
            return Reshape.apply(x, shape=shape + (1,))
        if ndim == 3 and len(shape) == 1:
            return Reshape.apply(x, shape=(1,) + shape + (1,))
        return Reshape.apply(x, shape=(1,) * (ndim - len(shape)) + shape)

    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return lift(tensors[0])
    if len(tensors) == 1:
        tensors = tensors[0]
    return tuple(lift(x) for x in tensors)


def atleast_1d(*tensors):
    """Each tensor with at least 1 dimension (0-dim becomes ``(1,)``); a tuple for several."""
    return _atleast(1, tensors)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dimensions (``(n,)`` becomes ``(1, n)``)."""
    return _atleast(2, tensors)


def atleast_3d(*tensors):
    """Each tensor with at least 3 dimensions (``(n,)`` -> ``(1, n, 1)``, ``(m, n)`` ->
    ``(m, n, 1)``), as NumPy does."""
    return _atleast(3, tensors)


def expand(input, *sizes):  # noqa: A002
    """A broadcast view to a larger shape (``-1`` keeps a size); writing to it is refused."""
    sizes = _sizes(sizes)
    shape = input._data.shape
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise shape_error("expand", f"the number of sizes provided ({len(sizes)}) must be "
                                    f"greater or equal to the number of dimensions in the "
                                    f"tensor of shape {fmt_shape(shape)}")
    if -1 in sizes[:lead]:
        raise shape_error("expand", f"the expanded size of the tensor (-1) isn't allowed in "
                                    f"a leading, non-existing dimension "
                                    f"{sizes[:lead].index(-1)} (sizes {fmt_shape(sizes)})")
    return Expand.apply(input, shape=sizes)


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


def type_as(input, other):  # noqa: A002
    """``input`` cast to ``other``'s dtype (itself when they already match)."""
    return to(input, other.dtype)


def _metadata_inplace(fn, name):
    """``squeeze_``-style methods: ``self`` takes the shape (and history) of ``fn(self)``.

    The result is a view of ``self``'s own memory, so only the metadata changes; the
    version bump makes a backward that saved the old ``self`` raise instead of seeing
    the new shape.
    """
    def method(self, *args, **kwargs):
        if GradMode.enabled and self._requires_grad:
            _check_recordable(name, self)
        result = fn(self, *args, **kwargs)
        self._data = result._data
        self.grad_fn, self._output_nr = result.grad_fn, result._output_nr
        self._vbox[0] += 1
        return self

    method.__name__ = name
    method.__doc__ = f"In-place form of ``{fn.__name__}`` (changes only the shape); returns self."
    return method


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
    "flatten": flatten, "unflatten": unflatten, "ravel": ravel, "type_as": type_as,
    "squeeze_": _metadata_inplace(squeeze, "squeeze_"),
    "unsqueeze_": _metadata_inplace(unsqueeze, "unsqueeze_"),
    "t_": _metadata_inplace(t, "t_"), "transpose_": _metadata_inplace(transpose, "transpose_"),
    "swapaxes_": _metadata_inplace(transpose, "swapaxes_"),
    "swapdims_": _metadata_inplace(transpose, "swapdims_"),
    "view_as": lambda self, other: view(self, other._data.shape),
    "reshape_as": lambda self, other: reshape(self, other._data.shape),
    "T": property(lambda self: permute(self, tuple(range(self._data.ndim))[::-1])),
    "mT": property(lambda self: transpose(self, -2, -1)),
    "H": property(lambda self: t(self)),
    "mH": property(lambda self: transpose(self, -2, -1)),
}

FUNCTIONAL = []
