"""Elementwise math of one tensor: exponentials and logarithms, roots, trigonometry,
``sigmoid``, ``erf`` (sign, abs and rounding are in ``rounding.py``).

Functions that need floats turn integer and bool inputs into the default float dtype, as
PyTorch does; ``abs``, ``sign`` and the rounding functions keep integers as they are.
NumPy's floating-point warnings are silenced: like PyTorch, ``log(-1)`` is quietly NaN.
"""

import math

import numpy as np

from ember.autograd.node import Op
from ember.ops import _special
from ember.ops._methods import inplace_all, write_out
from ember.ops._unary_base import _float_op, _floating, _tensor, _Unary
from ember.ops.compare import masked_grad, where
from ember.tensor import Tensor

__all__ = [
    "acos", "acosh", "arccos", "arccosh", "arcsin", "arcsinh", "arctan",
    "arctanh", "asin", "asinh", "atan", "atanh", "cos", "cosh", "deg2rad", "erf",
    "erfc", "erfinv", "exp", "exp2", "expm1", "log", "log1p", "log2",
    "log10", "logit", "nan_to_num", "rad2deg", "rsqrt", "sigmoid", "sin", "sinc", "sinh",
    "sqrt", "tan", "tanh",
]
FUNCTIONAL = ["sigmoid", "tanh"]

_make = Tensor._make
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


# ---- exponentials and logarithms --------------------------------------------------------

class Exp(_Unary):
    fn, keep = np.exp, "output"

    def backward(self, grad_out):
        return grad_out * self.output()


class Exp2(_Unary):
    fn, keep = np.exp2, "output"

    def backward(self, grad_out):
        return grad_out * self.output() * _LN2


class Expm1(_Unary):
    fn, keep = np.expm1, "output"

    def backward(self, grad_out):
        return grad_out * (self.output() + 1)


class Log(_Unary):
    fn, keep = np.log, "input"

    def backward(self, grad_out):
        return grad_out / self.input()


class Log2(_Unary):
    fn, keep = np.log2, "input"

    def backward(self, grad_out):
        return grad_out / (self.input() * _LN2)


class Log10(_Unary):
    fn, keep = np.log10, "input"

    def backward(self, grad_out):
        return grad_out / (self.input() * _LN10)


class Log1p(_Unary):
    fn, keep = np.log1p, "input"

    def backward(self, grad_out):
        return grad_out / (self.input() + 1)


class Sqrt(_Unary):
    fn, keep = np.sqrt, "output"

    def backward(self, grad_out):
        return grad_out / (2 * self.output())


def _rsqrt(x):
    out = np.sqrt(x)
    return np.reciprocal(out, out=out) if type(out) is np.ndarray else 1 / out


class Rsqrt(_Unary):
    fn, keep = staticmethod(_rsqrt), "output"

    def backward(self, grad_out):
        return grad_out * self.output() ** 3 * -0.5


exp = _float_op(Exp, "exp", "``e ** input`` elementwise.")
exp2 = _float_op(Exp2, "exp2", "``2 ** input`` elementwise.")
expm1 = _float_op(Expm1, "expm1", "``exp(input) - 1``, accurate for small inputs.")
log = _float_op(Log, "log", "Natural logarithm; NaN for negative inputs, -inf at 0.")
log2 = _float_op(Log2, "log2", "Base-2 logarithm.")
log10 = _float_op(Log10, "log10", "Base-10 logarithm.")
log1p = _float_op(Log1p, "log1p", "``log(1 + input)``, accurate for small inputs.")
sqrt = _float_op(Sqrt, "sqrt", "Square root; NaN for negative inputs.")
rsqrt = _float_op(Rsqrt, "rsqrt", "``1 / sqrt(input)``.")


# ---- trigonometric and hyperbolic -------------------------------------------------------

class Sin(_Unary):
    fn, keep = np.sin, "input"

    def backward(self, grad_out):
        return grad_out * cos(self.input())


class Cos(_Unary):
    fn, keep = np.cos, "input"

    def backward(self, grad_out):
        return grad_out * -sin(self.input())


class Tan(_Unary):
    fn, keep = np.tan, "output"

    def backward(self, grad_out):
        out = self.output()
        return grad_out * (1 + out * out)


class Asin(_Unary):
    fn, keep = np.arcsin, "input"

    def backward(self, grad_out):
        x = self.input()
        return grad_out * rsqrt(1 - x * x)


class Acos(_Unary):
    fn, keep = np.arccos, "input"

    def backward(self, grad_out):
        x = self.input()
        return grad_out * -rsqrt(1 - x * x)


class Atan(_Unary):
    fn, keep = np.arctan, "input"

    def backward(self, grad_out):
        x = self.input()
        return grad_out / (1 + x * x)


class Sinh(_Unary):
    fn, keep = np.sinh, "input"

    def backward(self, grad_out):
        return grad_out * cosh(self.input())


class Cosh(_Unary):
    fn, keep = np.cosh, "input"

    def backward(self, grad_out):
        return grad_out * sinh(self.input())


class Tanh(_Unary):
    fn, keep = np.tanh, "output"

    def backward(self, grad_out):
        out = self.output()
        return grad_out * (1 - out * out)


class Asinh(_Unary):
    fn, keep = np.arcsinh, "input"

    def backward(self, grad_out):
        x = self.input()
        return grad_out * rsqrt(x * x + 1)


class Acosh(_Unary):
    fn, keep = np.arccosh, "input"

    def backward(self, grad_out):
        x = self.input()
        return grad_out * rsqrt(x * x - 1)


class Atanh(_Unary):
    fn, keep = np.arctanh, "input"

    def backward(self, grad_out):
        x = self.input()
        return grad_out / (1 - x * x)


sin = _float_op(Sin, "sin", "Sine of radians.")
cos = _float_op(Cos, "cos", "Cosine of radians.")
tan = _float_op(Tan, "tan", "Tangent of radians.")
asin = arcsin = _float_op(Asin, "asin", "Inverse sine, in [-pi/2, pi/2]; NaN outside [-1, 1].")
acos = arccos = _float_op(Acos, "acos", "Inverse cosine, in [0, pi]; NaN outside [-1, 1].")
atan = arctan = _float_op(Atan, "atan", "Inverse tangent, in (-pi/2, pi/2).")
sinh = _float_op(Sinh, "sinh", "Hyperbolic sine.")
cosh = _float_op(Cosh, "cosh", "Hyperbolic cosine.")
tanh = _float_op(Tanh, "tanh", "Hyperbolic tangent, ``(e^x - e^-x) / (e^x + e^-x)``.")
asinh = arcsinh = _float_op(Asinh, "asinh", "Inverse hyperbolic sine.")
acosh = arccosh = _float_op(Acosh, "acosh", "Inverse hyperbolic cosine; NaN below 1.")
atanh = arctanh = _float_op(Atanh, "atanh", "Inverse hyperbolic tangent; NaN outside [-1, 1].")


# ---- sigmoid, logit, erf ----------------------------------------------------------------

def _sigmoid(x):
    # exp(-x) may overflow to inf for very negative x, which correctly gives 0.
    out = np.exp(-x)
    if type(out) is not np.ndarray:
        return 1 / (1 + out)
    out += 1
    return np.reciprocal(out, out=out)


class Sigmoid(_Unary):
    fn, keep = staticmethod(_sigmoid), "output"

    def backward(self, grad_out):
        out = self.output()
        return grad_out * out * (1 - out)


class Logit(Op):
    """``log(z / (1 - z))`` with ``z = clamp(x, eps, 1 - eps)`` when ``eps`` is given."""

    def forward(self, x, eps):
        self.save_inputs(0)
        self.eps = eps
        z = x if eps is None else np.clip(x, eps, 1 - eps)
        with np.errstate(all="ignore"):
            return np.log(z / (1 - z))

    def backward(self, grad_out):
        (x,) = self.saved_inputs
        grad = grad_out / (x * (1 - x))
        if self.eps is None:
            return grad
        inside = (x._data >= self.eps) & (x._data <= 1 - self.eps)
        return masked_grad(inside, grad)


class Erf(_Unary):
    fn, keep = staticmethod(_special.erf), "input"

    def backward(self, grad_out):
        x = self.input()
        return grad_out * exp(-x * x) * (2 / math.sqrt(math.pi))


class Erfc(_Unary):
    fn, keep = staticmethod(_special.erfc), "input"

    def backward(self, grad_out):
        x = self.input()
        return grad_out * exp(-x * x) * (-2 / math.sqrt(math.pi))


class Erfinv(_Unary):
    fn, keep = staticmethod(_special.erfinv), "output"

    def backward(self, grad_out):
        out = self.output()
        return grad_out * exp(out * out) * (math.sqrt(math.pi) / 2)


sigmoid = _float_op(Sigmoid, "sigmoid", "The logistic function ``1 / (1 + exp(-input))``.")
erf = _float_op(Erf, "erf", "The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``.")
erfc = _float_op(Erfc, "erfc", "``1 - erf(input)``, accurate where it is small.")
erfinv = _float_op(Erfinv, "erfinv", "The inverse of ``erf``; +-inf at +-1, NaN outside.")


def logit(input, eps=None, *, out=None):
    """The inverse of sigmoid: ``log(z / (1 - z))``, ``z = clamp(input, eps, 1 - eps)``.

    Args:
        input: tensor of probabilities.
        eps: optional clamping margin; without it, inputs outside [0, 1] give NaN.

    Returns:
        A float tensor of ``input``'s shape; the gradient is 0 where ``eps`` clamped.

    Example:
        >>> import ember
        >>> ember.logit(ember.sigmoid(ember.tensor([0.5, -2.0])))
        tensor([ 0.5000, -2.0000])
    """
    return write_out(Logit.apply(_floating(input, "logit"), eps=eps), out)


# ---- other float-valued functions of one tensor -----------------------------------------

class _Scale(_Unary):
    """Multiplication by a constant (degree/radian conversion)."""

    factor = 1.0

    def forward(self, x):
        return x * x.dtype.type(self.factor)

    def backward(self, grad_out):
        return grad_out * self.factor


class Deg2Rad(_Scale):
    factor = math.pi / 180.0


class Rad2Deg(_Scale):
    factor = 180.0 / math.pi


class Sinc(_Unary):
    """``sin(pi x) / (pi x)``, 1 at 0."""

    fn, keep = staticmethod(np.sinc), "input"

    def backward(self, grad_out):
        x = self.input()
        pix = x * math.pi
        slope = (pix * cos(pix) - sin(pix)) / (pix * x)
        return grad_out * where(x == 0, 0.0, slope)


class NanToNum(Op):
    """NaN and infinities replaced by numbers; the gradient is 0 where they were."""

    def forward(self, x, nan, posinf, neginf):
        self.save_inputs(0)
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, grad_out):
        (x,) = self.saved_inputs
        return masked_grad(np.isfinite(x._data), grad_out)


deg2rad = _float_op(Deg2Rad, "deg2rad", "Degrees to radians: ``input * pi / 180``.")
rad2deg = _float_op(Rad2Deg, "rad2deg", "Radians to degrees: ``input * 180 / pi``.")
sinc = _float_op(Sinc, "sinc", "The normalized sinc ``sin(pi x) / (pi x)``, 1 at 0.")


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    """Replace NaN by ``nan``, +inf by ``posinf`` and -inf by ``neginf``.

    Args:
        input: tensor; integer tensors are returned unchanged (as a copy).
        nan, posinf, neginf: replacement values; the infinities default to the largest
            and smallest finite values of the dtype.
    """
    x = _tensor(input, "nan_to_num")
    return write_out(NanToNum.apply(x, nan=nan, posinf=posinf, neginf=neginf), out)


# ---- Tensor methods ---------------------------------------------------------------------

_OUT_OF_PLACE = {
    "exp": exp, "exp2": exp2, "expm1": expm1, "log": log, "log2": log2, "log10": log10,
    "log1p": log1p, "sqrt": sqrt, "rsqrt": rsqrt, "sin": sin, "cos": cos, "tan": tan, "asin": asin, "arcsin": asin,
    "acos": acos, "arccos": acos, "atan": atan, "arctan": atan, "sinh": sinh, "cosh": cosh,
    "tanh": tanh, "asinh": asinh, "arcsinh": asinh, "acosh": acosh, "arccosh": acosh,
    "atanh": atanh, "arctanh": atanh, "sigmoid": sigmoid, "logit": logit, "erf": erf,
    "erfc": erfc, "erfinv": erfinv, "deg2rad": deg2rad, "rad2deg": rad2deg,
    "sinc": sinc, "nan_to_num": nan_to_num,
}
METHODS = dict(_OUT_OF_PLACE)
METHODS.update(inplace_all({f"{name}_": fn for name, fn in _OUT_OF_PLACE.items()}))
