"""The geometry of convolutions on NumPy arrays: output sizes, padding, every kernel window
as a strided view, im2col's column matrix and its adjoint col2im.

Arrays are channels-first with any number of spatial dims (see ``ember.ops._im2col``, whose
kernels use these); ``pads`` are one ``(before, after)`` pair per spatial dim.
"""

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = ["col2im", "im2col", "out_size", "pad", "windows"]


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
    shape = x.shape[:2] + tuple(ksize) + osize
    strides = (xp.strides[:2] + tuple(st * d for st, d in zip(spatial_strides, dilation))
               + tuple(st * s for st, s in zip(spatial_strides, stride)))
    if not xp.flags.c_contiguous:
        return as_strided(xp, shape, strides, writeable=False), osize
    # The same view without as_strided's Python overhead (~15 us, a tenth of a small conv).
    view = np.ndarray(shape, xp.dtype, xp, 0, strides)
    view.flags.writeable = False
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
