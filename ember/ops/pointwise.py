"""Pointwise functions of two or three tensors: ``atan2``, ``hypot``, ``xlogy``,
``logaddexp``, ``lerp``, ``addcmul``, ``addcdiv``.

Operands broadcast together and promote as in PyTorch; functions that need floats turn
integer operands into the default float dtype. ``addcmul``/``addcdiv`` are fused because
optimizers call them (in place) on every parameter at every step.
"""

import math

import numpy as np

from ember._dtype import get_default_dtype
from ember._errors import type_error
from ember.autograd.node import Op
from ember.ops._methods import inplace_all, write_out
from ember.ops._promote import as_dtype, promote, promote_all
from ember.ops._unary_base import _tensor
from ember.ops.compare import masked_grad
from ember.ops.unary import sigmoid
from ember.tensor import Tensor

__all__ = [
    "addcdiv", "addcmul", "arctan2", "atan2", "hypot", "lerp", "logaddexp", "logaddexp2",
    "xlogy",
]

_LN2 = math.log(2.0)


class Atan2(Op):
    """``atan2(a, b)``: the angle of the point (b, a), in (-pi, pi]."""

    def forward(self, a, b):
        self.save_inputs(0, 1)
        return np.arctan2(a, b)

    def backward(self, grad_out):
        a, b = self.saved_inputs
        scaled = grad_out / (a * a + b * b)
        need_a, need_b = self.needs_input_grad
        return (scaled * b if need_a else None), (scaled * -a if need_b else None)


class Hypot(Op):
    """``sqrt(a**2 + b**2)`` without overflow."""

    def forward(self, a, b):
        self.save_inputs(0, 1)
        self.save_outputs(0)
        return np.hypot(a, b)

    def backward(self, grad_out):
        a, b = self.saved_inputs
        scaled = grad_out / self.saved_outputs[0]
        need_a, need_b = self.needs_input_grad
        return (scaled * a if need_a else None), (scaled * b if need_b else None)


class Xlogy(Op):
    """``a * log(b)``, 0 where ``a == 0`` (unless b is NaN)."""

    def forward(self, a, b):
        self.save_inputs(0, 1)
        with np.errstate(all="ignore"):
            out = a * np.log(b)
        return np.where((a == 0) & ~np.isnan(b), a.dtype.type(0), out)

    def backward(self, grad_out):
        a, b = self.saved_inputs
        need_a, need_b = self.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            keep = ~((a._data == 0) & (b._data <= 0))
            grad_a = masked_grad(keep, xlogy(grad_out, b))
        if need_b:
            grad_b = grad_out * a / b
        return grad_a, grad_b


class LogAddExp(Op):
    """``log(exp(a) + exp(b))`` without overflow (``base=2`` for logaddexp2)."""

    def forward(self, a, b, base):
        self.save_inputs(0, 1)
        self.scale = 1.0 if base == "e" else _LN2
        with np.errstate(all="ignore"):
            return np.logaddexp(a, b) if base == "e" else np.logaddexp2(a, b)

    def backward(self, grad_out):
        a, b = self.saved_inputs
        share = sigmoid((a - b) * self.scale)
        need_a, need_b = self.needs_input_grad
        return (grad_out * share if need_a else None), \
            (grad_out * (1 - share) if need_b else None)


def _float_pair(input, other, op):
    """Two operands promoted together, then to the default float if they are integers."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise type_error(op, "at least one of input and other must be a Tensor")
    a, b = promote(input, other)
    if a._data.dtype.kind != "f":
        d = get_default_dtype().np
        a, b = as_dtype(a, d), as_dtype(b, d)
    return a, b


def _float_only_pair(input, other, op):
    a, b = promote(_tensor(input, op), _tensor(other, op))
    if a._data.dtype.kind != "f":
        raise NotImplementedError(f"{op}: not implemented for {a.dtype.name} tensors")
    return a, b


def atan2(input, other, *, out=None):
    """The angle of the point ``(other, input)``: ``atan(input / other)`` in the right quadrant."""
    return write_out(Atan2.apply(*_float_pair(_tensor(input, "atan2"), other, "atan2")), out)


arctan2 = atan2


def hypot(input, other, *, out=None):
    """``sqrt(input**2 + other**2)`` elementwise, computed without overflow."""
    return write_out(Hypot.apply(*_float_only_pair(input, other, "hypot")), out)


def xlogy(input, other, *, out=None):
    """``input * log(other)``, defined as 0 where ``input == 0``; either may be a number."""
    return write_out(Xlogy.apply(*_float_pair(input, other, "xlogy")), out)


def logaddexp(input, other, *, out=None):
    """``log(exp(input) + exp(other))`` computed stably."""
    a, b = _float_only_pair(input, other, "logaddexp")
    return write_out(LogAddExp.apply(a, b, base="e"), out)


def logaddexp2(input, other, *, out=None):
    """``log2(2**input + 2**other)`` computed stably."""
    a, b = _float_only_pair(input, other, "logaddexp2")
    return write_out(LogAddExp.apply(a, b, base="2"), out)


class Lerp(Op):
    """``start + weight * (end - start)``, evaluated from the nearer end as PyTorch does."""

    def forward(self, start, end, weight):
        self.save_inputs(0, 1, 2)
        diff = end - start
        near_start = np.abs(weight) < 0.5
        return np.where(near_start, start + weight * diff, end - diff * (1 - weight))

    def backward(self, grad_out):
        start, end, weight = self.saved_inputs
        need_s, need_e, need_w = self.needs_input_grad
        return (grad_out * (1 - weight) if need_s else None,
                grad_out * weight if need_e else None,
                grad_out * (end - start) if need_w else None)


def lerp(input, end, weight, *, out=None):
    """Linear interpolation ``input + weight * (end - input)``.

    Args:
        input, end: tensors of one float dtype (broadcastable).
        weight: a number or a tensor broadcastable with them.

    Example:
        >>> import ember
        >>> ember.lerp(ember.tensor([0.0, 10.0]), ember.tensor([10.0, 20.0]), 0.25)
        tensor([ 2.5000, 12.5000])
    """
    start, end = _float_only_pair(input, end, "lerp")
    weight = as_dtype(weight, start._data.dtype)
    return write_out(Lerp.apply(start, end, weight), out)


class AddCMul(Op):
    """``a + value * b * c`` in one pass."""

    def forward(self, a, b, c, value):
        self.save_inputs(1, 2)
        self.value = value
        prod = b * c
        return a + prod if value == 1 else a + value * prod

    def backward(self, grad_out):
        b, c = self.saved_inputs
        _, need_b, need_c = self.needs_input_grad
        scaled = grad_out if self.value == 1 else grad_out * self.value
        return grad_out, (scaled * c if need_b else None), (scaled * b if need_c else None)


class AddCDiv(Op):
    """``a + value * b / c`` in one pass."""

    def forward(self, a, b, c, value):
        self.save_inputs(1, 2)
        self.value = value
        quot = b / c
        return a + quot if value == 1 else a + value * quot

    def backward(self, grad_out):
        b, c = self.saved_inputs
        _, need_b, need_c = self.needs_input_grad
        scaled = (grad_out if self.value == 1 else grad_out * self.value) / c
        return grad_out, (scaled if need_b else None), (-scaled * b / c if need_c else None)


def addcmul(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * tensor1 * tensor2`` (the three broadcast together)."""
    a, b, c = promote_all(input, tensor1, tensor2)
    return write_out(AddCMul.apply(a, b, c, value=value), out)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None):
    """``input + value * tensor1 / tensor2`` (the three broadcast together); floats only."""
    a, b, c = promote_all(input, tensor1, tensor2)
    if a._data.dtype.kind != "f":
        raise RuntimeError("addcdiv: integer division with addcdiv is not supported; "
                           "use addcmul(input, tensor1, 1 / tensor2) or convert to floats")
    return write_out(AddCDiv.apply(a, b, c, value=value), out)


_OUT_OF_PLACE = {
    "atan2": atan2, "arctan2": atan2, "hypot": hypot, "xlogy": xlogy, "lerp": lerp,
    "addcmul": addcmul, "addcdiv": addcdiv,
}
METHODS = dict(_OUT_OF_PLACE, logaddexp=logaddexp, logaddexp2=logaddexp2)
METHODS.update(inplace_all({f"{name}_": fn for name, fn in _OUT_OF_PLACE.items()}))

FUNCTIONAL = []
