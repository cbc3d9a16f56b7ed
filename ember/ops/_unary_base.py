"""The shared machinery of the one-tensor elementwise families (``unary``, ``rounding``).

``_Unary`` applies ``fn`` to one array, keeping what backward needs; the helpers check
the argument and, for float-valued functions, turn integers into the default float dtype.
"""

import numpy as np

from ember._dtype import get_default_dtype
from ember._errors import type_error
from ember.autograd.node import Op
from ember.ops._methods import write_out
from ember.ops._promote import as_dtype
from ember.tensor import Tensor

_make = Tensor._make


class _Unary(Op):
    """``fn`` of one array. ``keep`` names what backward needs: "input", "output" or None."""

    fn = None
    keep = None

    def forward(self, x):
        if self.keep == "input":
            self.save_inputs(0)
        elif self.keep == "output":
            self.save_outputs(0)
        with np.errstate(all="ignore"):
            if x.dtype == np.float16:  # like PyTorch, compute half precision in float32
                return self.fn(x.astype(np.float32)).astype(np.float16)
            return self.fn(x)

    def input(self):
        return self.saved_inputs[0]

    def output(self):
        return self.saved_outputs[0]


class _Flat(_Unary):
    """A step function (floor, sign ...): zero gradient everywhere, as in PyTorch."""

    def backward(self, grad_out):
        return _make(np.zeros_like(grad_out._data))


def _tensor(x, op):
    if not isinstance(x, Tensor):
        raise type_error(op, f"argument 'input' must be a Tensor, not {type(x).__name__}")
    return x


def _floating(x, op):
    """``x``, or ``x`` converted to the default float dtype when it holds ints or bools."""
    if _tensor(x, op)._data.dtype.kind == "f":
        return x
    return as_dtype(x, get_default_dtype().np)


def _float_op(op_cls, name, doc):
    """The public function of a float-valued unary op (ints become the default float)."""

    def fn(input, *, out=None):
        return write_out(op_cls.apply(_floating(input, name)), out)

    fn.__name__ = name
    fn.__doc__ = doc
    return fn
