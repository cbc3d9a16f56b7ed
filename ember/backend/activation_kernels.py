"""Compiled ReLU: the forward, and the 0/1 slope its backward multiplies by.

NumPy's ``np.maximum(x, 0)`` takes its NaN-propagating path element by element: on a
float32 ``(128, 512)`` batch it ran at 25 us against 5 us for this loop (and 6.5 us for
PyTorch's relu); ``relu(nan)`` stays nan. The backward multiplies the gradient by the
slope ``x > 0``: as a bool array that product is a mixed-dtype multiply (14 us); as 0/1
in the gradient's dtype, written by ``relu_slope``, a plain one (6 us).

Arguments are 1-D contiguous arrays of one float dtype (float32 or float64; see
``flat_float``); the caller keeps NumPy's path for everything else.
"""

from ember.backend.compiled import kernel

__all__ = ["relu_forward", "relu_slope", "flat_float"]


@kernel(error_model="numpy")
def relu_forward(x, out):
    """``out = max(x, 0)``, nan kept."""
    for i in range(x.size):
        v = x[i]
        out[i] = 0 if v <= 0 else v


@kernel(error_model="numpy")
def relu_slope(x, out):
    """``out = 1`` where ``x > 0``, else 0 (nan included)."""
    for i in range(x.size):
        out[i] = 1 if x[i] > 0 else 0


def flat_float(x):
    """``x`` as a 1-D view when a kernel can read it (contiguous float32/float64), else None."""
    if x.dtype.char in "fd" and x.flags.c_contiguous:
        return x.reshape(-1)
    return None
