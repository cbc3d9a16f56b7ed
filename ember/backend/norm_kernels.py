"""Compiled batch norm and layer norm: statistics, normalization and gradients in few passes.

NumPy's path makes a temporary per step of the formula (``x - mean``, its square, the
product with ``invstd``, with the weight, ...), about seven passes over the activations
forward and ten backward. These loops read ``x`` twice and write ``y`` once forward, and
read ``x`` and ``grad_out`` twice and write ``grad_x`` once backward (batch norm's in
memory order: NOTE [batch norm in memory order]). Sums accumulate in float64 (as accurate
as NumPy's pairwise float32 sums, or more), and only reassociation is allowed of
fast-math, so that the sums vectorize while NaN and infinity keep their meaning.

Batch norm sees its input as ``(N, C, S)`` (S the spatial positions) and runs each
sample's channels in parallel tasks; layer norm sees ``(R, F)``, one row per task (its
weight and bias gradients sum over rows on one thread). Below ``parallel.SERIAL_BELOW``
elements (every benchmark's size) the kernels compile serially, so batch norm instead
runs ranges of channels in pieces on ember's threads (``ember.backend.threads``): each
channel's sums are those of the one-thread loop, so the results do not depend on the
split.
"""

import math

import numpy as np

from ember.backend.compiled import kernel
from ember.backend.parallel import parallel_kernel
from ember.backend.threads import pieces, split

__all__ = [
    "batch_norm_backward",
    "batch_norm_forward",
    "layer_norm_backward",
    "layer_norm_forward",
    "layer_norm_param_grads",
    "normalize",
    "normalize_grads",
]

prange = range  # numba.prange once compiled (see ember.backend.parallel)

_FAST = {"reassoc"}

# Batch norms of at least this many elements run in pieces over their channels. Measured
# (2 idle cores, float32, one thread / split): (32, 16, 1024) forward 146 / 120 us, backward
# 166 / 140; (32, 32, 256) 85 / 87 and 95 / 99: a split costs ~20-30 us of hand-over.
_SPLIT_SIZE = 1 << 19

# NOTE [batch norm in memory order]: each pass runs over ``x`` in memory order, sample by
# sample and channel by channel within it, adding each row's sum into its channel's total;
# looping channel by channel instead jumps between the samples' rows (32 short streams per
# channel, each starting where the hardware prefetcher has no history) and ran 1.5-1.8x
# slower when ``x`` is not in cache, as in a training step (float32, one thread, caches
# flushed: (32, 16, 1024) forward 432 -> 277 us, backward 533 -> 351; (32, 64, 64) 139 -> 82
# and 203 -> 122). The forward takes the sums of ``x - shift`` and of its square in one
# pass, ``shift`` being the channel's first element, and ``var = mean(d**2) - mean(d)**2``:
# as the shift is a sample, ``(shift - mean)**2 <= count * var``, so the cancellation
# costs at most ``count`` float64 roundings relative to ``var`` (a two-pass loop's own
# error bound grows with ``count`` as well). A shift that is not finite is 0 instead, so
# that an infinite first element gives PyTorch's infinite mean rather than nan.

# The loops that write ``y`` or ``grad_x`` run in ``x``'s dtype, as PyTorch's do: their
# per-channel coefficients (float64 sums) are first stored in a ``coef`` array of that
# dtype, which types them. In float64 a float32 loop ran 83 us instead of 55 on
# (32, 16, 1024); the statistics still accumulate in float64.


@parallel_kernel(fastmath=_FAST)
def batch_norm_forward(x, weight, bias, eps, y, mean, var, invstd, coef, lo, hi):
    """``y = (x - mean) * invstd * weight + bias`` per channel, with the batch's statistics.

    ``x, y``: ``(N, C, S)``; ``weight, bias``: ``(C,)``; fills ``mean, var, invstd (C,)``
    (``var`` biased). Only channels ``lo`` to ``hi - 1`` are computed. ``coef`` is
    ``(C, 2)`` scratch of ``x``'s dtype (see ``_COEF``). Two passes in memory order (see
    NOTE [batch norm in memory order]): the sums, then ``y``.
    """
    n, _, s = x.shape
    count = n * s
    for ch in range(lo, hi):
        shift = x[0, ch, 0]
        invstd[ch] = shift if math.isfinite(shift) else 0.0  # the shift, until the end
        mean[ch] = 0.0
        var[ch] = 0.0
    for i in range(n):
        for ch in prange(lo, hi):
            shift = invstd[ch]
            total = 0.0
            sq = 0.0
            for j in range(s):
                d = x[i, ch, j] - shift
                total += d
                sq += d * d
            mean[ch] += total
            var[ch] += sq
    for ch in range(lo, hi):
        m = mean[ch] / count  # the mean of x - shift
        v = var[ch] / count - m * m
        if v < 0:  # rounding; nan stays
            v = 0.0
        mu = invstd[ch] + m
        inv = 1.0 / math.sqrt(v + eps)
        mean[ch], var[ch], invstd[ch] = mu, v, inv
        coef[ch, 0] = inv * weight[ch]
        coef[ch, 1] = bias[ch] - mu * inv * weight[ch]
    for i in range(n):
        for ch in prange(lo, hi):
            scale, shift = coef[ch, 0], coef[ch, 1]
            for j in range(s):
                y[i, ch, j] = x[i, ch, j] * scale + shift


@parallel_kernel(fastmath=_FAST)
def batch_norm_backward(grad_out, x, weight, mean, invstd, need_x, grad_x, grad_w, grad_b,
                        coef, lo, hi):
    """Gradients of ``batch_norm_forward`` (batch statistics) in ``x``, weight and bias.

    ``grad_x = invstd * weight * (g - mean(g) - xhat * mean(g * xhat))``, ``grad_w =
    sum(g * xhat)``, ``grad_b = sum(g)`` per channel; ``grad_x`` is written if ``need_x``.
    Only channels ``lo`` to ``hi - 1`` are computed. ``coef`` is ``(C, 4)`` scratch of
    ``x``'s dtype (see ``_COEF``). Two passes in memory order: the sums, then ``grad_x``.
    """
    n, _, s = x.shape
    count = n * s
    for ch in range(lo, hi):
        grad_w[ch] = 0.0  # sum(g * (x - mean)) until the sums are done
        grad_b[ch] = 0.0
    for i in range(n):
        for ch in prange(lo, hi):
            mu = mean[ch]
            sg = 0.0
            sgx = 0.0
            for j in range(s):
                g = grad_out[i, ch, j]
                sg += g
                sgx += g * (x[i, ch, j] - mu)
            grad_b[ch] += sg
            grad_w[ch] += sgx
    for ch in range(lo, hi):
        inv = invstd[ch]
        sgxhat = grad_w[ch] * inv
        grad_w[ch] = sgxhat
        coef[ch, 0] = weight[ch] * inv
        coef[ch, 1] = grad_b[ch] / count
        coef[ch, 2] = sgxhat / count * inv
        coef[ch, 3] = mean[ch]
    if need_x:
        for i in range(n):
            for ch in prange(lo, hi):
                k, mg, slope, m = coef[ch, 0], coef[ch, 1], coef[ch, 2], coef[ch, 3]
                for j in range(s):
                    d = x[i, ch, j] - m
                    grad_x[i, ch, j] = k * (grad_out[i, ch, j] - mg - d * slope)


@parallel_kernel(fastmath=_FAST)
def layer_norm_forward(x, weight, bias, eps, y, mean, invstd, coef):
    """``y = (x * invstd - mean * invstd) * weight + bias`` per row of ``x (R, F)``.

    ``weight, bias``: ``(F,)``; fills ``mean, invstd (R,)``. ``coef`` is ``(R, 2)`` scratch
    of ``x``'s dtype: the row's scale and shift, so that the loop writing ``y`` runs in
    ``x``'s dtype (PyTorch's form of the same formula). On the ``infer-transformer``
    benchmark's (64, 128) float32 rows: 3.6 us instead of 5.5 us with a float64 loop.
    """
    rows, f = x.shape
    for r in prange(rows):
        total = 0.0
        for j in range(f):
            total += x[r, j]
        mu = total / f
        sq = 0.0
        for j in range(f):
            d = x[r, j] - mu
            sq += d * d
        inv = 1.0 / math.sqrt(sq / f + eps)
        mean[r], invstd[r] = mu, inv
        coef[r, 0] = inv
        coef[r, 1] = -mu * inv
        scale, shift = coef[r, 0], coef[r, 1]
        for j in range(f):
            y[r, j] = (x[r, j] * scale + shift) * weight[j] + bias[j]


@parallel_kernel(fastmath=_FAST)
def layer_norm_backward(grad_out, x, weight, mean, invstd, grad_x):
    """``grad_x = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))`` per row,
    ``dxhat = grad_out * weight``."""
    rows, f = x.shape
    for r in prange(rows):
        mu, inv = mean[r], invstd[r]
        sd = 0.0
        sdx = 0.0
        for j in range(f):
            d = grad_out[r, j] * weight[j]
            sd += d
            sdx += d * (x[r, j] - mu)
        md, mdx = sd / f, sdx * inv / f
        for j in range(f):
            xhat = (x[r, j] - mu) * inv
            grad_x[r, j] = inv * (grad_out[r, j] * weight[j] - md - xhat * mdx)


@kernel(fastmath=_FAST)
def layer_norm_param_grads(grad_out, x, mean, invstd, grad_w, grad_b):
    """``grad_w = sum_rows(grad_out * xhat)``, ``grad_b = sum_rows(grad_out)``, ``(F,)``.

    Row by row on one thread: the inner loop then runs along contiguous memory (a task
    per feature would stride across rows, ~4x slower).
    """
    rows, f = x.shape
    for j in range(f):
        grad_w[j] = 0.0
        grad_b[j] = 0.0
    for r in range(rows):
        mu, inv = mean[r], invstd[r]
        for j in range(f):
            g = grad_out[r, j]
            grad_b[j] += g
            grad_w[j] += g * (x[r, j] - mu) * inv


def _flat(a, size, fill, dtype):
    return np.full(size, fill, dtype) if a is None else a.reshape(size)


def _by_channels(run, x):
    """``run(lo, hi)`` over all of ``x (N, C, S)``'s channels, in pieces if ``x`` is large."""
    channels = x.shape[1]
    split(run, channels, pieces(channels, x.size, _SPLIT_SIZE))


def normalize(kind, x, weight, bias, eps):
    """Batch (``kind="batch"``, ``x (N, C, S)``) or layer norm (``x (R, F)``) of ``x``.

    ``weight`` and ``bias`` may be None. Returns ``y`` (``x``'s dtype) and float64
    ``mean``, ``var`` (None for layer norm) and ``invstd``, one per channel or row.
    """
    size = x.shape[1] if kind == "batch" else x.shape[0]
    weight = _flat(weight, x.shape[1], 1, x.dtype)
    bias = _flat(bias, x.shape[1], 0, x.dtype)
    y = np.empty(x.shape, x.dtype)
    mean, invstd = np.empty(size), np.empty(size)
    if kind == "batch":
        var = np.empty(size)
        coef = np.empty((size, 2), x.dtype)
        _by_channels(lambda lo, hi: batch_norm_forward(x, weight, bias, eps, y, mean, var,
                                                       invstd, coef, lo, hi), x)
        return y, mean, var, invstd
    layer_norm_forward(x, weight, bias, eps, y, mean, invstd, np.empty((size, 2), x.dtype))
    return y, mean, None, invstd


def normalize_grads(kind, grad_out, x, weight, mean, invstd, need_x, need_params):
    """Gradients of ``normalize`` in ``x`` and in the (float64) weight and bias.

    Returns ``(grad_x or None, grad_w, grad_b)``; the last two are None for layer norm
    unless ``need_params``.
    """
    size = x.shape[1]
    weight = _flat(weight, size, 1, x.dtype)
    grad_x = np.empty(x.shape, x.dtype) if need_x else np.empty((1,) * x.ndim, x.dtype)
    grad_w, grad_b = np.empty(size), np.empty(size)
    if kind == "batch":
        coef = np.empty((size, 4), x.dtype)
        _by_channels(lambda lo, hi: batch_norm_backward(
            grad_out, x, weight, mean, invstd, need_x, grad_x, grad_w, grad_b, coef, lo, hi),
            x)
    else:
        if need_x:
            layer_norm_backward(grad_out, x, weight, mean, invstd, grad_x)
        if need_params:
            layer_norm_param_grads(grad_out, x, mean, invstd, grad_w, grad_b)
        else:
            grad_w = grad_b = None
    return (grad_x if need_x else None), grad_w, grad_b
