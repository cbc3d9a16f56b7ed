"""Winograd's F(2x2, 3x3) transforms: stride-1 3x3 convolutions in 16 products.

``ember.ops._winograd`` cuts the output into 2x2 tiles, each read from a 4x4 tile of the
padded input; these loops transform the input tiles and the products' results. The
loops run over contiguous runs of channels (and of tiles), the layouts they take, so that
Numba vectorizes them: indexing a single value per tile and channel ran 5-10x slower.
"""

import numpy as np

from ember.backend.compiled import kernel

__all__ = ["winograd_grad_output", "winograd_input", "winograd_output"]


@kernel()
def winograd_input(xp, v, th, tw):
    """``v[a * 4 + b, tile, c] = (B^T d B)[a, b]`` for each 4x4 input tile ``d``.

    ``xp`` is the padded input ``(N, 2 * th + 2, 2, (tw + 1) * C)``: channels last, its
    even and odd columns apart (so each tile row's columns ``2t, 2t + 2`` are ``C`` apart in
    one run); ``v`` is ``(16, N * th * tw * C)``, tiles in ``(n, ty, tx)`` order. ``B^T``'s
    rows are ``d0 - d2, d1 + d2, d2 - d1, d1 - d3``, applied to rows, then to columns.
    """
    n = xp.shape[0]
    run = xp.shape[3]
    c = run // (tw + 1)
    span = tw * c
    rows = np.empty((2, run), xp.dtype)
    even, odd = rows[0], rows[1]
    for i in range(n):
        for ty in range(th):
            base = (i * th + ty) * span
            for r in range(4):
                sign = -1.0  # rows (first, second) of B^T d: first + sign * second
                if r == 0:
                    first, second = 0, 2
                elif r == 1:
                    first, second, sign = 1, 2, 1.0
                elif r == 2:
                    first, second = 2, 1
                else:
                    first, second = 1, 3
                pa, pb = xp[i, 2 * ty + first], xp[i, 2 * ty + second]
                pa0, pa1, pb0, pb1 = pa[0], pa[1], pb[0], pb[1]
                for j in range(run):
                    even[j] = pa0[j] + sign * pb0[j]
                    odd[j] = pa1[j] + sign * pb1[j]
                o0, o1, o2, o3 = v[4 * r], v[4 * r + 1], v[4 * r + 2], v[4 * r + 3]
                for j in range(span):
                    o0[base + j] = even[j] - even[j + c]
                    o1[base + j] = odd[j] + even[j + c]
                    o2[base + j] = even[j + c] - odd[j]
                    o3[base + j] = odd[j] - odd[j + c]


@kernel()
def winograd_output(m, y, th, tw):
    """``y``'s 2x2 tiles ``A^T M A`` from the products ``m (16, N * th * tw, C)``.

    ``y`` is ``(N, 2 * th, 2 * tw, C)`` (channels last); ``A^T``'s rows are ``m0 + m1 + m2``
    and ``m1 - m2 - m3``.
    """
    n, c = y.shape[0], y.shape[3]
    for i in range(n):
        for ty in range(th):
            for r in range(2):
                row = y[i, 2 * ty + r]
                sign = 1.0 if r == 0 else -1.0
                pa = m[0:4] if r == 0 else m[4:8]
                pb = m[4:8] if r == 0 else m[8:12]
                pc = m[8:12] if r == 0 else m[12:16]
                for tx in range(tw):
                    t = (i * th + ty) * tw + tx
                    x0 = 2 * tx
                    for ch in range(c):
                        s0 = pa[0, t, ch] + sign * (pb[0, t, ch] + pc[0, t, ch])
                        s1 = pa[1, t, ch] + sign * (pb[1, t, ch] + pc[1, t, ch])
                        s2 = pa[2, t, ch] + sign * (pb[2, t, ch] + pc[2, t, ch])
                        s3 = pa[3, t, ch] + sign * (pb[3, t, ch] + pc[3, t, ch])
                        row[x0, ch] = s0 + s1 + s2
                        row[x0 + 1, ch] = s1 - s2 - s3


@kernel()
def winograd_grad_output(gp, z, th, tw):
    """``z[a * 4 + b, tile, c] = (A g A^T)[a, b]`` for each 2x2 tile ``g`` of an output's
    gradient (the weight's gradient then sums ``z * v`` over tiles).

    ``gp`` is ``(N, 2 * th, 2, tw * C)``: channels last, even and odd columns apart, zeros
    past the output; ``z`` is ``(16, N * th * tw * C)``. ``A``'s rows are ``g0, g0 + g1,
    g0 - g1, -g1``, applied to rows, then to columns.
    """
    n, span = gp.shape[0], gp.shape[3]
    rows = np.empty((2, span), gp.dtype)
    even, odd = rows[0], rows[1]
    for i in range(n):
        for ty in range(th):
            base = (i * th + ty) * span
            top, bottom = gp[i, 2 * ty], gp[i, 2 * ty + 1]
            t0, t1, b0, b1 = top[0], top[1], bottom[0], bottom[1]
            for r in range(4):
                wt = 0.0 if r == 3 else 1.0
                wb = 0.0 if r == 0 else 1.0 if r == 1 else -1.0
                for j in range(span):
                    even[j] = wt * t0[j] + wb * b0[j]
                    odd[j] = wt * t1[j] + wb * b1[j]
                o0, o1, o2, o3 = z[4 * r], z[4 * r + 1], z[4 * r + 2], z[4 * r + 3]
                for j in range(span):
                    o0[base + j] = even[j]
                    o1[base + j] = even[j] + odd[j]
                    o2[base + j] = even[j] - odd[j]
                    o3[base + j] = -odd[j]
