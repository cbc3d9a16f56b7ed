"""Smooth elementwise activations (ELU, GELU, SiLU, Softplus, Mish, ...) as ops.

Each subclasses ``_Smooth``: ``f`` and ``df`` on arrays, ``d2f`` on Tensors. The first
backward is one fused NumPy pass (``_SmoothGrad``), the path every training step takes;
the backward of that backward is built from Tensor ops out of ``d2f``, so gradients of
any order work. The public functions live in ``ember.ops.activation``.
"""

import math

import numpy as np

from ember.autograd.node import Op
from ember.backend import gelu_kernels
from ember.ops._special import erf as erf_array
from ember.tensor import Tensor

_make = Tensor._make


def mask(condition, like):
    """A bool array as a constant 0/1 tensor of ``like``'s dtype."""
    return _make(condition.astype(like._data.dtype))


class _Smooth(Op):
    """``y = f(x)`` for a smooth elementwise ``f``.

    Subclasses define static methods ``f(x, **params)`` and ``df(x, **params)`` on arrays
    (``df`` returns a new array) and ``d2f(x, **params)`` on Tensors, and may override
    ``scaled_df`` to fuse the product with the upstream gradient.
    """

    @classmethod
    def scaled_df(cls, grad, x, **params):
        """``grad * f'(x)`` as a new array."""
        out = cls.df(x.reshape(1), **params).reshape(()) if x.ndim == 0 else cls.df(x, **params)
        out *= grad
        return out

    def forward(self, x, **params):
        self.params = params
        self.save_inputs(0)
        if x.ndim == 0:  # NumPy gives scalars, not arrays, for 0-dim operands
            return self.f(x.reshape(1), **params).reshape(())
        return self.f(x, **params)

    def backward(self, grad_out):
        (x,) = self.saved_inputs
        return _SmoothGrad.apply(grad_out, x, rule=type(self), params=self.params)


class _SmoothGrad(Op):
    """``grad * f'(x)``, fused; its gradient is ``f'(x)`` for grad, ``grad * f''(x)`` for x."""

    def forward(self, grad, x, rule, params):
        self.rule, self.params = rule, params
        self.save_inputs(0, 1)
        return rule.scaled_df(grad, x, **params)

    def backward(self, grad_out):
        grad, x = self.saved_inputs
        need_grad, need_x = self.needs_input_grad
        grad_grad = grad_x = None
        if need_grad:
            grad_grad = _SmoothGrad.apply(grad_out, x, rule=self.rule, params=self.params)
        if need_x:
            grad_x = grad_out * grad * self.rule.d2f(x, **self.params)
        return grad_grad, grad_x

    def name(self):
        return f"{self.rule.__name__}BackwardBackward0"


def _sigmoid(x):
    """``1 / (1 + exp(-x))`` on an array, without overflow warnings for large ``-x``."""
    out = np.negative(x)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


class Elu(_Smooth):
    """``scale * x`` for x > 0, else ``scale * alpha * (exp(input_scale * x) - 1)``."""

    @staticmethod
    def f(x, alpha, scale, input_scale):
        out = np.minimum(x, 0)
        out *= input_scale
        np.expm1(out, out=out)
        out *= alpha * scale
        pos = np.maximum(x, 0)
        if scale != 1:
            pos *= scale
        out += pos
        return out

    @staticmethod
    def df(x, alpha, scale, input_scale):
        out = np.minimum(x, 0)
        out *= input_scale
        np.exp(out, out=out)
        neg_slope = alpha * scale * input_scale
        out *= neg_slope
        # exp(0) made the x > 0 entries neg_slope; move them to scale without a where().
        out += (x > 0) * x.dtype.type(scale - neg_slope)
        return out

    @staticmethod
    def d2f(x, alpha, scale, input_scale):
        negative = mask(x._data <= 0, x)
        return negative * (x.clamp(max=0) * input_scale).exp() * (alpha * scale * input_scale ** 2)


_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_TANH_K = math.sqrt(2 / math.pi)
_TANH_KAPPA = 0.044715


class Gelu(_Smooth):
    """``x * Phi(x)`` (``approximate='none'``) or its tanh approximation.

    The exact form runs compiled one-pass loops when Numba is there
    (``ember.backend.gelu_kernels``: 30x faster than the NumPy passes below in float32).
    """

    @classmethod
    def scaled_df(cls, grad, x, approximate):
        if approximate == "none" and gelu_kernels.supports(x):
            return gelu_kernels.gelu_grad(x, grad)
        return super().scaled_df(grad, x, approximate=approximate)

    @staticmethod
    def f(x, approximate):
        if approximate == "none" and gelu_kernels.supports(x):
            return gelu_kernels.gelu(x)
        if approximate == "tanh":
            out = _tanh_inner(x)
            np.tanh(out, out=out)
        else:
            out = erf_array(x * _SQRT1_2)
        out += 1
        out *= x
        out *= 0.5
        return out

    @staticmethod
    def df(x, approximate):
        if approximate == "tanh":
            t = np.tanh(_tanh_inner(x))
            # 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 kappa x^2)
            out = x * x
            out *= 3 * _TANH_KAPPA
            out += 1
            out *= 0.5 * _TANH_K
            out *= x
            out *= 1 - t * t
            out += 0.5 * (1 + t)
            return out
        pdf = x * x
        pdf *= -0.5
        np.exp(pdf, out=pdf)
        pdf *= _INV_SQRT_2PI
        out = erf_array(x * _SQRT1_2)
        out += 1
        out *= 0.5
        out += x * pdf
        return out

    @staticmethod
    def d2f(x, approximate):
        if approximate == "tanh":
            x2 = x * x
            t = ((x + x2 * x * _TANH_KAPPA) * _TANH_K).tanh()
            sech2 = 1 - t * t
            inner1 = (1 + 3 * _TANH_KAPPA * x2) * _TANH_K
            inner2 = x * (6 * _TANH_KAPPA * _TANH_K)
            return sech2 * inner1 + 0.5 * x * sech2 * (inner2 - 2 * t * inner1 * inner1)
        x2 = x * x
        return (x2 * -0.5).exp() * (_INV_SQRT_2PI * (2 - x2))


def _tanh_inner(x):
    """``k * (x + kappa * x^3)``, the argument of tanh in GELU's approximation."""
    out = x * x
    out *= _TANH_KAPPA
    out *= x
    out += x
    out *= _TANH_K
    return out


class Silu(_Smooth):
    """``x * sigmoid(x)``."""

    @staticmethod
    def f(x):
        out = _sigmoid(x)
        out *= x
        return out

    @staticmethod
    def df(x):
        s = _sigmoid(x)
        out = 1 - s
        out *= x
        out += 1
        out *= s
        return out

    @staticmethod
    def d2f(x):
        s = x.sigmoid()
        return s * (1 - s) * (2 + x * (1 - 2 * s))


class Softplus(_Smooth):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``."""

    @staticmethod
    def f(x, beta, threshold):
        bx = x * beta
        out = np.minimum(bx, threshold)
        np.exp(out, out=out)
        np.log1p(out, out=out)
        if beta != 1:
            out /= beta
        np.copyto(out, x, where=bx > threshold)
        return out

    @staticmethod
    def df(x, beta, threshold):
        bx = x * beta
        out = _sigmoid(np.minimum(bx, threshold))
        return np.maximum(out, bx > threshold, out=out)  # 1 in the linear region

    @staticmethod
    def d2f(x, beta, threshold):
        s = (x * beta).sigmoid()
        return s * (1 - s) * beta * mask(~(x._data * beta > threshold), x)


class Mish(_Smooth):
    """``x * tanh(softplus(x))``."""

    @staticmethod
    def f(x):
        out = _tanh_softplus(x)
        out *= x
        return out

    @staticmethod
    def df(x):
        t = _tanh_softplus(x)
        out = t * t
        np.subtract(1, out, out=out)
        out *= _sigmoid(x)
        out *= x
        out += t
        return out

    @staticmethod
    def d2f(x):
        t = Softplus.apply(x, beta=1.0, threshold=20.0).tanh()
        s = x.sigmoid()
        return (1 - t * t) * s * (2 + x * (1 - s) - 2 * x * s * t)


def _tanh_softplus(x):
    """``tanh(log(1 + e^x))``, which is ``n / (n + 2)`` with ``n = e^x (e^x + 2)``: one exp.

    Beyond x = 20 the value is 1 to float64 precision, so x is capped there to keep
    ``n`` finite.
    """
    e = np.minimum(x, 20.0, out=np.empty_like(x))
    np.exp(e, out=e)
    n = e + 2
    n *= e
    np.add(n, 2, out=e)
    return np.divide(n, e, out=n)


class Hardswish(_Smooth):
    """``x * relu6(x + 3) / 6``."""

    @staticmethod
    def f(x):
        out = x + 3
        np.clip(out, 0, 6, out=out)
        out *= x
        out /= 6
        return out

    @staticmethod
    def df(x):
        out = x / 3
        out += 0.5
        out *= (x > -3) & (x < 3)
        out += x >= 3
        return out

    @staticmethod
    def d2f(x):
        return mask((x._data > -3) & (x._data < 3), x) / 3


class Logsigmoid(_Smooth):
    """``log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|))``."""

    @staticmethod
    def f(x):
        out = np.abs(x)
        np.negative(out, out=out)
        np.exp(out, out=out)
        np.log1p(out, out=out)
        return np.subtract(np.minimum(x, 0), out, out=out)

    @staticmethod
    def df(x):
        return _sigmoid(-x)

    @staticmethod
    def d2f(x):
        s = x.sigmoid()
        return s * (s - 1)


class Tanhshrink(_Smooth):
    """``x - tanh(x)``."""

    @staticmethod
    def f(x):
        return x - np.tanh(x)

    @staticmethod
    def df(x):
        out = np.tanh(x)
        out *= out
        return out

    @staticmethod
    def d2f(x):
        t = x.tanh()
        return 2 * t * (1 - t * t)


class Softsign(_Smooth):
    """``x / (1 + |x|)``."""

    @staticmethod
    def f(x):
        out = np.abs(x)
        out += 1
        return np.divide(x, out, out=out)

    @staticmethod
    def df(x):
        out = np.abs(x)
        out += 1
        out *= out
        return np.reciprocal(out, out=out)

    @staticmethod
    def d2f(x):
        sign = _make(np.sign(x._data))
        return -2 * sign / (1 + x * sign) ** 3
