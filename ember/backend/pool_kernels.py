"""Compiled max pooling over planes: the 2x2 max and where it was, its gradient, and the
gradient's scatter by flat indices.

NumPy's path takes the max as one pass per kernel offset, then a second set of passes for
the argmax, a table lookup for the flat index and ``np.add.at`` for the backward; here each
2x2 window (the CNN's pooling) is one unrolled step, its gradient one write per input
element, and a scatter by flat indices one add per output. Planes are independent, so
each parallel task owns one (no races in the scatter).

Semantics follow PyTorch's CPU kernel: a value replaces the running max when it is greater
or NaN (so the first of tied maxima and the last NaN of a window win).
"""

import math

from ember.backend.parallel import parallel_kernel

__all__ = ["max_pool2x2", "scatter_add_planes", "unpool2x2"]

prange = range  # numba.prange once compiled (see ember.backend.parallel)


@parallel_kernel()
def max_pool2x2(x, out, code):
    """``out, code (P, OH, OW)`` from planes ``x (P, H, W)``: 2x2 windows, stride 2, no pad.

    ``code`` (of ``x``'s dtype) says where in its window each max is: 0 and 1 the top
    row's left and right, 2 and 3 the bottom row's (``ember.ops.pool.code_index`` turns it
    into flat indices). The steps are selects, not branches, and every array has one
    element type, so the loop vectorizes: LeNet's pools (64x6x28x28, 64x16x10x10,
    float32, one thread) ran in 68 and 37 us, against 175 and 136 us writing int64 flat
    indices by branches. The candidates are written out: a generic loop over the window ran
    ~8x slower.
    """
    planes = x.shape[0]
    oh, ow = out.shape[1], out.shape[2]
    for p in prange(planes):
        for y in range(oh):
            top, bottom = 2 * y, 2 * y + 1
            for xo in range(ow):
                left = 2 * xo
                a, b = x[p, top, left], x[p, top, left + 1]
                c, d = x[p, bottom, left], x[p, bottom, left + 1]
                take = (b > a) | math.isnan(b)  # greater, or nan: the last nan wins
                best = b if take else a
                k = 1.0 if take else 0.0
                take = (c > best) | math.isnan(c)
                best = c if take else best
                k = 2.0 if take else k
                take = (d > best) | math.isnan(d)
                best = d if take else best
                k = 3.0 if take else k
                out[p, y, xo] = best
                code[p, y, xo] = k


@parallel_kernel()
def unpool2x2(grad, code, out):
    """``max_pool2x2``'s gradient: each window of planes ``out (P, H, W)`` gets ``grad``'s
    value at its max (``code``) and zeros elsewhere; an odd last row or column is zeroed.

    Every element is written once, so no zeroing pass comes first; a nan or inf gradient
    stays where the max was (selects, not products with 0 or 1). About as fast as zeroing
    and then scattering by flat indices (LeNet's pools, one thread: 94 and 50 us against
    87 and 38), which would need the flat indices the forward no longer makes.
    """
    planes, h, w = out.shape[0], out.shape[1], out.shape[2]
    oh, ow = grad.shape[1], grad.shape[2]
    for p in prange(planes):
        for y in range(oh):
            top, bottom = 2 * y, 2 * y + 1
            for xo in range(ow):
                left = 2 * xo
                k, v = code[p, y, xo], grad[p, y, xo]
                out[p, top, left] = v if k == 0 else 0
                out[p, top, left + 1] = v if k == 1 else 0
                out[p, bottom, left] = v if k == 2 else 0
                out[p, bottom, left + 1] = v if k == 3 else 0
            if w > 2 * ow:
                out[p, top, w - 1] = 0
                out[p, bottom, w - 1] = 0
        if h > 2 * oh:
            for j in range(w):
                out[p, h - 1, j] = 0


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
