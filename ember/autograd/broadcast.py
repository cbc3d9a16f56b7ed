"""The three ops the engine itself needs: summing a broadcast gradient back to its
input's shape, broadcasting (its backward), and casting between float dtypes.

They live beside the engine, not in ``ember.ops``, because the engine applies them to
every gradient that crosses a broadcast; ``ember.ops`` re-exports them as
``sum_to_size``, ``expand``/``broadcast_to`` and ``Tensor.to``.
"""

import numpy as np

from ember._errors import fmt_shape, shape_error
from ember.autograd.node import Op

__all__ = ["SumToSize", "Expand", "Cast", "sum_to_shape"]


def sum_to_shape(arr, shape):
    """Sum ``arr`` over the axes that broadcasting added or stretched to reach ``shape``."""
    lead = arr.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(shape) if s == 1 and arr.shape[lead + i] != 1
    )
    if axes:
        arr = np.add.reduce(arr, axis=axes, keepdims=True)
    if lead:
        arr = arr.reshape(shape)
    return arr


class SumToSize(Op):
    """Sum a broadcast array back to ``shape``: the backward of broadcasting."""

    def forward(self, x, shape):
        shape = tuple(shape)
        if shape == x.shape:
            self.in_shape = shape
            return x
        if not _broadcastable(shape, x.shape):
            raise shape_error("sum_to_size", f"size {fmt_shape(shape)} is not expandable "
                                             f"to the tensor's size {fmt_shape(x.shape)}")
        self.in_shape = x.shape
        return sum_to_shape(x, shape)

    def backward(self, grad_out):
        return Expand.apply(grad_out, shape=self.in_shape)


class Expand(Op):
    """Broadcast to a larger shape without copying (a read-only NumPy view)."""

    is_view = True

    def forward(self, x, shape):
        if shape == x.shape:
            self.in_shape = shape
            return x
        shape = tuple(x.shape[i - len(shape) + x.ndim] if s == -1 else s
                      for i, s in enumerate(shape))
        if not _broadcastable(x.shape, shape):
            raise shape_error("expand", f"the tensor of shape {fmt_shape(x.shape)} cannot be "
                                        f"expanded to {fmt_shape(shape)}: sizes other than 1 "
                                        "must match")
        self.in_shape = x.shape
        return np.broadcast_to(x, shape)

    def backward(self, grad_out):
        return SumToSize.apply(grad_out, shape=self.in_shape)


class Cast(Op):
    """Convert to another dtype; the gradient converts back (only between float types)."""

    def forward(self, x, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, grad_out):
        if self.in_dtype.kind != "f":
            return None
        return Cast.apply(grad_out, dtype=self.in_dtype)


def _broadcastable(small, big):
    if len(small) > len(big):
        return False
    return all(s == b or s == 1 for s, b in zip(small[::-1], big[::-1]))
