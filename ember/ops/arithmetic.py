"""Arithmetic: ``+ - * / ** //  %``, with NumPy broadcasting and PyTorch's dtype promotion.

Every backward here returns the gradient in the broadcast shape; the engine sums it
back to each input's shape.
"""

import numpy as np

from ember._dtype import get_default_dtype
from ember._errors import runtime_error, value_error
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Observers, Op
from ember.ops._methods import inplace_all, reflected, write_out
from ember.ops._promote import as_tensor, promote
from ember.tensor import Tensor

_make = Tensor._make

__all__ = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
           "floor_divide", "remainder", "fmod", "neg", "negative", "pow", "float_power",
           "reciprocal", "square", "rsub"]


class Add(Op):
    def forward(self, a, b, into=False):
        # ``into``: ``a += b`` in ``a``'s memory (``add_`` with nothing saved, NOTE [in-place
        # without a snapshot] in _inplace.py): one pass instead of a new array and a copy.
        return np.add(a, b, out=a) if into else a + b

    def backward(self, grad_out):
        return grad_out, grad_out


class Sub(Op):
    def forward(self, a, b):
        return a - b

    def backward(self, grad_out):
        return grad_out, (-grad_out if self.needs_input_grad[1] else None)


class Mul(Op):
    def forward(self, a, b):
        self.save_inputs(0, 1)
        return a * b

    def backward(self, grad_out):
        a, b = self.saved_inputs
        need_a, need_b = self.needs_input_grad
        if GradMode.enabled or Observers.active:  # create_graph, or a profiler watching
            # Mul.apply, not ``*``: the three share one dtype already (NOTE [op overhead]).
            return (Mul.apply(grad_out, b) if need_a else None), \
                (Mul.apply(grad_out, a) if need_b else None)
        # Nobody records or watches them: the products on arrays, without the wrapping of
        # an op each (the op-overhead benchmark's step 16.6 us from 18.0).
        g = grad_out._data
        return (_make(np.asarray(g * b._data)) if need_a else None), \
            (_make(np.asarray(g * a._data)) if need_b else None)


class Div(Op):
    def forward(self, a, b):
        self.save_inputs(0, 1)
        return a / b

    def backward(self, grad_out):
        a, b = self.saved_inputs
        grad_a = grad_out / b
        grad_b = -grad_a * a / b if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Neg(Op):
    def forward(self, x):
        return -x

    def backward(self, grad_out):
        return -grad_out


class PowScalar(Op):
    """``x ** c`` for a Python number ``c``: d/dx = c * x ** (c - 1)."""

    def forward(self, x, exponent):
        self.exponent = exponent
        self.save_inputs(0)
        if x.dtype.kind in "iu" and isinstance(exponent, int) and exponent < 0:
            raise value_error("pow", "integers to negative integer powers are not allowed")
        return np.power(x, exponent, dtype=x.dtype)

    def backward(self, grad_out):
        (x,) = self.saved_inputs
        c = self.exponent
        if c == 0:
            return grad_out * 0
        if c == 2:
            return grad_out * 2 * x
        return grad_out * c * x ** (c - 1)


class Pow(Op):
    """``x ** y`` for tensors; d/dy = x ** y * log x, taken as 0 where x == 0 and y >= 0."""

    def forward(self, x, y):
        self.save_inputs(0, 1)
        self.save_outputs(0)
        return np.power(x, y)

    def backward(self, grad_out):
        x, y = self.saved_inputs
        (out,) = self.saved_outputs
        need_x, need_y = self.needs_input_grad
        grad_x = grad_out * y * x ** (y - 1) if need_x else None
        grad_y = None
        if need_y:
            safe = x.masked_fill((x == 0) & (y >= 0), 1)
            grad_y = grad_out * out * safe.log()
        return grad_x, grad_y


class RPowScalar(Op):
    """``c ** x`` for a Python number ``c``: d/dx = c ** x * log c."""

    def forward(self, x, base):
        self.log_base = float(np.log(base)) if base > 0 else float("nan")
        self.save_outputs(0)
        return np.power(np.asarray(base, dtype=x.dtype), x)

    def backward(self, grad_out):
        (out,) = self.saved_outputs
        return grad_out * out * self.log_base


class FloorDivide(Op):
    differentiable = False

    def forward(self, a, b):
        return np.floor_divide(a, b)


class Remainder(Op):
    """Python's ``%``: the result has the sign of the divisor. d/da = 1, d/db = -floor(a/b)."""

    def forward(self, a, b):
        self.save_inputs(0, 1)
        return np.remainder(a, b)

    def backward(self, grad_out):
        a, b = self.saved_inputs
        return grad_out, (-grad_out * (a / b).floor() if self.needs_input_grad[1] else None)


class Fmod(Op):
    """C's ``fmod``: the result has the sign of the dividend. d/db = -trunc(a/b)."""

    def forward(self, a, b):
        self.save_inputs(0, 1)
        return np.fmod(a, b)

    def backward(self, grad_out):
        a, b = self.saved_inputs
        return grad_out, (-grad_out * (a / b).trunc() if self.needs_input_grad[1] else None)


def add(input, other, *, alpha=1, out=None):  # noqa: A002 - PyTorch's names
    """``input + alpha * other``."""
    if alpha != 1:
        other = mul(other, alpha)
    if isinstance(other, Tensor) and isinstance(input, Tensor) and \
            input._data.dtype is other._data.dtype:
        result = Add.apply(input, other)
    else:
        result = Add.apply(*promote(input, other))
    return result if out is None else write_out(result, out)


def sub(input, other, *, alpha=1, out=None):  # noqa: A002
    """``input - alpha * other``."""
    if isinstance(input, Tensor) and input._data.dtype == np.bool_:
        raise runtime_error("sub", "subtraction with two bool tensors is not supported; "
                                   "use the `^` or `logical_xor()` operator instead")
    if alpha != 1:
        other = mul(other, alpha)
    a, b = promote(input, other)
    return write_out(Sub.apply(a, b), out)


def rsub(input, other, *, alpha=1):  # noqa: A002
    """``other - alpha * input``."""
    return sub(other, input, alpha=alpha)


def mul(input, other, *, out=None):  # noqa: A002
    # The same-dtype test inline, before promote's: see NOTE [op overhead] in autograd/node.py.
    if isinstance(other, Tensor) and isinstance(input, Tensor) and \
            input._data.dtype is other._data.dtype:
        result = Mul.apply(input, other)
    else:
        result = Mul.apply(*promote(input, other))
    return result if out is None else write_out(result, out)


def div(input, other, *, rounding_mode=None, out=None):  # noqa: A002
    """True division (ints give floats), or ``rounding_mode='trunc'``/``'floor'``."""
    a, b = promote(input, other)
    if rounding_mode == "floor":
        return write_out(FloorDivide.apply(a, b), out)
    if rounding_mode == "trunc":
        return write_out((Div.apply(*_floats(a, b))).trunc().to(a.dtype), out)
    if rounding_mode is not None:
        raise value_error("div", f"rounding_mode must be None, 'trunc' or 'floor', "
                                 f"not {rounding_mode!r}")
    return write_out(Div.apply(*_floats(a, b)), out)


def _floats(a, b):
    if a._data.dtype.kind == "f":
        return a, b
    d = get_default_dtype()
    return a.to(d), b.to(d)


def floor_divide(input, other):  # noqa: A002
    return FloorDivide.apply(*promote(input, other))


def remainder(input, other):  # noqa: A002
    return Remainder.apply(*promote(input, other))


def fmod(input, other):  # noqa: A002
    return Fmod.apply(*promote(input, other))


def neg(input):  # noqa: A002
    return Neg.apply(input)


def pow(input, exponent):  # noqa: A001, A002
    """``input ** exponent``; either may be a number."""
    if not isinstance(exponent, Tensor):
        if not isinstance(input, Tensor):
            raise TypeError("pow: at least one of input and exponent must be a Tensor")
        if input._data.dtype.kind in "iub" and isinstance(exponent, float):
            input = input.to(get_default_dtype())
        return PowScalar.apply(input, exponent=exponent)
    if not isinstance(input, Tensor):
        if exponent._data.dtype.kind in "iub" and isinstance(input, float):
            exponent = exponent.to(get_default_dtype())
        return RPowScalar.apply(exponent, base=input)
    return Pow.apply(*promote(input, exponent))


def float_power(input, exponent):  # noqa: A002
    """``pow`` computed in float64."""
    x = as_tensor(input).double()
    return pow(x, exponent.double() if isinstance(exponent, Tensor) else float(exponent))


def reciprocal(input):  # noqa: A002
    return div(1.0, input)


def square(input):  # noqa: A002
    return pow(input, 2)


subtract, multiply, divide, true_divide, negative = sub, mul, div, div, neg


METHODS = {
    "add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div,
    "divide": div, "true_divide": div, "floor_divide": floor_divide, "remainder": remainder,
    "fmod": fmod, "neg": neg, "negative": neg, "pow": pow, "float_power": float_power,
    "reciprocal": reciprocal, "square": square,
    "__add__": add, "__radd__": reflected(add), "__sub__": sub, "__rsub__": reflected(sub),
    "__mul__": mul, "__rmul__": reflected(mul), "__truediv__": div,
    "__rtruediv__": reflected(div), "__floordiv__": floor_divide,
    "__rfloordiv__": reflected(floor_divide), "__mod__": remainder,
    "__rmod__": reflected(remainder), "__pow__": pow, "__rpow__": reflected(pow),
    "__neg__": neg, "__pos__": lambda self: self,
}
METHODS.update(inplace_all({
    "add_": add, "sub_": sub, "mul_": mul, "div_": div, "pow_": pow, "neg_": neg,
    "remainder_": remainder, "fmod_": fmod, "floor_divide_": floor_divide,
    "reciprocal_": reciprocal, "square_": square,
}))
METHODS.update({"__iadd__": METHODS["add_"], "__isub__": METHODS["sub_"],
                "__imul__": METHODS["mul_"], "__itruediv__": METHODS["div_"],
                "__ipow__": METHODS["pow_"], "__ifloordiv__": METHODS["floor_divide_"],
                "__imod__": METHODS["remainder_"]})

FUNCTIONAL = []
