"""Compiled ReLU: the forward, the 0/1 slope its backward multiplies by, and that product.

NumPy's ``np.maximum(x, 0)`` takes its NaN-propagating path element by element: on a
float32 ``(128, 512)`` batch it ran at 25 us against 5 us for this loop (and 6.5 us for
PyTorch's relu); ``relu(nan)`` stays nan. The backward multiplies the gradient by the
slope ``x > 0``: as a bool array that product is a mixed-dtype multiply (14 us); as 0/1
in the gradient's dtype, written by ``relu_slope``, a plain one (6 us); ``relu_grad``
does both in one pass (used when the gradient need not be differentiable again).

Arguments are 1-D contiguous arrays of one float dtype (float32 or float64; see
``flat_float``); the caller keeps NumPy's path for everything else. ``in_pieces`` runs a
kernel over ranges of such arrays on ember's threads when they are large.

``relu_inplace`` is the forward of ``relu_``: with one array argument its loop
vectorizes, while ``relu_forward(x, x)`` does not (Numba cannot assume two arguments
apart): on a float32 ``(32, 16, 32, 32)`` array, one thread, 32 us against 176.
"""

from ember.backend.compiled import kernel
from ember.backend.threads import pieces, split

__all__ = ["flat_float", "in_pieces", "relu_forward", "relu_grad", "relu_inplace", "relu_slope"]

# Arrays of at least this many elements run in pieces on ember's threads (the kernels
# release the GIL). The loops run near memory speed, so a split pays only on large arrays
# (2 idle cores, float32, one thread / split): 2**19 elements relu 50 / 63 us, relu_grad
# 113 / 113; 2**21 elements 259 / 195 and 586 / 364 (a split costs ~20-30 us).
_SPLIT_SIZE = 1 << 21


@kernel(error_model="numpy")
def relu_forward(x, out):
    """``out = max(x, 0)``, nan kept."""
    for i in range(x.size):
        v = x[i]
        out[i] = 0 if v <= 0 else v


@kernel(error_model="numpy")
def relu_inplace(x):
    """``x = max(x, 0)``, nan kept."""
    for i in range(x.size):
        v = x[i]
        x[i] = 0 if v <= 0 else v


@kernel(error_model="numpy")
def relu_slope(x, out):
    """``out = 1`` where ``x > 0``, else 0 (nan included)."""
    for i in range(x.size):
        out[i] = 1 if x[i] > 0 else 0


@kernel(error_model="numpy")
def relu_grad(x, grad, out):
    """``out = grad * (1 if x > 0 else 0)``: the product with ``relu_slope``'s slope, so a
    NaN or inf in ``grad`` where ``x <= 0`` gives NaN as that product does."""
    for i in range(x.size):
        out[i] = grad[i] * (1 if x[i] > 0 else 0)


def flat_float(x):
    """``x`` as a 1-D view when a kernel can read it (contiguous float32/float64), else None."""
    if x.dtype.char in "fd" and x.flags.c_contiguous:
        return x.reshape(-1)
    return None


def in_pieces(loop, *arrays):
    """``loop(*arrays)`` for 1-D arrays of one length, in pieces over ranges if large."""
    n = arrays[0].size
    count = pieces(n, n, _SPLIT_SIZE)
    if count == 1:
        loop(*arrays)
        return
    split(lambda lo, hi: loop(*(a[lo:hi] for a in arrays)), n, count)
