"""Compiled max pooling over planes: the max and its flat index, and the gradient's scatter.

NumPy's path takes the max as one pass per kernel offset, then a second set of passes for
the argmax, a table lookup for the flat index and ``np.add.at`` for the backward; here each
2x2 window (the CNN's pooling) is one unrolled step, and the backward one add per output.
Planes are independent, so each parallel task owns one (no races in the scatter).

Semantics follow PyTorch's CPU kernel: a value replaces the running max when it is greater
or NaN (so the first of tied maxima and the last NaN of a window win).
"""

import math

from ember.backend.parallel import parallel_kernel

__all__ = ["max_pool2x2", "scatter_add_planes"]

prange = range  # numba.prange once compiled (see ember.backend.parallel)


@parallel_kernel()
def max_pool2x2(x, out, index):
    """``out, index (P, OH, OW)`` from planes ``x (P, H, W)``: 2x2 windows, stride 2, no pad.

    ``index`` is the flat ``iy * W + ix`` of each window's max. The four candidates are
    written out: a generic loop over the window runs ~8x slower, its trip counts unknown.
    """
    planes, w = x.shape[0], x.shape[2]
    oh, ow = out.shape[1], out.shape[2]
    for p in prange(planes):
        for y in range(oh):
            top, bottom = 2 * y, 2 * y + 1
            for xo in range(ow):
                left = 2 * xo
                best, arg = x[p, top, left], top * w + left
                v = x[p, top, left + 1]
                if v > best or math.isnan(v):
                    best, arg = v, top * w + left + 1
                v = x[p, bottom, left]
                if v > best or math.isnan(v):
                    best, arg = v, bottom * w + left
                v = x[p, bottom, left + 1]
                if v > best or math.isnan(v):
                    best, arg = v, bottom * w + left + 1
                out[p, y, xo] = best
                index[p, y, xo] = arg


@parallel_kernel()
def scatter_add_planes(values, index, out):
    """``out[p, index[p, q]] += values[p, q]`` for planes ``values, index (P, Q)``.

    Indices outside ``out``'s planes are skipped rather than written out of bounds; the
    callers' indices come from a pooling or are range-checked before.
    """
    planes, q = values.shape
    size = out.shape[1]
    for p in prange(planes):
        for j in range(q):
            i = index[p, j]
            if 0 <= i < size:
                out[p, i] += values[p, j]
