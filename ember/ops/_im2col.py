"""Convolution kernels on NumPy arrays: im2col + batched BLAS matmuls, and col2im.

Arrays are channels-first with any number of spatial dims: input ``(N, C, *S)``,
weight ``(C_out, C_in / groups, *K)``. The geometry of a convolution is given by

- ``stride``, ``dilation``: one int per spatial dim;
- ``pads``: one ``(before, after)`` pair per spatial dim (asymmetric for ``'same'``
  with even kernels);
- ``groups``: the channels are split in ``groups`` independent convolutions.

``windows`` sees every kernel window of the input as a strided view (no copy); one
reshape then copies it into a column matrix whose innermost axis runs along the
output positions, so the copy reads the input row by row (these helpers live in
``ember.ops._conv_geometry``).

- ``conv``: ``(N, groups, C/groups * prod(K), prod(O))`` columns times the weight matrix,
  one gemm per sample, which leaves the result already in ``(N, C_out, *O)`` order; in 2-D
  with 16 or more channels, one gemm over channels-last columns instead.
- ``conv_weight``: the columns laid out ``(groups, rows, samples * prod(O))`` for one tall
  gemm per group and block of samples with the output gradient; in 2-D with at most 128
  output positions, channels-last columns instead.
- ``conv_transpose``: in 2-D with compiled kernels, a gemm to columns and a compiled
  col2im (``ember.backend.conv_kernels``), channels-last for 4 or more output channels.
  Otherwise, for stride 1, a ``conv`` with the flipped kernel when that copies less; else
  a gemm to columns and col2im, which adds them back with one strided add per kernel
  position (``prod(K)`` adds over output-sized arrays).

2-D convolutions with few channels (ResNet-8's 16- and 32-channel layers) skip the
columns: ``conv``, ``conv_weight`` and, for stride 1 as a ``conv`` with the flipped kernel,
``conv_transpose`` run as one small BLAS product per kernel tap and block of positions
(``ember.backend.conv_kernels.shifted_conv2d``; rules in ``_shifted``). Stride-1 3x3 ones
with 32 or more channels run all three by Winograd's F(2x2, 3x3) (``ember.ops._winograd``).

With ember at several threads, ``conv``, ``conv_weight`` and ``conv_transpose`` of at least
``_SPLIT_WORK`` multiply-adds cut the batch into one piece per thread run on ember's threads
(``ember.backend.threads``), each piece one of the paths above at one BLAS thread;
``conv_weight`` adds the pieces' partial sums. Shifted products of fewer than
``_POSITIONS_SPLIT`` multiply-adds keep the batch whole and split only their products'
positions (``_ranges``).

No Tensor or autograd here: the Ops in ``ember.ops.conv`` call these.
"""

import math

import numpy as np

from ember._threads import blas_library_threads
from ember.backend.conv_kernels import (
    SMALL_PRODUCT,
    ShiftedGrid,
    col2im2d,
    col2im_channels_last,
    shifted_conv2d,
    shifted_conv2d_weight,
    shifted_products_available,
)
from ember.backend.threads import pieces, split
from ember.ops import _winograd
from ember.ops._conv_geometry import col2im, im2col, out_size, pad, windows

__all__ = ["col2im", "conv", "conv_transpose", "conv_weight", "im2col", "out_size", "pad",
           "windows"]


# Below this many multiply-adds an op runs in one thread: handing pieces over costs ~20 us.
# Two threads share the memory bus: LeNet's first layer (7.5M, 25-row columns copied for
# each of 784 outputs) ran 1.15-1.25x faster on two, its second (15M) and ResNet-8's
# 3x3 convs 1.6-1.9x (float32, idle 2-core machine, BLAS at one thread).
_SPLIT_WORK = 1 << 22


# Shifted products of fewer multiply-adds than this split their grid's positions over the
# threads, not the batch: each piece of a batch runs the grid's Python and NumPy steps, and
# on small convs the two threads wait on each other for the GIL between them (2 threads,
# idle machine, float32, the worker kept warm: LeNet's conv(6, 16, 5) (15M) input gradient
# 0.88x the time of one batch piece per thread (0.73x of two), weight gradient 0.97x
# (0.82x); ResNet-8's 16-channel convs (75M) and its 16-to-32 one of stride 2 (38M) ran
# 1.09-1.24x slower, their copies in and out of the grid then in one thread).
_POSITIONS_SPLIT = 1 << 25


def _ranges(work):
    """How shifted products run their grid's positions: cut in ranges over ember's threads
    when ``work`` (multiply-adds) is at least ``_SPLIT_WORK``."""
    def run(count, fn):
        return split(fn, count, pieces(count, work, _SPLIT_WORK))
    return run


# A batch is cut into one piece per thread (``split``'s ``per_thread``), not two: each
# piece's Python and NumPy steps between its products hold the GIL, and the threads wait
# for it in turn (2 threads, idle machine: ResNet-8's step 0.88-0.94x the time of two
# pieces per thread, LeNet's 0.97-0.98x; with one core kept busy 0.97x and 1.03x).
_PIECES_PER_THREAD = 1


def _split_batch(op, x, work, out_shape, *args):
    """``op(x, *args, out=...)`` with the batch cut into one piece per thread.

    ``work`` counts the op's multiply-adds; ``out_shape`` is the result's shape. ``op``
    writes its result into ``out`` (a new array when ``out`` is None) and returns it.
    """
    n = x.shape[0]
    count = pieces(n, work, _SPLIT_WORK)
    if count == 1:
        return op(x, *args)
    out = np.empty(out_shape, x.dtype)
    split(lambda lo, hi: op(x[lo:hi], *args, out=out[lo:hi]), n, count, _PIECES_PER_THREAD)
    return out


def conv(x, w, stride, pads, dilation, groups, bias=None):
    """Cross-correlation ``(N, C, *S) * (C_out, C/groups, *K) -> (N, C_out, *O)``, + bias."""
    osize = out_size(x.shape[2:], w.shape[2:], stride, pads, dilation)
    work = x.shape[0] * w.size * math.prod(osize) if min(osize) > 0 else 0
    if work < _POSITIONS_SPLIT and _shifted_conv(x, w.shape[0], w.shape[2:], stride, pads,
                                                 dilation, groups):
        out = shifted_conv2d(x, w, stride, pads, dilation, ranges=_ranges(work))
        return _add_bias(out, bias)
    return _split_batch(_with_bias, x, work, x.shape[:1] + w.shape[:1] + osize,
                        _conv, bias, w, stride, pads, dilation, groups)


def _with_bias(x, op, bias, *args, out=None):
    """``op(x, *args, out=out)`` plus ``bias (C,)`` on each channel (in the same thread)."""
    return _add_bias(op(x, *args, out=out), bias)


def _add_bias(out, bias):
    """``out (N, C, *S)`` plus ``bias (C,)`` (if not None) on each channel, in place."""
    if bias is not None:
        out += bias.reshape((-1,) + (1,) * (out.ndim - 2))
    return out


# 2-D convolutions with few channels run as shifted products, with no columns (NOTE
# [shifted products] in ember.backend.conv_kernels), where that measured faster (float32,
# one thread, CPU time against the column paths): ResNet-8's 16-channel 3x3 conv on 32x32
# 0.54x forward, 0.58x input gradient, 0.56x weight gradient; its 32-channel one on 16x16
# 0.83x, 0.84x, 0.69x; its 16-to-32-channel one of stride 2 0.88x forward, 0.94x weight
# gradient (its input gradient, of stride 2, is no conv); LeNet's conv(6, 16, 5) 0.63x
# input gradient, 0.81x weight gradient. With 64 channels (8x8) they ran 1.05-1.25x
# slower: bigger products than the small-matrix kernels take and a grid with 27% extra
# positions; with fewer input channels than these, the forward and weight products are
# too thin (LeNet's forward: 1.1x, on a grid of twice its outputs).
_SHIFTED_PRODUCT = 1024  # at most C_in * C_out
_SHIFTED_STRIDE = 2  # at most this stride
_SHIFTED_FORWARD = (16, 1.2)  # at least this many input channels, at most this many
_SHIFTED_WEIGHT = (6, 2.0)  # grid positions per output (ShiftedGrid.waste)


def _shifted_conv(x, c_out, ksize, stride, pads, dilation, groups):
    """Whether ``_conv`` runs a conv of ``x`` by shifted products."""
    return (not _winograd.applies(x, c_out, ksize, stride, pads, dilation, groups)
            and _shifted(x, c_out, ksize, stride, pads, dilation, groups, _SHIFTED_FORWARD))


def _shifted(x, c_out, ksize, stride, pads, dilation, groups, limits):
    """Whether shifted products should run a conv of ``x`` (``limits``: see above)."""
    c = x.shape[1]
    if (c < limits[0] or c * c_out > _SHIFTED_PRODUCT or groups != 1 or len(ksize) != 2
            or ksize[0] * ksize[1] == 1 or max(stride) > _SHIFTED_STRIDE
            or not shifted_products_available(x.dtype)):
        return False
    grid = ShiftedGrid(x.shape[0], x.shape[2:], ksize, stride, pads, dilation)
    return grid.fits() and grid.waste() <= limits[1]


def _conv(x, w, stride, pads, dilation, groups, out=None):
    """``conv`` in the calling thread, into ``out`` if given."""
    if _winograd.applies(x, w.shape[0], w.shape[2:], stride, pads, dilation, groups):
        return _winograd.conv2d(x, w, pads, out)
    if _shifted(x, w.shape[0], w.shape[2:], stride, pads, dilation, groups, _SHIFTED_FORWARD):
        return shifted_conv2d(x, w, stride, pads, dilation, out)
    if groups == 1 and w.ndim == 4 and w.shape[2] * w.shape[3] > 1 and _channels_last_wins(
            x, w, stride, pads, dilation):
        return _conv_channels_last(x, w, stride, pads, dilation, out)
    view, osize = windows(x, w.shape[2:], stride, pads, dilation)
    n, c_out = x.shape[0], w.shape[0]
    if out is None:
        out = np.empty((n, c_out) + osize, x.dtype)
    w3 = w.reshape(groups, c_out // groups, w.size // c_out)
    out4 = out.reshape(n, groups, c_out // groups, math.prod(osize))
    rows = x.shape[1] // groups * math.prod(w.shape[2:])
    step = _chunk(n, rows * groups * math.prod(osize) * x.itemsize)
    for i in range(0, n, step):
        cols = view[i:i + step].reshape(-1, groups, rows, math.prod(osize))
        np.matmul(w3, cols, out=out4[i:i + step])
    return out


# On one BLAS thread (ember's default: its pool threads the ops), columns are made and
# consumed a few samples at a time, about this many bytes at once: small enough to stay in
# cache between the copy and the gemm (ResNet-8's first block's conv ran 1.7x faster in
# blocks of 4 samples than in one gemm over 32), and a smaller peak. With OpenBLAS's own
# threads each gemm is a parallel region whose start is paid per block, and on a busy
# machine a ResNet-8 step ran 7x slower in blocks, so then one block holds every sample.
_CHUNK_BYTES = 1 << 20


def _chunk(n, bytes_per_sample):
    """How many samples go in one block of columns."""
    if blas_library_threads() > 1:
        return n
    return max(1, min(n, _CHUNK_BYTES // max(bytes_per_sample, 1)))


def _windows_channels_last(x, ksize, stride, pads, dilation, osize):
    """The windows of 2-D ``x`` as a view ``(N, OH, OW, KH, KW, C)`` of a padded NHWC copy.

    Each window row is then one contiguous run of ``KW * C`` values (``C`` when dilated),
    so reshaping the view to columns copies long runs instead of runs of ``KW``.
    """
    n, c, h, wd = x.shape
    (top, bottom), (left, right) = pads
    xp = np.zeros((n, h + top + max(bottom, 0), wd + left + max(right, 0), c), x.dtype)
    xp[:, top:top + h, left:left + wd] = x.transpose(0, 2, 3, 1)
    sn, sh, sw, sc = xp.strides
    strides = (sn, sh * stride[0], sw * stride[1], sh * dilation[0], sw * dilation[1], sc)
    return np.ndarray((n,) + tuple(osize) + tuple(ksize) + (c,), xp.dtype, xp, 0, strides)


def _channels_last_wins(x, w, stride, pads, dilation):
    """Whether ``_conv_channels_last`` should run a 2-D conv of ``x``.

    Its columns copy runs of ``KW * C`` values where the planar ones copy runs of ``OW``:
    with 16 channels or more, or runs at least twice as long on a batch (LeNet's conv(6,
    16, 5) on 14x14: 0.78x the time at 64 images, 0.89x at 2, 0.98x at 1; float32, one
    thread). A tiny weight (under 1024 values) keeps the planar columns, which a compiled
    plan keeps for the weight's gradient (``ember.jit.array_conv``).
    """
    n, c = x.shape[:2]
    if c >= 16:
        return True
    if n < 2 or w.size < 1024:
        return False
    ow = out_size(x.shape[3:], w.shape[3:], stride[1:], pads[1:], dilation[1:])[0]
    return w.shape[3] * c >= 2 * ow


# Products of the channels-last columns stay at most SMALL_PRODUCT multiply-adds, run by
# OpenBLAS's small-matrix kernels (see ember.backend.conv_kernels), when that leaves each
# at least this many rows: LeNet's conv(6, 16, 5) ran 0.85x the time in products of 416
# rows; ResNet-8's strided 3x3 convs (54-217 rows) ran as fast as in one product.
_SMALL_ROWS = 256


def _rows_product(cols, wm, out):
    """``cols @ wm`` into ``out``, in products of at most SMALL_PRODUCT multiply-adds."""
    rows = SMALL_PRODUCT // wm.size
    if rows < _SMALL_ROWS:
        np.matmul(cols, wm, out=out)
        return
    for i in range(0, cols.shape[0], rows):
        np.matmul(cols[i:i + rows], wm, out=out[i:i + rows])


def _conv_channels_last(x, w, stride, pads, dilation, out=None):
    """2-D ``conv`` as gemms ``(samples*OH*OW, KH*KW*C) @ (KH*KW*C, C_out)``.

    The columns are copied from a channels-last copy of ``x`` (``_windows_channels_last``),
    a few samples at a time. With 16 or more input channels this runs 1.3-1.7x faster than
    the gemm per sample (ResNet-8's 3x3 convs, float32, one thread), the copies in and out
    included; with fewer channels or a 1x1 kernel the per-sample gemm wins.
    """
    n, c = x.shape[:2]
    c_out, _, kh, kw = w.shape
    oh, ow = out_size(x.shape[2:], (kh, kw), stride, pads, dilation)
    view = _windows_channels_last(x, (kh, kw), stride, pads, dilation, (oh, ow))
    wm = w.transpose(2, 3, 1, 0).reshape(kh * kw * c, c_out)
    rows = np.empty((n, oh * ow, c_out), x.dtype)
    step = _chunk(n, oh * ow * wm.shape[0] * x.itemsize)
    for i in range(0, n, step):
        cols = view[i:i + step].reshape(-1, wm.shape[0])
        _rows_product(cols, wm, rows[i:i + step].reshape(-1, c_out))
    return _to_planar(rows.reshape(n, oh, ow, c_out), out)


def _to_planar(nhwc, out):
    """``nhwc`` transposed to ``(N, C, H, W)``, copied into ``out`` if given."""
    planar = nhwc.transpose(0, 3, 1, 2)
    if out is None:
        return np.ascontiguousarray(planar)
    np.copyto(out, planar)
    return out


def conv_transpose(y, w, stride, pads, dilation, groups, size, bias=None):
    """Transposed convolution (the adjoint of ``conv`` in its input) to spatial ``size``.

    ``y`` is ``(N, C_in, *I)``, ``w`` is ``(C_in, C_out/groups, *K)``; returns
    ``(N, C_out, *size)``, plus ``bias (C_out,)`` if given.
    """
    work = y.size * (w.size // max(y.shape[1], 1))
    c_out, nd = w.shape[1] * groups, w.ndim - 2
    flipped = _flipped_pads(y.shape[2:], w.shape[2:], stride, pads, dilation, size)
    if work < _POSITIONS_SPLIT and flipped is not None and _shifted_conv(
            y, c_out, w.shape[2:], stride, flipped, dilation, groups):
        out = shifted_conv2d(y, _flip(w, groups), (1,) * nd, flipped, dilation,
                             ranges=_ranges(work))
        return _add_bias(out, bias)
    return _split_batch(_with_bias, y, work,
                        y.shape[:1] + (w.shape[1] * groups,) + tuple(size),
                        _conv_transpose, bias, w, stride, pads, dilation, groups, size)


def _conv_transpose(y, w, stride, pads, dilation, groups, size, out=None):
    """``conv_transpose`` in the calling thread, into ``out`` if given."""
    n, c_in = y.shape[:2]
    ksize = w.shape[2:]
    c_out = w.shape[1] * groups
    nd, c_in_g, c_out_g = len(ksize), c_in // groups, c_out // groups
    flipped = _flipped_pads(y.shape[2:], ksize, stride, pads, dilation, size)
    if flipped is not None and (_shifted(y, c_out, ksize, stride, flipped, dilation, groups,
                                         _SHIFTED_FORWARD) or _winograd.applies(
                                             y, c_out, ksize, stride, flipped, dilation, groups)):
        return _conv_flipped(y, w, flipped, dilation, groups, out)
    if (nd == 2 and groups == 1 and c_out >= 4 and ksize[0] * ksize[1] > 1
            and col2im_channels_last.ready()):
        return _conv_transpose_channels_last(y, w, stride, pads, dilation, size, out)
    if flipped is not None and c_in <= 2 * c_out:
        return _conv_flipped(y, w, flipped, dilation, groups, out)
    if nd == 2 and col2im2d.ready():
        return _conv_transpose_compiled(y, w, stride, pads, dilation, groups, size, out)
    # (C_in, C_out/G, *K) -> (G, *K, C_out/G, C_in/G): the rows come out kernel-major.
    wg = w.reshape((groups, c_in_g, c_out_g) + tuple(ksize))
    wt = np.ascontiguousarray(wg.transpose((0,) + tuple(range(3, 3 + nd)) + (2, 1)))
    y4 = y.reshape(n, groups, c_in_g, math.prod(y.shape[2:]))
    cols = np.matmul(wt.reshape(groups, -1, c_in_g), y4)
    cols = cols.reshape((n, groups) + tuple(ksize) + (c_out_g,) + y.shape[2:])
    image = col2im(cols, size, ksize, stride, pads, dilation)
    if out is None:
        return image
    np.copyto(out, image)
    return out


def _conv_transpose_channels_last(y, w, stride, pads, dilation, size, out=None):
    """2-D ``conv_transpose`` as one gemm ``(N*OH*OW, C_in) @ (C_in, KH*KW*C_out)`` + col2im.

    The columns come out channels-last, so the compiled col2im adds runs of ``C_out``
    values. Against a flipped-kernel conv (stride 1) or the per-sample gemm and planar
    col2im, this runs 1.5-2.5x faster on ResNet-8's and LeNet's input gradients (float32,
    one thread), the transposes in and out included.
    """
    n, c_in, oh, ow = y.shape
    c_out, kh, kw = w.shape[1:]
    ym = y.transpose(0, 2, 3, 1).reshape(n, oh * ow, c_in)
    wm = w.transpose(0, 2, 3, 1).reshape(c_in, kh * kw * c_out)
    image = np.zeros((n,) + tuple(size) + (c_out,), y.dtype)
    geom = (kh, kw, oh, ow) + tuple(stride) + (pads[0][0], pads[1][0]) + tuple(dilation)
    step = _chunk(n, oh * ow * wm.shape[1] * y.itemsize)
    for i in range(0, n, step):
        cols = ym[i:i + step].reshape(-1, c_in) @ wm
        col2im_channels_last(cols.reshape(-1, oh, ow, kh, kw, c_out), image[i:i + step], geom)
    return _to_planar(image, out)


def _conv_transpose_compiled(y, w, stride, pads, dilation, groups, size, out=None):
    """``conv_transpose`` in 2-D: one gemm per sample to columns, then compiled col2im.

    The columns come out of the gemm in im2col's own layout (rows ``(c, kh, kw)``), so
    ``col2im2d`` adds them back with no transpose; NumPy's strided adds per kernel
    position run 1.3-4x slower (LeNet's and ResNet-8's strided layers).
    """
    n, c_in = y.shape[:2]
    c_out_g = w.shape[1]
    wg = w.reshape(groups, c_in // groups, w.size // c_in)
    y4 = y.reshape(n, groups, c_in // groups, y.shape[2] * y.shape[3])
    cols = np.matmul(wg.swapaxes(1, 2), y4)
    if out is None:
        out = np.zeros((n, c_out_g * groups) + tuple(size), y.dtype)
    else:
        out[...] = 0
    geom = tuple(w.shape[2:]) + tuple(y.shape[2:]) + tuple(stride) + \
        (pads[0][0], pads[1][0]) + tuple(dilation)
    col2im2d(cols.reshape(n, cols.shape[1] * cols.shape[2], cols.shape[3]), out, geom)
    return out


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


def _conv_flipped(y, w, pads, dilation, groups, out=None):
    """Stride-1 transposed conv as a plain conv with the kernel flipped and transposed.

    Used when the input has at most twice the output's channels: then the im2col copy
    of the input costs less than col2im's adds over the output (measured 1.4-2.6x).
    """
    nd = w.ndim - 2
    return _conv(y, _flip(w, groups), (1,) * nd, pads, dilation, groups, out)


def _flip(w, groups):
    """A transposed conv's weight ``(C_in, C_out/G, *K)`` as the flipped conv's
    ``(C_out, C_in/G, *K)``."""
    c_in, c_out_g = w.shape[:2]
    nd = w.ndim - 2
    wg = w.reshape((groups, c_in // groups, c_out_g) + w.shape[2:])
    wf = wg.swapaxes(1, 2)[(Ellipsis,) + (slice(None, None, -1),) * nd]
    return np.ascontiguousarray(wf).reshape((groups * c_out_g, c_in // groups) + w.shape[2:])


def conv_weight(x, g, ksize, stride, pads, dilation, groups):
    """Gradient of ``conv`` in its weight: the correlation of input ``x`` and ``g``.

    ``g`` is ``(N, C_out, *O)``; returns ``(C_out, C/groups, *ksize)``. Split over the
    batch, each thread sums its samples' products and the partial sums are added.
    """
    n = x.shape[0]
    work = g.size * x.shape[1] // groups * math.prod(ksize)
    if work < _POSITIONS_SPLIT and _shifted_weight(x, g.shape[1], ksize, stride, pads,
                                                   dilation, groups):
        return shifted_conv2d_weight(x, g, ksize, stride, pads, dilation, ranges=_ranges(work))
    count = pieces(n, work, _SPLIT_WORK)
    if count == 1:
        return _conv_weight(x, g, ksize, stride, pads, dilation, groups)
    parts = split(lambda lo, hi: _conv_weight(x[lo:hi], g[lo:hi], ksize, stride, pads,
                                              dilation, groups), n, count, _PIECES_PER_THREAD)
    total = parts[0]
    for part in parts[1:]:
        total += part
    return total


def _shifted_weight(x, c_out, ksize, stride, pads, dilation, groups):
    """Whether ``_conv_weight`` runs by shifted products."""
    rows = x.shape[1] // groups * math.prod(ksize)
    return (rows * c_out // groups >= 1024
            and not _winograd.applies(x, c_out, ksize, stride, pads, dilation, groups)
            and _shifted(x, c_out, ksize, stride, pads, dilation, groups, _SHIFTED_WEIGHT))


def _conv_weight(x, g, ksize, stride, pads, dilation, groups):
    """``conv_weight`` in the calling thread."""
    n, c = x.shape[:2]
    c_out, rows = g.shape[1], c // groups * math.prod(ksize)
    wshape = (c_out, c // groups) + tuple(ksize)
    if rows * c_out // groups < 1024:
        # Tiny weights (e.g. a first layer on one channel): a gemm per sample, summed.
        cols, osize = im2col(x, ksize, stride, pads, dilation, groups)
        g4 = g.reshape(n, groups, c_out // groups, math.prod(osize))
        return np.matmul(g4, cols.swapaxes(-1, -2)).sum(0).reshape(wshape)
    if _winograd.applies(x, c_out, ksize, stride, pads, dilation, groups):
        return _winograd.conv2d_weight(x, g, pads)
    if _shifted(x, c_out, ksize, stride, pads, dilation, groups, _SHIFTED_WEIGHT):
        return shifted_conv2d_weight(x, g, ksize, stride, pads, dilation)
    if groups == 1 and len(ksize) == 2 and math.prod(g.shape[2:]) <= 128:
        return _conv_weight_channels_last(x, g, ksize, stride, pads, dilation)
    # Otherwise samples and positions side by side as one long inner dim: one tall gemm
    # per group and block of samples runs ~1.3-2x faster than a gemm per sample.
    view, osize = windows(x, ksize, stride, pads, dilation)
    nd, positions = len(ksize), math.prod(osize)
    view = view.reshape((n, groups, c // groups) + view.shape[2:])
    order = (1, 2) + tuple(range(3, 3 + nd)) + (0,) + tuple(range(3 + nd, 3 + 2 * nd))
    g4 = g.reshape(n, groups, c_out // groups, positions)
    gw = np.zeros((groups, rows, c_out // groups), x.dtype)
    step = _chunk(n, rows * groups * positions * x.itemsize)
    for i in range(0, n, step):
        cols = view[i:i + step].transpose(order).reshape(groups, rows, -1)
        g3 = g4[i:i + step].transpose(1, 2, 0, 3).reshape(groups, c_out // groups, -1)
        gw += np.matmul(cols, g3.swapaxes(-1, -2))
    return np.ascontiguousarray(gw.swapaxes(-1, -2)).reshape(wshape)


def _conv_weight_channels_last(x, g, ksize, stride, pads, dilation):
    """2-D ``conv_weight`` from channels-last columns, for few output positions per sample.

    With at most 128 positions the planar columns' rows are short runs; the channels-last
    ones (as in ``_conv_channels_last``) ran 1.1-1.4x faster on ResNet-8's last stage and
    LeNet's second conv (float32, one thread).
    """
    n, c = x.shape[:2]
    c_out, oh, ow = g.shape[1:]
    kh, kw = ksize
    view = _windows_channels_last(x, ksize, stride, pads, dilation, (oh, ow))
    gt = g.transpose(0, 2, 3, 1).reshape(n, oh * ow, c_out)
    gw = np.zeros((c_out, kh * kw * c), x.dtype)
    step = _chunk(n, oh * ow * kh * kw * c * x.itemsize)
    for i in range(0, n, step):
        gw += gt[i:i + step].reshape(-1, c_out).T @ view[i:i + step].reshape(-1, kh * kw * c)
    return np.ascontiguousarray(gw.reshape(c_out, kh, kw, c).transpose(0, 3, 1, 2))
