"""Compiled col2im for 2-D convolutions: adding columns back into an image.

``col2im`` is the adjoint of im2col (the input gradient and ``conv_transpose`` end with
it). NumPy does it as one strided add over an output-sized array per kernel position,
which runs well below memory speed; these loops add each column once. Each parallel task
owns one image (or one ``(n, c)`` plane), so the adds never race.

- ``col2im_channels_last``: columns ``(N, OH, OW, KH, KW, C)``, image ``(N, H, W, C)``:
  each add is a contiguous run of ``C`` values (the layout for many channels).
- ``col2im2d``: columns ``(N, C*KH*KW, OH*OW)`` (the layout ``ember.ops._im2col.im2col``
  makes), image ``(N, C, H, W)``: for few channels.

``geom`` is ``(KH, KW, OH, OW, stride_h, stride_w, pad_h, pad_w, dil_h, dil_w)``; terms
whose window position falls outside the image are dropped.
"""

from ember.backend.parallel import parallel_kernel

prange = range  # numba.prange once compiled (see ember.backend.parallel)

__all__ = ["col2im2d", "col2im_channels_last"]


@parallel_kernel()
def col2im2d(cols, out, geom):
    """Add ``cols (N, C*KH*KW, OH*OW)`` into ``out (N, C, H, W)`` (zeros on entry)."""
    kh, kw, oh, ow, sh, sw, ph, pw, dh, dw = geom
    n, c, h, w = out.shape
    for task in prange(n * c):
        i, ch = task // c, task % c
        for a in range(kh):
            for b in range(kw):
                row = (ch * kh + a) * kw + b
                off = b * dw - pw
                lo = 0 if off >= 0 else min(ow, (-off + sw - 1) // sw)
                hi = 0 if w - 1 - off < 0 else min(ow, (w - 1 - off) // sw + 1)
                for y in range(oh):
                    iy = y * sh + a * dh - ph
                    if iy < 0 or iy >= h:
                        continue
                    base = y * ow
                    for xo in range(lo, hi):
                        out[i, ch, iy, xo * sw + off] += cols[i, row, base + xo]


@parallel_kernel()
def col2im_channels_last(cols, out, geom):
    """Add ``cols (N, OH, OW, KH, KW, C)`` into ``out (N, H, W, C)`` (zeros on entry)."""
    kh, kw, oh, ow, sh, sw, ph, pw, dh, dw = geom
    n, h, w, c = out.shape
    for i in prange(n):
        for y in range(oh):
            for x in range(ow):
                for a in range(kh):
                    iy = y * sh + a * dh - ph
                    if iy < 0 or iy >= h:
                        continue
                    for b in range(kw):
                        ix = x * sw + b * dw - pw
                        if ix < 0 or ix >= w:
                            continue
                        src = cols[i, y, x, a, b]
                        dst = out[i, iy, ix]
                        for ch in range(c):
                            dst[ch] += src[ch]
