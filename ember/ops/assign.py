"""Assigning values into a tensor: ``zero_``, ``fill_``, ``copy_`` and the random fills.

These are in-place ops (see NOTE [in-place and autograd] in ``_inplace.py``): ``copy_``
passes the gradient to its source, ``fill_`` with a tensor value to that value; the
random fills (``uniform_``, ``normal_``, ...) draw from ember's generators and, like
PyTorch's, are meant for initialization under ``no_grad``.
"""

import numpy as np

from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.ops._inplace import apply_inplace
from ember.random import numpy_generator
from ember.tensor import Tensor

__all__ = []
FUNCTIONAL = []

_make = Tensor._make


class CopyFrom(Op):
    """The values of ``src`` broadcast to ``x``'s shape in ``x``'s dtype (``x.copy_(src)``)."""

    def forward(self, x, src):
        return np.array(np.broadcast_to(src, x.shape), dtype=x.dtype)

    def backward(self, grad_out):
        return None, grad_out


class FillWith(Op):
    """Every element set to a 0-dim ``value`` (``x.fill_(value_tensor)``)."""

    def forward(self, x, value):
        return np.full(x.shape, value, dtype=x.dtype)

    def backward(self, grad_out):
        return None, grad_out.sum()


def copy_(self, src, non_blocking=False):
    """Copy ``src`` (broadcast, cast to this dtype) into this tensor; returns self."""
    if not isinstance(src, Tensor):
        src = _make(np.asarray(src))
    return apply_inplace("copy_", CopyFrom.apply, self, src)


def fill_(self, value):
    """Set every element to ``value`` (a number or a 0-dim tensor); returns self."""
    if isinstance(value, Tensor):
        return apply_inplace("fill_", FillWith.apply, self, value)
    return _fill_values(self, "fill_", lambda shape, dtype: np.full(shape, value, dtype))


def zero_(self):
    """Set every element to zero; returns self."""
    return _fill_values(self, "zero_", np.zeros)


def _fill_values(self, name, make):
    return apply_inplace(name, lambda x: _make(make(x._data.shape, x._data.dtype)), self)


def _random_fill(name, draw, draw_into=None):
    def method(self, *args, generator=None, **kwargs):
        rng = numpy_generator(generator)
        data = self._data
        if draw_into is not None and _drawable_in_place(self):
            draw_into(rng, data, *args, **kwargs)  # initialization: no copy of 100M values
            self._vbox[0] += 1
            return self
        return _fill_values(self, name, lambda shape, dtype: np.asarray(
            draw(rng, shape, dtype, *args, **kwargs), dtype=dtype))

    method.__name__ = name
    return method


def _drawable_in_place(t):
    recording = GradMode.enabled and t._requires_grad
    data = t._data
    return (not recording and data.dtype in (np.float32, np.float64)
            and data.flags.c_contiguous and data.flags.writeable)


def _uniform_into(rng, out, a=0.0, b=1.0):
    rng.random(out=out.reshape(-1), dtype=out.dtype)
    out *= b - a
    out += a


def _normal_into(rng, out, mean=0.0, std=1.0):
    rng.standard_normal(out=out.reshape(-1), dtype=out.dtype)
    out *= std
    out += mean


def _draw_dtype(dtype):
    # NumPy draws float32 directly (3-6x faster than drawing float64 and casting).
    return np.float32 if dtype == np.float32 else np.float64


def _uniform(rng, shape, dtype, a=0.0, b=1.0):
    values = rng.random(shape, dtype=_draw_dtype(dtype))
    values *= b - a
    values += a
    return values


def _normal(rng, shape, dtype, mean=0.0, std=1.0):
    values = rng.standard_normal(shape, dtype=_draw_dtype(dtype))
    values *= std
    values += mean
    return values


def _random_ints(rng, shape, dtype, low=0, high=None):
    if high is None:
        low, high = 0, low if low else 2 ** 24
    return rng.integers(low, high, shape)


METHODS = {
    "copy_": copy_, "fill_": fill_, "zero_": zero_,
    "uniform_": _random_fill("uniform_", _uniform, _uniform_into),
    "normal_": _random_fill("normal_", _normal, _normal_into),
    "bernoulli_": _random_fill("bernoulli_",
                               lambda rng, shape, dtype, p=0.5: rng.random(shape) < p),
    "random_": _random_fill("random_", _random_ints),
    "exponential_": _random_fill(
        "exponential_", lambda rng, shape, dtype, lambd=1.0: rng.exponential(1.0 / lambd, shape)),
    "log_normal_": _random_fill(
        "log_normal_", lambda rng, shape, dtype, mean=1.0, std=2.0: rng.lognormal(mean, std,
                                                                                   shape)),
    "cauchy_": _random_fill(
        "cauchy_", lambda rng, shape, dtype, median=0.0, sigma=1.0:
        median + sigma * rng.standard_cauchy(shape)),
    "geometric_": _random_fill("geometric_",
                               lambda rng, shape, dtype, p: rng.geometric(p, shape)),
}
