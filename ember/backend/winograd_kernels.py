"""Winograd's F(2x2, 3x3) transforms: stride-1 3x3 convolutions in 16 products.

``ember.ops._winograd`` cuts the output into 2x2 tiles, each read from a 4x4 tile of the
padded input; these loops transform the input tiles and the products' results. The
loops run over contiguous runs of channels (and of tiles), the layouts they take, so that
Numba vectorizes them: indexing a single value per tile and channel ran 5-10x slower.

Every inner loop indexes its arrays by the bare loop counter, over slices that start
where the run starts (NOTE [slices, not offsets] in ``ember.backend.compiled``), and adds
values of the arrays' own type (a float64 factor such as ``-1.0`` would widen float32
lanes).
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
    even_next, odd_next = even[c:], odd[c:]  # the next column pair of each tile
    for i in range(n):
        for ty in range(th):
            start = (i * th + ty) * span
            for r in range(4):
                if r == 0:
                    first, second = 0, 2
                elif r == 1:
                    first, second = 1, 2
                elif r == 2:
                    first, second = 2, 1
                else:
                    first, second = 1, 3
                pa, pb = xp[i, 2 * ty + first], xp[i, 2 * ty + second]
                pa0, pa1, pb0, pb1 = pa[0], pa[1], pb[0], pb[1]
                if r == 1:
                    for j in range(run):
                        even[j] = pa0[j] + pb0[j]
                        odd[j] = pa1[j] + pb1[j]
                else:
                    for j in range(run):
                        even[j] = pa0[j] - pb0[j]
                        odd[j] = pa1[j] - pb1[j]
                o0, o1 = v[4 * r, start:start + span], v[4 * r + 1, start:start + span]
                o2, o3 = v[4 * r + 2, start:start + span], v[4 * r + 3, start:start + span]
                for j in range(span):
                    o0[j] = even[j] - even_next[j]
                    o1[j] = odd[j] + even_next[j]
                    o2[j] = even_next[j] - odd[j]
                    o3[j] = odd[j] - odd_next[j]


@kernel()
def winograd_output(m, y, th, tw):
    """``y``'s 2x2 tiles ``A^T M A`` from the products ``m (16, N * th * tw, C)``.

    ``y`` is ``(N, 2 * th, 2 * tw, C)`` (channels last); ``A^T``'s rows are ``m0 + m1 + m2``
    and ``m1 - m2 - m3``, applied to rows (a whole row of tiles at once), then to columns.
    """
    n, c = y.shape[0], y.shape[3]
    span = tw * c
    flat = m.reshape((16, m.shape[1] * c))
    sums = np.empty((4, span), m.dtype)
    for i in range(n):
        for ty in range(th):
            start = (i * th + ty) * span
            for r in range(2):
                for b in range(4):
                    top = flat[4 * r + b, start:start + span]
                    mid = flat[4 * r + 4 + b, start:start + span]
                    s = sums[b]
                    if r == 0:
                        bottom = flat[8 + b, start:start + span]
                        for j in range(span):
                            s[j] = top[j] + (mid[j] + bottom[j])
                    else:
                        bottom = flat[12 + b, start:start + span]
                        for j in range(span):
                            s[j] = top[j] - (mid[j] + bottom[j])
                row = y[i, 2 * ty + r]
                for tx in range(tw):
                    left, right = row[2 * tx], row[2 * tx + 1]
                    lo = tx * c
                    s0, s1 = sums[0, lo:lo + c], sums[1, lo:lo + c]
                    s2, s3 = sums[2, lo:lo + c], sums[3, lo:lo + c]
                    for ch in range(c):
                        left[ch] = s0[ch] + s1[ch] + s2[ch]
                        right[ch] = s1[ch] - s2[ch] - s3[ch]


@kernel()
def winograd_grad_output(gp, z, th, tw):
    """``z[a * 4 + b, tile, c] = (A g A^T)[a, b]`` for each 2x2 tile ``g`` of an output's
    gradient (the weight's gradient then sums ``z * v`` over tiles).

    ``gp`` is ``(N, 2 * th, 2, tw * C)``: channels last, even and odd columns apart, zeros
    past the output; ``z`` is ``(16, N * th * tw * C)``. ``A``'s rows are ``g0, g0 + g1,
    g0 - g1, -g1``, applied to rows, then to columns.
    """
    n, span = gp.shape[0], gp.shape[3]
    for i in range(n):
        for ty in range(th):
            start = (i * th + ty) * span
            top, bottom = gp[i, 2 * ty], gp[i, 2 * ty + 1]
            t0, t1, b0, b1 = top[0], top[1], bottom[0], bottom[1]
            for r in range(4):
                o0, o1 = z[4 * r, start:start + span], z[4 * r + 1, start:start + span]
                o2, o3 = z[4 * r + 2, start:start + span], z[4 * r + 3, start:start + span]
                # (even, odd) is row r of A g (columns 2t and 2t + 1 of each tile)
                if r == 0:
                    for j in range(span):
                        even, odd = t0[j], t1[j]
                        o0[j], o1[j], o2[j], o3[j] = even, even + odd, even - odd, -odd
                elif r == 1:
                    for j in range(span):
                        even, odd = t0[j] + b0[j], t1[j] + b1[j]
                        o0[j], o1[j], o2[j], o3[j] = even, even + odd, even - odd, -odd
                elif r == 2:
                    for j in range(span):
                        even, odd = t0[j] - b0[j], t1[j] - b1[j]
                        o0[j], o1[j], o2[j], o3[j] = even, even + odd, even - odd, -odd
                else:
                    for j in range(span):
                        even, odd = -b0[j], -b1[j]
                        o0[j], o1[j], o2[j], o3[j] = even, even + odd, even - odd, -odd
