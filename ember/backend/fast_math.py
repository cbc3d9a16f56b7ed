"""Scalar float32 math that compiled kernels inline into their loops.

Calling libm's ``expf`` one element at a time keeps a loop from vectorizing (measured on
the LSTM gates: 337 us a step against 35 us with this polynomial). Kernels that need
``exp`` in float32 (GELU's gradient, the attention softmax, the LSTM gates) call
``exp32_reduced`` and handle their own edges (clamping, NaN, underflow to 0).
"""

import numpy as np

from ember.backend.kernel_helpers import helper

__all__ = ["exp32_reduced"]

_f32 = np.float32


@helper(inline="always", error_model="numpy")
def exp32_reduced(t):
    """``exp(t)`` for float32 ``t`` already clamped to [-87, 88] (the finite normal range).

    ``exp(t) = 2^k exp(r)`` with |r| <= ln(2)/2: ``exp(r)`` by its Taylor series to degree
    7 (relative error 3e-7, about 2 ulp), ``2^k`` built from its exponent bits; ln(2) is
    split in two parts so that ``r`` keeps its precision.
    """
    k = np.floor(t * _f32(1.4426950408889634) + _f32(0.5))
    r = t - k * _f32(0.693359375)
    r = r - k * _f32(-2.12194440e-4)
    e = _f32(1.0 / 5040.0)
    e = e * r + _f32(1.0 / 720.0)
    e = e * r + _f32(1.0 / 120.0)
    e = e * r + _f32(1.0 / 24.0)
    e = e * r + _f32(1.0 / 6.0)
    e = e * r + _f32(0.5)
    e = e * r + _f32(1.0)
    e = e * r + _f32(1.0)
    return e * np.int32((np.int32(k) + 127) << 23).view(np.float32)
