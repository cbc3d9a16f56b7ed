"""Sign, absolute value and rounding: ``abs``, ``sign``, ``floor``, ``ceil``, ``round``,
``trunc``, ``frac``.

Integers stay integers. Rounding and ``sign`` have a zero gradient (PyTorch's
convention), ``frac`` a gradient of 1, ``abs`` the gradient ``sign(x)``.
"""

import numpy as np

from ember.ops._methods import inplace_all, write_out
from ember.ops._unary_base import _Flat, _tensor, _Unary

__all__ = ["abs", "absolute", "ceil", "fix", "floor", "frac", "round", "sgn", "sign", "trunc"]
FUNCTIONAL = []


class Abs(_Unary):
    fn, keep = np.abs, "input"

    def backward(self, grad_out):
        return grad_out * sign(self.input())


def _sign(x):
    if x.dtype == np.bool_:
        return x.copy()
    out = np.asarray(np.sign(x))
    if x.dtype.kind == "f":
        np.copyto(out, 0, where=np.isnan(out))  # PyTorch's sign(nan) is 0
    return out


class Sign(_Flat):
    fn = staticmethod(_sign)


class _Rounding(_Flat):
    """Integers are whole numbers already: they come back unchanged (as a copy)."""

    def forward(self, x):
        return x.copy() if x.dtype.kind in "iu" else super().forward(x)


class Floor(_Rounding):
    fn = np.floor


class Ceil(_Rounding):
    fn = np.ceil


class Trunc(_Rounding):
    fn = np.trunc


def _round_decimals(x, decimals):
    """PyTorch's recipe: ``rint(x * 10**d) / 10**d``, or ``rint(x / 10**-d) * 10**-d``."""
    if decimals > 0:
        scale = x.dtype.type(10.0 ** decimals)
        return np.rint(x * scale) / scale
    scale = x.dtype.type(10.0 ** -decimals)
    return np.rint(x / scale) * scale


class Round(_Rounding):
    """Round half to even, optionally to ``decimals`` places."""

    fn = np.rint

    def forward(self, x, decimals=0):
        if decimals == 0 or x.dtype.kind in "iu":
            return super().forward(x)
        with np.errstate(all="ignore"):
            if x.dtype == np.float16:
                return _round_decimals(x.astype(np.float32), decimals).astype(np.float16)
            return _round_decimals(x, decimals)


class Frac(_Unary):
    """``x - trunc(x)``; the gradient is 1."""

    fn = staticmethod(lambda x: x - np.trunc(x))

    def backward(self, grad_out):
        return grad_out


def _numeric(x, op, ints=True):
    """PyTorch has no kernel for these on bools (nor on ints when ``ints`` is False)."""
    kind = _tensor(x, op)._data.dtype.kind
    if kind == "b" or (kind in "iu" and not ints):
        raise NotImplementedError(f"{op}: not implemented for {x.dtype.name} tensors")
    return x


def abs(input, *, out=None):
    """``|input|`` elementwise; integers stay integers. The gradient is ``sign(input)``."""
    return write_out(Abs.apply(_numeric(input, "abs")), out)


def sign(input, *, out=None):
    """-1, 0 or 1 by the sign of each element (bools stay bools); zero gradient."""
    return write_out(Sign.apply(_tensor(input, "sign")), out)


def _rounding(op_cls, name, doc):
    def fn(input, *, out=None):
        return write_out(op_cls.apply(_numeric(input, name)), out)

    fn.__name__ = name
    fn.__doc__ = doc
    return fn


floor = _rounding(Floor, "floor", "The largest integer <= each element; zero gradient.")
ceil = _rounding(Ceil, "ceil", "The smallest integer >= each element; zero gradient.")
trunc = fix = _rounding(Trunc, "trunc", "Each element rounded toward zero; zero gradient.")
absolute, sgn = abs, sign


def round(input, *, decimals=0, out=None):
    """Round half to even, to ``decimals`` places (negative: to tens, hundreds ...).

    Computed as ``rint(x * 10**d) / 10**d`` (or ``rint(x / 10**-d) * 10**-d``), exactly
    as PyTorch does, so ties after scaling round the same way. Zero gradient.
    """
    x = _numeric(input, "round", ints=decimals == 0)
    return write_out(Round.apply(x, decimals=decimals), out)


def frac(input, *, out=None):
    """``input - trunc(input)``, with the sign of ``input``; the gradient is 1."""
    return write_out(Frac.apply(_numeric(input, "frac", ints=False)), out)


_OUT_OF_PLACE = {
    "abs": abs, "absolute": abs, "sign": sign, "sgn": sign, "floor": floor, "ceil": ceil,
    "round": round, "trunc": trunc, "fix": trunc, "frac": frac,
}
METHODS = dict(_OUT_OF_PLACE, __abs__=abs)
METHODS.update(inplace_all({f"{name}_": fn for name, fn in _OUT_OF_PLACE.items()}))
