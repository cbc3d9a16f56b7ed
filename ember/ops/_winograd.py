"""Stride-1 3x3 convolutions by Winograd's F(2x2, 3x3) (NOTE [winograd] below).

``ember.ops._im2col`` runs a 2-D conv here, its weight's gradient, and (as a conv with the
flipped kernel) its input's gradient, when ``applies`` says so. No Tensor or autograd here.
"""

import numpy as np

from ember._threads import blas_library_threads
from ember.backend.winograd_kernels import winograd_grad_output, winograd_input, winograd_output

__all__ = ["applies", "conv2d", "conv2d_weight"]

# NOTE [winograd]: each 2x2 tile of a 3x3 convolution's output is ``A^T [(G g G^T) * (B^T d
# B)] A`` summed over input channels, with ``d`` the tile's 4x4 window of the padded input
# and ``g`` a channel's 3x3 kernel: the 4x4 transformed tiles multiply elementwise, so the
# sum over channels is 16 products ``(tiles, C) @ (C, C_out)``, one per element, of 16 * C *
# C_out multiply-adds per tile where the direct conv spends 36 * C * C_out (2.25x fewer).
# The weight's gradient is ``G^T [sum over tiles of (A dy A^T) * (B^T d B)] G``, with ``dy``
# a tile of the output's gradient: 16 products ``(C_out, tiles) @ (tiles, C)``.
# The transforms are adds (``ember.backend.winograd_kernels.winograd_input``/``_output``) and
# the kernel's ``G g G^T`` is one small product with ``kron(G, G)``. F(2x2, 3x3) is the
# variant whose rounding stays close to the direct sum (its matrices hold only 0, +-1 and
# 1/2): in float32 its outputs differed from PyTorch's by at most 2-7e-7 of the largest.
#
# Measured (float32, one thread, CPU time, batch 32, against the paths they replace):
# ResNet-8's 64-channel 3x3 conv on 8x8 0.63x forward, 0.66x input gradient, 0.56x weight
# gradient (channels-last columns; then 0.9x, 0.9x, 0.8x PyTorch's time); its 32-channel
# one on 16x16 0.82-0.86x each (shifted products; then 1.0-1.15x PyTorch's). Its 16-channel
# one on 32x32 ran 1.4x slower: with few channels the transforms, over 4x the input's size,
# and thin products cost more than the 2.25x fewer multiply-adds save.

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_GG = np.kron(_G, _G)  # (16, 9): row a * 4 + b, column i * 3 + j is G[a, i] * G[b, j]

# At least this many input and output channels (see above).
MIN_CHANNELS = 32

# The transformed tiles and the products' results are made a few samples at a time, about
# this many bytes at once, so they stay in cache between the transforms and the products
# (within 5-10% from 64 KB to 1 MB on ResNet-8's layers). With OpenBLAS's own threads each
# product is a parallel region whose start is paid per block: then one block (as
# ``ember.ops._im2col._chunk``).
_CHUNK_BYTES = 1 << 19


def _samples_per_block(n, channels, th, tw, itemsize):
    """How many samples are transformed and multiplied at once."""
    if blas_library_threads() > 1:
        return n
    return max(1, min(n, _CHUNK_BYTES // (16 * th * tw * channels * itemsize)))


def applies(x, c_out, ksize, stride, pads, dilation, groups):
    """Whether ``conv2d`` should run a conv of ``x (N, C, H, W)`` with this geometry."""
    if (len(ksize) != 2 or tuple(ksize) != (3, 3) or tuple(stride) != (1, 1)
            or tuple(dilation) != (1, 1) or groups != 1 or x.ndim != 4):
        return False
    if min(x.shape[1], c_out) < MIN_CHANNELS or x.dtype not in (np.float32, np.float64):
        return False
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        return False
    h, w = x.shape[2:]
    (top, bottom), (left, right) = pads
    return h + top + bottom >= 3 and w + left + right >= 3 and winograd_input.ready()


def conv2d(x, w, pads, out=None):
    """Stride-1 ``conv2d`` of ``x (N, C, H, W)`` and ``w (C_out, C, 3, 3)``, into ``out``.

    The caller checks ``applies``.
    """
    n, c, h, wd = x.shape
    c_out = w.shape[0]
    (top, bottom), (left, right) = pads
    oh, ow = h + top + bottom - 2, wd + left + right - 2
    th, tw = -(-oh // 2), -(-ow // 2)
    xp = _place(x, pads, th, tw)
    # (9, C * C_out) taps first, so the product comes out (16, C, C_out) with no transpose
    # after it (64 channels: 39 us against 73 us transposing the product)
    taps = np.ascontiguousarray(w.transpose(2, 3, 1, 0), dtype=x.dtype).reshape(9, c * c_out)
    u = (_GG.astype(x.dtype) @ taps).reshape(16, c, c_out)
    y = np.empty((n, 2 * th, 2 * tw, c_out), x.dtype)
    step = _samples_per_block(n, c + c_out, th, tw, x.itemsize)
    for i in range(0, n, step):
        k = min(step, n - i)
        v = np.empty((16, k * th * tw * c), x.dtype)
        winograd_input(xp[i:i + k], v, th, tw)
        m = np.matmul(v.reshape(16, k * th * tw, c), u)
        winograd_output(m, y[i:i + k], th, tw)
    planar = y[:, :oh, :ow].transpose(0, 3, 1, 2)
    if out is None:
        return np.ascontiguousarray(planar)
    np.copyto(out, planar)
    return out


def conv2d_weight(x, g, pads):
    """The gradient ``(C_out, C, 3, 3)`` of a stride-1 ``conv2d``'s weight, from its input
    ``x (N, C, H, W)`` and output gradient ``g (N, C_out, OH, OW)``.

    The caller checks ``applies``.
    """
    n, c = x.shape[:2]
    c_out, oh, ow = g.shape[1:]
    th, tw = -(-oh // 2), -(-ow // 2)
    xp = _place(x, pads, th, tw)
    gp = _place_grad(g.astype(x.dtype, copy=False), th, tw)
    total = np.zeros((16, c_out, c), x.dtype)
    step = _samples_per_block(n, c + c_out, th, tw, x.itemsize)
    for i in range(0, n, step):
        k = min(step, n - i)
        v = np.empty((16, k * th * tw * c), x.dtype)
        z = np.empty((16, k * th * tw * c_out), x.dtype)
        winograd_input(xp[i:i + k], v, th, tw)
        winograd_grad_output(gp[i:i + k], z, th, tw)
        total += np.matmul(z.reshape(16, k * th * tw, c_out).transpose(0, 2, 1),
                           v.reshape(16, k * th * tw, c))
    # G^T [.] G as (C_out * C, 16) @ (16, 9): already the weight's layout, no transpose
    return (total.reshape(16, c_out * c).T @ _GG.astype(x.dtype)).reshape(c_out, c, 3, 3)


def _place_grad(g, th, tw):
    """``g (N, C, OH, OW)`` on ``2 * th`` rows and ``2 * tw`` columns (zeros past it),
    channels last, even and odd columns apart: ``(N, rows, 2, tw * C)``."""
    n, c, oh = g.shape[:3]
    gp = np.zeros((n, 2 * th, 2, tw, c), g.dtype)
    image = g.transpose(0, 2, 3, 1)
    for phase in range(2):
        columns = image[:, :, phase::2]
        gp[:, :oh, phase, :columns.shape[2]] = columns
    return gp.reshape(n, 2 * th, 2, tw * c)


def _place(x, pads, th, tw):
    """``x`` padded to ``2 * th + 2`` rows and ``2 * tw + 2`` columns, channels last, its
    even and odd columns apart: ``(N, rows, 2, (tw + 1) * C)`` (``winograd_input``'s
    layout). Pads beyond the requested ones only feed outputs that are dropped."""
    n, c, h = x.shape[:3]
    (top, _), (left, _) = pads
    xp = np.zeros((n, 2 * th + 2, 2, tw + 1, c), x.dtype)
    image = x.transpose(0, 2, 3, 1)
    for phase in range(2):
        first = (left - phase + 1) // 2  # the first padded column 2 * j + phase >= left
        columns = image[:, :, 2 * first + phase - left::2]
        xp[:, top:top + h, phase, first:first + columns.shape[2]] = columns
    return xp.reshape(n, 2 * th + 2, 2, (tw + 1) * c)
