"""Convolution kernels on NumPy arrays: im2col + batched BLAS matmuls, and col2im.

Arrays are channels-first with any number of spatial dims: input ``(N, C, *S)``,
weight ``(C_out, C_in / groups, *K)``. The geometry of a convolution is given by

- ``stride``, ``dilation``: one int per spatial dim;
- ``pads``: one ``(before, after)`` pair per spatial dim (asymmetric for ``'same'``
  with even kernels);
- ``groups``: the channels are split in ``groups`` independent convolutions.

``windows`` sees every kernel window of the input as a strided view (no copy); one
reshape then copies it into a column matrix whose innermost axis runs along the
output positions, so the copy reads the input row by row.

- ``conv``: ``(N, groups, C/groups * prod(K), prod(O))`` columns times the weight matrix,
  one gemm per sample, which leaves the result already in ``(N, C_out, *O)`` order.
- ``conv_weight``: the columns laid out ``(groups, rows, N * prod(O))`` for one tall gemm
  per group with the output gradient.
- ``conv_transpose``: for stride 1, a ``conv`` with the flipped kernel when that copies
  less; otherwise a gemm to columns and col2im, which adds them back with one strided
  add per kernel position (``prod(K)`` adds over output-sized arrays).

No Tensor or autograd here: the Ops in ``ember.ops.conv`` call these.
"""

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["col2im", "conv", "conv_transpose", "conv_weight", "im2col", "out_size", "pad",
           "windows"]


def out_size(size, ksize, stride, pads, dilation):
    """The spatial output size of a convolution (may be <= 0 when the kernel does not fit)."""
    return tuple((s + lo + hi - d * (k - 1) - 1) // st + 1
                 for s, k, st, (lo, hi), d in zip(size, ksize, stride, pads, dilation))


def pad(x, pads):
    """``x`` with zeros added around its last ``len(pads)`` dims (``x`` itself if none).

    A negative ``after`` pad adds nothing: the windows then stop short of the end.
    """
    pads = [(lo, max(hi, 0)) for lo, hi in pads]
    if not any(lo or hi for lo, hi in pads):
        return x
    nd = len(pads)
    spatial = x.shape[-nd:]
    out = np.zeros(x.shape[:-nd] + tuple(s + lo + hi for s, (lo, hi) in zip(spatial, pads)),
                   x.dtype)
    out[(...,) + tuple(slice(lo, lo + s) for s, (lo, _) in zip(spatial, pads))] = x
    return out


def windows(x, ksize, stride, pads, dilation):
    """Every kernel window of ``x`` as a strided view ``(N, C, *K, *O)`` (no copy), and O."""
    xp = pad(x, pads)
    osize = out_size(x.shape[2:], ksize, stride, pads, dilation)
    spatial_strides = xp.strides[2:]
    view = as_strided(
        xp, x.shape[:2] + tuple(ksize) + osize,
        xp.strides[:2] + tuple(st * d for st, d in zip(spatial_strides, dilation))
        + tuple(st * s for st, s in zip(spatial_strides, stride)),
        writeable=False)
    return view, osize


def im2col(x, ksize, stride, pads, dilation, groups):
    """The column matrix ``(N, groups, C/groups * prod(K), prod(O))`` and the output size O."""
    view, osize = windows(x, ksize, stride, pads, dilation)
    n, c = x.shape[:2]
    rows = c // groups * math.prod(ksize)
    return view.reshape(n, groups, rows, math.prod(osize)), osize


def col2im(cols, size, ksize, stride, pads, dilation):
    """Adjoint of im2col: add columns ``(N, G, *K, C/G, *I)`` back into ``(N, C, *size)``.

    The kernel dims come before the channels so that each kernel position's block is one
    contiguous run per group. ``size`` is the unpadded spatial size; positions the
    columns do not reach stay zero (this is where ``output_padding`` lands).
    """
    n, g = cols.shape[:2]
    nd = len(ksize)
    c = cols.shape[2 + nd]
    isize = cols.shape[3 + nd:]
    reach = [(i - 1) * st + d * (k - 1) + 1 for i, k, st, d in zip(isize, ksize, stride, dilation)]
    full = tuple(max(r, lo + s) for r, (lo, _), s in zip(reach, pads, size))
    out = np.zeros((n, g, c) + full, cols.dtype)
    lead = (slice(None),) * 3
    for k in itertools.product(*map(range, ksize)):
        where = tuple(slice(ki * d, ki * d + (i - 1) * st + 1, st)
                      for ki, d, i, st in zip(k, dilation, isize, stride))
        out[lead + where] += cols[(slice(None), slice(None)) + k]
    out = out.reshape((n, g * c) + full)
    crop = tuple(slice(lo, lo + s) for (lo, _), s in zip(pads, size))
    if all(sl.start == 0 and sl.stop == f for sl, f in zip(crop, full)):
        return out
    return np.ascontiguousarray(out[lead[:2] + crop])


def conv(x, w, stride, pads, dilation, groups):
    """Cross-correlation ``(N, C, *S) * (C_out, C/groups, *K) -> (N, C_out, *O)``."""
    cols, osize = im2col(x, w.shape[2:], stride, pads, dilation, groups)
    c_out = w.shape[0]
    w3 = w.reshape(groups, c_out // groups, w.size // c_out)
    out = np.matmul(w3, cols)
    return out.reshape((x.shape[0], c_out) + osize)


def conv_transpose(y, w, stride, pads, dilation, groups, size):
    """Transposed convolution (the adjoint of ``conv`` in its input) to spatial ``size``.

    ``y`` is ``(N, C_in, *I)``, ``w`` is ``(C_in, C_out/groups, *K)``; returns
    ``(N, C_out, *size)``.
    """
    n, c_in = y.shape[:2]
    ksize = w.shape[2:]
    c_out = w.shape[1] * groups
    flipped = _flipped_pads(y.shape[2:], ksize, stride, pads, dilation, size)
    if flipped is not None and c_in <= 2 * c_out:
        return _conv_flipped(y, w, flipped, dilation, groups)
    nd, c_in_g, c_out_g = len(ksize), c_in // groups, c_out // groups
    # (C_in, C_out/G, *K) -> (G, *K, C_out/G, C_in/G): the rows come out kernel-major.
    wg = w.reshape((groups, c_in_g, c_out_g) + tuple(ksize))
    wt = np.ascontiguousarray(wg.transpose((0,) + tuple(range(3, 3 + nd)) + (2, 1)))
    y4 = y.reshape(n, groups, c_in_g, math.prod(y.shape[2:]))
    cols = np.matmul(wt.reshape(groups, -1, c_in_g), y4)
    cols = cols.reshape((n, groups) + tuple(ksize) + (c_out_g,) + y.shape[2:])
    return col2im(cols, size, ksize, stride, pads, dilation)


def _flipped_pads(isize, ksize, stride, pads, dilation, size):
    """The pads that make a stride-1 transposed conv a plain conv with a flipped kernel.

    None when that does not apply (strided, or the pads would be negative).
    """
    if any(st != 1 for st in stride):
        return None
    flipped = []
    for i, k, (lo, _), d, s in zip(isize, ksize, pads, dilation, size):
        before = d * (k - 1) - lo
        after = s - i - before + d * (k - 1)
        if before < 0 or after < 0:
            return None
        flipped.append((before, after))
    return tuple(flipped)


def _conv_flipped(y, w, pads, dilation, groups):
    """Stride-1 transposed conv as a plain conv with the kernel flipped and transposed.

    Used when the input has at most twice the output's channels: then the im2col copy
    of the input costs less than col2im's adds over the output (measured 1.4-2.6x).
    """
    c_in, c_out_g = w.shape[:2]
    nd = w.ndim - 2
    wg = w.reshape((groups, c_in // groups, c_out_g) + w.shape[2:])
    wf = wg.swapaxes(1, 2)[(Ellipsis,) + (slice(None, None, -1),) * nd]
    wf = np.ascontiguousarray(wf).reshape((groups * c_out_g, c_in // groups) + w.shape[2:])
    return conv(y, wf, (1,) * nd, pads, dilation, groups)


def conv_weight(x, g, ksize, stride, pads, dilation, groups):
    """Gradient of ``conv`` in its weight: the correlation of input ``x`` and ``g``.

    ``g`` is ``(N, C_out, *O)``; returns ``(C_out, C/groups, *ksize)``.
    """
    n, c = x.shape[:2]
    c_out, rows = g.shape[1], c // groups * math.prod(ksize)
    wshape = (c_out, c // groups) + tuple(ksize)
    if rows * c_out // groups < 1024:
        # Tiny weights (e.g. a first layer on one channel): a gemm per sample, summed.
        cols, osize = im2col(x, ksize, stride, pads, dilation, groups)
        g4 = g.reshape(n, groups, c_out // groups, math.prod(osize))
        return np.matmul(g4, cols.swapaxes(-1, -2)).sum(0).reshape(wshape)
    # Otherwise samples and positions side by side as one long inner dim: one tall gemm
    # per group runs ~1.3-2x faster than a gemm per sample, copies included.
    view, osize = windows(x, ksize, stride, pads, dilation)
    nd, columns = len(ksize), n * math.prod(osize)
    view = view.reshape((n, groups, c // groups) + view.shape[2:])
    order = (1, 2) + tuple(range(3, 3 + nd)) + (0,) + tuple(range(3 + nd, 3 + 2 * nd))
    cols = view.transpose(order).reshape(groups, rows, columns)
    g3 = g.reshape(n, groups, c_out // groups, math.prod(osize)).transpose(1, 2, 0, 3)
    g3 = g3.reshape(groups, c_out // groups, columns)
    gw = np.matmul(cols, g3.swapaxes(-1, -2))
    return np.ascontiguousarray(gw.swapaxes(-1, -2)).reshape(wshape)
