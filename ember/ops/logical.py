"""Logical and bitwise ops (``& | ^ ~``), the ``isnan`` family, ``isclose`` and ``equal``.

None of these carry gradients. Bitwise ops promote their operands as PyTorch does and
work on bools and integers only; the ``isnan`` family also accepts integer tensors (which
are never NaN or infinite).
"""

import numpy as np

from ember._errors import runtime_error, type_error
from ember.autograd.node import Op
from ember.ops._methods import inplace_all, reflected, write_out
from ember.ops._promote import as_tensor
from ember.ops.compare import _operator, _same_dtype
from ember.tensor import Tensor

__all__ = [
    "allclose", "bitwise_and", "bitwise_not", "bitwise_or", "bitwise_xor", "equal", "isclose",
    "isfinite", "isinf", "isnan", "isneginf", "isposinf", "logical_and", "logical_not",
    "logical_or", "logical_xor", "signbit",
]


# ---- logical and bitwise ------------------------------------------------------------------

class _Elementwise(Op):
    """A NumPy ufunc over same-dtype arrays whose result carries no gradient."""

    differentiable = False
    ufunc = None

    def forward(self, *arrays):
        return self.ufunc(*arrays)


class LogicalAnd(_Elementwise):
    ufunc = np.logical_and


class LogicalOr(_Elementwise):
    ufunc = np.logical_or


class LogicalXor(_Elementwise):
    ufunc = np.logical_xor


class LogicalNot(_Elementwise):
    ufunc = np.logical_not


class BitwiseAnd(_Elementwise):
    ufunc = np.bitwise_and


class BitwiseOr(_Elementwise):
    ufunc = np.bitwise_or


class BitwiseXor(_Elementwise):
    ufunc = np.bitwise_xor


class BitwiseNot(_Elementwise):
    ufunc = np.invert


def logical_and(input, other, *, out=None):
    """Elementwise ``bool(input) and bool(other)``; a bool tensor."""
    return write_out(LogicalAnd.apply(as_tensor(input), as_tensor(other)), out)


def logical_or(input, other, *, out=None):
    """Elementwise ``bool(input) or bool(other)``; a bool tensor."""
    return write_out(LogicalOr.apply(as_tensor(input), as_tensor(other)), out)


def logical_xor(input, other, *, out=None):
    """Elementwise ``bool(input) != bool(other)``; a bool tensor."""
    return write_out(LogicalXor.apply(as_tensor(input), as_tensor(other)), out)


def logical_not(input, *, out=None):
    """Elementwise ``not bool(input)``; a bool tensor."""
    return write_out(LogicalNot.apply(as_tensor(input)), out)


def _integral(op, *xs):
    a = _same_dtype(*xs) if len(xs) == 2 else (as_tensor(xs[0]),)
    if a[0]._data.dtype.kind not in "biu":
        raise NotImplementedError(f"{op}: only defined for bool and integer tensors, "
                                  f"not {a[0].dtype.name}")
    return a


def bitwise_and(input, other, *, out=None):
    """Elementwise ``input & other`` on bool or integer tensors."""
    return write_out(BitwiseAnd.apply(*_integral("bitwise_and", input, other)), out)


def bitwise_or(input, other, *, out=None):
    """Elementwise ``input | other`` on bool or integer tensors."""
    return write_out(BitwiseOr.apply(*_integral("bitwise_or", input, other)), out)


def bitwise_xor(input, other, *, out=None):
    """Elementwise ``input ^ other`` on bool or integer tensors."""
    return write_out(BitwiseXor.apply(*_integral("bitwise_xor", input, other)), out)


def bitwise_not(input, *, out=None):
    """Elementwise ``~input``: logical not for bools, two's-complement not for integers."""
    return write_out(BitwiseNot.apply(*_integral("bitwise_not", input)), out)


# ---- predicates -------------------------------------------------------------------------

class _Predicate(Op):
    """A bool test of each element; integers are never NaN or infinite."""

    differentiable = False
    ufunc = None
    for_integers = False

    def forward(self, x):
        if x.dtype.kind != "f":
            return np.full(x.shape, self.for_integers)
        return self.ufunc(x)


class IsNan(_Predicate):
    ufunc = np.isnan


class IsInf(_Predicate):
    ufunc = np.isinf


class IsFinite(_Predicate):
    ufunc = np.isfinite
    for_integers = True


class IsPosInf(_Predicate):
    ufunc = staticmethod(np.isposinf)


class IsNegInf(_Predicate):
    ufunc = staticmethod(np.isneginf)


class SignBit(Op):
    differentiable = False

    def forward(self, x):
        return np.signbit(x) if x.dtype.kind != "b" else np.zeros(x.shape, np.bool_)


def isnan(input):
    """Elementwise ``input != input``."""
    return IsNan.apply(input)


def isinf(input):
    """True where an element is +inf or -inf."""
    return IsInf.apply(input)


def isfinite(input):
    """True where an element is neither infinite nor NaN."""
    return IsFinite.apply(input)


def isposinf(input, *, out=None):
    """True where an element is +inf."""
    return write_out(IsPosInf.apply(input), out)


def isneginf(input, *, out=None):
    """True where an element is -inf."""
    return write_out(IsNegInf.apply(input), out)


def signbit(input, *, out=None):
    """True where the sign bit is set (negative numbers, and -0.0)."""
    return write_out(SignBit.apply(input), out)


class IsClose(Op):
    differentiable = False

    def forward(self, a, b, rtol, atol, equal_nan):
        if a.dtype.kind != "f":
            a, b = a.astype(np.float64), b.astype(np.float64)
        return np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (NaNs equal if ``equal_nan``)."""
    if not isinstance(other, Tensor):
        raise type_error("isclose", f"other must be a Tensor, not {type(other).__name__}")
    if input._data.dtype != other._data.dtype:
        raise runtime_error("isclose", f"expected both inputs to have same dtype, got "
                                       f"{input.dtype.name} and {other.dtype.name}")
    return IsClose.apply(input, other, rtol=rtol, atol=atol, equal_nan=equal_nan)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``isclose(...).all()`` as a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input, other):
    """True if both tensors have the same shape and the same elements."""
    if input._data.shape != other._data.shape:
        return False
    a, b = _same_dtype(input, other)
    return bool(np.array_equal(a._data, b._data))


# ---- Tensor methods ---------------------------------------------------------------------

METHODS = {
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor,
    "logical_not": logical_not, "bitwise_and": bitwise_and, "bitwise_or": bitwise_or,
    "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not, "__invert__": bitwise_not,
    "isnan": isnan, "isinf": isinf, "isfinite": isfinite, "isposinf": isposinf,
    "isneginf": isneginf, "signbit": signbit, "isclose": isclose, "allclose": allclose,
    "equal": equal,
}
for _name, _fn in {"and": bitwise_and, "or": bitwise_or, "xor": bitwise_xor}.items():
    METHODS[f"__{_name}__"] = _operator(_fn)
    METHODS[f"__r{_name}__"] = reflected(_fn)
METHODS.update(inplace_all({
    "logical_and_": logical_and, "logical_or_": logical_or, "logical_xor_": logical_xor,
    "logical_not_": logical_not, "bitwise_and_": bitwise_and, "bitwise_or_": bitwise_or,
    "bitwise_xor_": bitwise_xor, "bitwise_not_": bitwise_not,
}))
METHODS.update({"__iand__": METHODS["bitwise_and_"], "__ior__": METHODS["bitwise_or_"],
                "__ixor__": METHODS["bitwise_xor_"]})

FUNCTIONAL = []
