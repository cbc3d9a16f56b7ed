"""Order statistics along one dimension: sort, argsort, topk, kthvalue, median.

NaN sorts as larger than every number, as in PyTorch. Sorting is stable (ties keep
their order, also when descending), which PyTorch guarantees with ``stable=True`` and
happens to do for short rows otherwise. The values' gradient flows back to the
positions they were taken from.
"""

import numpy as np

from ember._errors import index_error, runtime_error
from ember.autograd.node import Op
from ember.ops._along import Select, evenly, host, return_type
from ember.ops._reduce_dims import norm_dim
from ember.tensor import Tensor

__all__ = ["sort", "argsort", "topk", "kthvalue", "median"]

SortResult = return_type("sort")
TopkResult = return_type("topk")
KthvalueResult = return_type("kthvalue")
MedianResult = return_type("median")

_make = Tensor._make


def _argsort(data, axis, descending):
    """Stable int64 sorting indices; descending keeps ties in their original order."""
    if not descending:
        return np.argsort(data, axis=axis, kind="stable")
    # Reversed, sorted ascending, reversed again: descending with ties still in order.
    n = data.shape[axis]
    order = np.argsort(np.flip(data, axis), axis=axis, kind="stable")
    return np.flip(n - 1 - order, axis)


class Sort(Select):
    def choose(self, data, axis, descending):
        return _argsort(data, axis, descending)


class Topk(Select):
    def choose(self, data, axis, k, largest, sorted):  # noqa: A002 - PyTorch's name
        n = data.shape[axis]
        if 4 * k >= n or k == 0:
            return np.take(_argsort(data, axis, largest), np.arange(k), axis=axis)
        # Few of many: partition first, then sort only the k chosen.
        part = np.argpartition(data, n - k if largest else k - 1, axis=axis)
        part = np.take(part, np.arange(n - k, n) if largest else np.arange(k), axis=axis)
        if not sorted:
            return part
        chosen = np.take_along_axis(data, part, axis)
        return np.take_along_axis(part, _argsort(chosen, axis, largest), axis)


class Kthvalue(Select):
    def choose(self, data, axis, k):
        return np.take(np.argpartition(data, k - 1, axis=axis), [k - 1], axis=axis)


class MedianDim(Select):
    """The lower median of each slice; a slice with NaN gives its first NaN."""

    def choose(self, data, axis):
        k = (data.shape[axis] - 1) // 2
        index = np.take(np.argpartition(data, k, axis=axis), [k], axis=axis)
        if data.dtype.kind == "f":
            nan = np.isnan(data)
            if nan.any():
                first_nan = np.argmax(nan, axis=axis, keepdims=True)
                index = np.where(nan.any(axis=axis, keepdims=True), first_nan, index)
        return index


def sort(input, dim=-1, descending=False, *, stable=False):  # noqa: A002
    """``(values, indices)``: the elements along ``dim`` in order, and where they came from.

    Args:
        input: a tensor.
        dim: the dimension to sort along.
        descending: largest first.
        stable: keep ties in their original order (ember always does).

    Returns:
        A named tuple ``(values, indices)`` of the input's shape; ``indices`` is int64.
    """
    axis = norm_dim(dim, input._data.ndim, "sort")
    return SortResult(*Sort.apply(input, axis=axis, keepdim=True, descending=descending))


def argsort(input, dim=-1, descending=False, *, stable=False):  # noqa: A002
    """The int64 indices that sort ``input`` along ``dim`` (see :func:`sort`)."""
    axis = norm_dim(dim, input._data.ndim, "argsort")
    index = _argsort(host(input._data), axis, descending)
    return _make(index.astype(np.int64, copy=False).reshape(input._data.shape))


def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``.

    Args:
        input: a tensor (not bool).
        k: how many elements to keep.
        dim: the dimension to select along (the last by default).
        largest: the largest elements, else the smallest.
        sorted: return them in order (largest first when ``largest``).
    """
    if input._data.dtype == np.bool_:
        raise runtime_error("topk", "does not support bool dtypes")
    axis = norm_dim(dim, input._data.ndim, "topk")
    data = host(input._data)
    n = data.shape[axis]
    if not 0 <= k <= n:
        raise runtime_error("topk", f"selected index k={k} out of range for dimension {axis} "
                                    f"of size {n}")
    out = Topk.apply(input, axis=axis, keepdim=True, k=k, largest=largest, sorted=sorted)
    return TopkResult(*out)


def kthvalue(input, k, dim=-1, keepdim=False):  # noqa: A002
    """``(values, indices)`` of the ``k``-th smallest element along ``dim``.

    Args:
        input: a tensor.
        k: the rank, from 1 (the smallest) to the size of ``dim``.
        dim: the dimension to search (the last by default).
        keepdim: keep ``dim`` with size 1.
    """
    axis = norm_dim(dim, input._data.ndim, "kthvalue")
    data = host(input._data)
    n = data.shape[axis]
    if not 1 <= k <= n:
        raise runtime_error("kthvalue", f"selected number k={k} out of range for dimension "
                                        f"{axis} of size {n}")
    return KthvalueResult(*Kthvalue.apply(input, axis=axis, keepdim=keepdim, k=k))


class Median(Op):
    """The lower median of all elements (NaN if any is NaN); ties share the gradient."""

    def forward(self, x):
        self.save_inputs(0)
        self.save_outputs(0)
        flat = x.reshape(-1)
        if flat.size == 0:
            return np.full((), np.nan, x.dtype)
        if x.dtype.kind == "f" and np.isnan(flat).any():
            return np.full((), np.nan, x.dtype)
        k = (flat.size - 1) // 2
        return np.partition(flat, k)[k]

    def backward(self, grad_out):
        (x,), (out,) = self.saved_inputs, self.saved_outputs
        return evenly(grad_out, x, out, tuple(range(x._data.ndim)), False)


def median(input, dim=None, keepdim=False):  # noqa: A002
    """The lower median: of all elements without ``dim``; else ``(values, indices)`` along it.

    Of an even count the smaller of the two middle elements is taken; a NaN in a slice
    makes its median NaN (with the index of the first NaN), as in PyTorch.
    """
    if dim is None:
        return Median.apply(input)
    axis = norm_dim(dim, input._data.ndim, "median")
    data = host(input._data)
    n = data.shape[axis]
    if n == 0:
        raise index_error("median", f"Expected reduction dim {axis} to have non-zero size.")
    return MedianResult(*MedianDim.apply(input, axis=axis, keepdim=keepdim))


METHODS = {"sort": sort, "argsort": argsort, "topk": topk, "kthvalue": kthvalue,
           "median": median}

FUNCTIONAL = []
