"""Values picked along one dimension by index, their gradient put back, and named results.

``max``/``min`` with ``dim``, ``sort``, ``topk``, ``kthvalue``, ``median`` and
``cummax``/``cummin`` all select elements along a dimension. Their backward scatters the
gradient into zeros at the selected positions, and the backward of that scatter gathers
at the same positions: the two private ops here are each other's gradient, so gradients
of any order flow through every selecting op.

Index arrays are int64 NumPy arrays in the "host" layout: the input seen with at least
one dimension (a 0-dim tensor as shape ``(1,)``) and the selected axis kept.
"""

import collections

import numpy as np

from ember.autograd.node import Op
from ember.ops._reduce_dims import const, grad_to_input, kept_shape

__all__ = ["Select", "TakeAlong", "PutAlong", "host", "evenly", "return_type"]


class Select(Op):
    """Base of the ops that pick elements along one axis; forward gives ``(values, indices)``.

    A subclass defines ``choose(data, axis, **params)``: the int64 positions picked, in
    the host layout with ``axis`` kept (or ``(positions, values)`` when it has the
    values at hand). ``keepdim=False`` drops ``axis`` from both results (it must then
    have size 1). The gradient of the values flows back to the picked positions;
    ``unique = False`` when a position can be picked twice in a slice.
    """

    unique = True

    def forward(self, x, axis, keepdim, **params):
        data = host(x)
        picked = self.choose(data, axis, **params)
        index, values = picked if type(picked) is tuple else (picked, None)
        if x.ndim == 0:
            shape = ()
        elif keepdim:
            shape = index.shape
        else:
            shape = index.shape[:axis] + index.shape[axis + 1:]
        self.index, self.axis, self.in_shape = index, axis, x.shape
        if values is None:
            values = np.take_along_axis(data, index, axis)
        return values.reshape(shape), index.reshape(shape)

    def choose(self, data, axis, **params):
        raise NotImplementedError

    def backward(self, grad_values, grad_indices=None):
        return PutAlong.apply(grad_values, index=self.index, axis=self.axis,
                              shape=self.in_shape, unique=self.unique)


class TakeAlong(Op):
    """``x`` gathered at ``index`` along ``axis``, then given ``shape``.

    ``unique`` says that no position is picked twice within a slice (sort, max), which
    lets the backward scatter write instead of accumulate.
    """

    def forward(self, x, index, axis, shape, unique):
        self.index, self.axis, self.unique, self.in_shape = index, axis, unique, x.shape
        return np.take_along_axis(host(x), index, axis).reshape(shape)

    def backward(self, grad_out):
        return PutAlong.apply(grad_out, index=self.index, axis=self.axis, shape=self.in_shape,
                              unique=self.unique)


class PutAlong(Op):
    """Zeros of ``shape`` with ``src`` added at ``index`` along ``axis`` (scatter-add)."""

    def forward(self, src, index, axis, shape, unique):
        self.index, self.axis, self.unique, self.src_shape = index, axis, unique, src.shape
        src = src.reshape(index.shape)
        host_shape = shape or (1,)
        if unique:
            out = np.zeros(host_shape, src.dtype)
            np.put_along_axis(out, index, src, axis)
            return out.reshape(shape)
        # bincount is NumPy's fast accumulating scatter: one flat bin per output element.
        flat = _flat_index(index, axis, host_shape)
        sums = np.bincount(flat.ravel(), weights=src.ravel(), minlength=int(np.prod(shape)))
        return sums.astype(src.dtype, copy=False).reshape(shape)

    def backward(self, grad_out):
        return TakeAlong.apply(grad_out, index=self.index, axis=self.axis, shape=self.src_shape,
                               unique=self.unique)


def _flat_index(index, axis, shape):
    """The C-order flat position in ``shape`` of every entry of ``index`` (along ``axis``)."""
    strides = np.cumprod((tuple(shape[1:]) + (1,))[::-1])[::-1]
    flat = index * strides[axis]
    for d, n in enumerate(index.shape):
        if d != axis:
            view = [1] * index.ndim
            view[d] = n
            flat = flat + (np.arange(n) * strides[d]).reshape(view)
    return flat


def host(data):
    """The array seen with at least one dimension (a 0-dim array as shape ``(1,)``)."""
    return data.reshape(1) if data.ndim == 0 else data


def evenly(grad_out, x, out, axes, keepdim):
    """The gradient of a reduction that returns one of its inputs (max, median, amax).

    Elements equal to the result share the gradient evenly, as in PyTorch; a NaN result
    counts the NaN elements as equal to it.
    """
    data = x._data
    value = out._data if keepdim else out._data.reshape(kept_shape(data.shape, axes))
    mask = data == value
    if data.dtype.kind == "f":
        mask |= np.isnan(data) & np.isnan(value)
    weights = mask / mask.sum(axis=axes, keepdims=True)
    return grad_to_input(grad_out, data.shape, axes, keepdim) * const(weights, data.dtype)


def return_type(name, fields=("values", "indices")):
    """A named tuple class like PyTorch's ``torch.return_types.<name>``."""
    cls = collections.namedtuple(name, fields)
    cls.__module__ = "ember.return_types"
    return cls
