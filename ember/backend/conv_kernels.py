"""Kernels for 2-D convolutions: compiled col2im, and shifted products.

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

``shifted_conv2d`` and ``shifted_conv2d_weight`` run a convolution and its weight's gradient
as one small BLAS product per kernel tap and block of positions, with no column matrix
(NOTE [shifted products]): OpenBLAS's ``cblas_?gemm`` called by address from compiled loops,
or through ctypes from the same loops run as Python.

Winograd's transforms are in ``ember.backend.winograd_kernels``.
"""

import ctypes
import functools
import itertools
import math
import os
import types
from typing import ClassVar

import numpy as np

from ember._threads import _loaded_libraries
from ember.backend.compiled import Kernel
from ember.backend.parallel import parallel_kernel

prange = range  # numba.prange once compiled (see ember.backend.parallel)

__all__ = ["SMALL_PRODUCT", "ShiftedGrid", "col2im2d", "col2im_channels_last",
           "shifted_conv2d", "shifted_conv2d_weight", "shifted_products_available"]


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


# ---- shifted products: 2-D convolutions without columns -----------------------------------
#
# NOTE [shifted products]: lay every channel of the input out as one flat row: each sample's
# image, its rows ``P = W + max(pad_left, pad_right)`` values apart and its images
# ``R = H + max(pad_top, pad_bottom)`` rows apart, zeros in between. Put output ``(j, oy, ox)``
# at index ``(j * R + oy) * P + ox`` of a grid of the same pitches. Then the input value a
# kernel tap ``(a, b)`` of that output reads sits at the output's index plus
# ``(a * dil_h - pad_top) * P + b * dil_w - pad_left``, the same shift for every output,
# and an out-of-image read lands on one of the zeros (the gaps are as wide as the pads).
# So the tap's share of every output is one product ``W_ab (C_out, C) @ X[:, shift:]`` over
# a strided view of the flat rows, and the convolution is ``KH * KW`` such products summed
# (a BLAS product with ``beta = 1``), with no column matrix: the grid's few positions
# outside the output (``ox >= OW`` or ``oy >= OH``) are computed and dropped. The weight's
# gradient is the same products with the output's gradient on the grid (zeros off the
# output): ``grad_W_ab (C_out, C) = G @ X[:, shift:].T``. With a stride, each phase of the
# padded input (its rows and columns from one offset, every ``stride``-th) is such an
# image, and each tap reads one phase (``ShiftedGrid``).
#
# Each product covers at most ``SMALL_PRODUCT`` multiply-adds: OpenBLAS (0.3.30, AVX-512
# kernels) runs products up to 10^6 with its small-matrix kernels, which skip packing the
# operands; with the few channels these convolutions have, packing costs more than the
# multiply (measured: ResNet-8's 16-channel 3x3 conv on 32x32 ran its 9 products per
# block 1.6x faster in blocks of 0.84M multiply-adds than of 1.1M).

SMALL_PRODUCT = 10 ** 6


class _Gemm:
    """OpenBLAS's ``cblas_sgemm`` and ``cblas_dgemm`` (64-bit integers) through ctypes."""

    found = None  # {dtype: function} once looked up
    by_address: ClassVar[dict] = {}  # {address: function} of the functions found
    names = ((np.dtype(np.float32), ("scipy_cblas_sgemm64_", "cblas_sgemm64_")),
             (np.dtype(np.float64), ("scipy_cblas_dgemm64_", "cblas_dgemm64_")))

    @classmethod
    def get(cls, dtype):
        """The product for ``dtype``, or None (no such type, or no OpenBLAS found)."""
        if cls.found is None:
            cls.found = cls._look_up()
        return cls.found.get(np.dtype(dtype))

    @classmethod
    def _look_up(cls):
        found = {}
        for path in _loaded_libraries():
            if "openblas" not in os.path.basename(path).lower():
                continue
            lib = ctypes.CDLL(path)
            for dtype, names in cls.names:
                fn = next((getattr(lib, n) for n in names if hasattr(lib, n)), None)
                if fn is not None and dtype not in found:
                    scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
                    i64, ptr = ctypes.c_int64, ctypes.c_void_p
                    fn.argtypes = [ctypes.c_int] * 3 + [i64] * 3 + [scalar, ptr, i64, ptr, i64,
                                                                    scalar, ptr, i64]
                    fn.restype = None
                    found[dtype] = fn
                    cls.by_address[ctypes.cast(fn, ctypes.c_void_p).value] = fn
        return found


def shifted_products_available(dtype):
    """True when ``shifted_conv2d``/``shifted_conv2d_weight`` can run on ``dtype`` arrays."""
    return _Gemm.get(dtype) is not None


class ShiftedGrid:
    """The flat layout of NOTE [shifted products] for ``n`` images of ``size`` (H, W).

    ``pads`` are ``(before, after)`` pairs (an ``after`` may be negative). With a stride,
    the padded image is cut into its ``stride_h * stride_w`` phases (every ``stride``-th
    row and column from each offset), each laid out as a stride-1 image with its pads in
    it: output ``(oy, ox)``'s tap ``(a, b)`` reads phase ``(a * dil_h % stride_h, b * dil_w
    % stride_w)`` at ``(oy + a * dil_h // stride_h, ox + b * dil_w // stride_w)``.

    ``rows`` and ``pitch`` are R and P; ``outputs`` is (OH, OW); ``positions`` is the grid's
    length up to its last output; ``length`` a flat row's; ``taps`` the kernel taps' phase
    and shift.
    """

    def __init__(self, n, size, ksize, stride, pads, dilation):
        (top, bottom), (left, right) = pads
        (h, w), (kh, kw), (sh, sw), (dh, dw) = size, ksize, stride, dilation
        self.n, self.size, self.stride, self.pads = n, (h, w), (sh, sw), pads
        self.outputs = ((h + top + bottom - dh * (kh - 1) - 1) // sh + 1,
                        (w + left + right - dw * (kw - 1) - 1) // sw + 1)
        if (sh, sw) == (1, 1):  # the pads are the gaps between rows and between images
            self.rows, self.pitch = h + max(top, bottom, 0), w + max(left, right, 0)
            self.lead = top * self.pitch + left  # zeros before the first image
        else:  # each phase holds its share of the pads
            self.rows = -(-(h + top + max(bottom, 0)) // sh)
            self.pitch = -(-(w + left + max(right, 0)) // sw)
            self.lead = 0
        self.taps = [((a * dh % sh) * sw + b * dw % sw,
                      a * dh // sh * self.pitch + b * dw // sw)
                     for a in range(kh) for b in range(kw)]
        oh, ow = self.outputs
        self.positions = ((n - 1) * self.rows + oh - 1) * self.pitch + ow
        self.length = self.lead + n * self.rows * self.pitch

    def fits(self):
        """True when each image's outputs fit its block of the grid (pads at most the
        kernel's reach, on at least one side of each dim)."""
        oh, ow = self.outputs
        return 0 < oh <= self.rows and 0 < ow <= self.pitch

    def waste(self):
        """Grid positions per output (1 when every position is an output)."""
        return self.rows * self.pitch / math.prod(self.outputs)

    def offsets(self, channels):
        """Where each tap's rows start in ``place``'s array of ``channels`` channels."""
        return np.array([phase * channels * self.length + shift for phase, shift in self.taps],
                        np.int64)

    def place(self, x):
        """``x (N, C, H, W)`` laid out as flat rows ``(phases * C, length)``."""
        n, c = x.shape[:2]
        sh, sw = self.stride
        flat = np.zeros((sh * sw * c, self.length), x.dtype)
        blocks = flat[:, self.lead:].reshape(sh * sw, c, n, self.rows, self.pitch)
        if (sh, sw) == (1, 1):
            blocks[0, :, :, :x.shape[2], :x.shape[3]] = x.transpose(1, 0, 2, 3)
            return flat
        (top, _), (left, _) = self.pads
        planes = x.transpose(1, 0, 2, 3)
        for p, q in itertools.product(range(sh), range(sw)):
            # Phase row i is padded row p + i * sh, image row p + i * sh - top.
            i0, j0 = max(0, -(-(top - p) // sh)), max(0, -(-(left - q) // sw))
            image = planes[:, :, p + i0 * sh - top::sh, q + j0 * sw - left::sw]
            blocks[p * sw + q, :, :, i0:i0 + image.shape[2], j0:j0 + image.shape[3]] = image
        return flat

    def place_outputs(self, g):
        """``g (N, C, OH, OW)`` on the grid ``(C, N * R * P)``, zeros off the outputs."""
        n, c = g.shape[:2]
        oh, ow = self.outputs
        flat = np.zeros((c, n * self.rows * self.pitch), g.dtype)
        flat.reshape(c, n, self.rows, self.pitch)[:, :, :oh, :ow] = g.transpose(1, 0, 2, 3)
        return flat

    def take(self, grid, out=None):
        """The outputs ``(N, C, OH, OW)`` of ``grid (C, N * R * P)`` (into ``out`` if given)."""
        oh, ow = self.outputs
        blocks = grid.reshape(grid.shape[0], self.n, self.rows, self.pitch)
        outputs = blocks[:, :, :oh, :ow].transpose(1, 0, 2, 3)
        if out is None:
            return np.ascontiguousarray(outputs)
        np.copyto(out, outputs)
        return out


def _serial(count, fn):
    """Run ``fn(0, count)``: the products' default, all in the calling thread."""
    return [fn(0, count)]


def shifted_conv2d(x, w, stride, pads, dilation, out=None, ranges=_serial):
    """``conv2d`` of ``x (N, C, H, W)`` and ``w (C_out, C, KH, KW)`` (one group) by shifted
    products (NOTE [shifted products]); into ``out`` if given.

    ``ranges(count, fn)`` runs ``fn(lo, hi)`` over ranges covering the grid's ``count``
    positions and returns the results (``ember.backend.threads.split`` runs them on
    several threads: each range writes its own columns of the grid).
    """
    c_out, c = w.shape[:2]
    grid = ShiftedGrid(x.shape[0], x.shape[2:], w.shape[2:], stride, pads, dilation)
    flat = grid.place(x)
    # (KH, KW, C_out, C), in x's type: the products read it by address
    taps = np.ascontiguousarray(w.transpose(2, 3, 0, 1), x.dtype)
    result = np.empty((c_out, x.shape[0] * grid.rows * grid.pitch), x.dtype)
    offsets, step = grid.offsets(c), _block(c * c_out)
    ranges(grid.positions, lambda lo, hi: _run(
        _forward_products, x.dtype, taps.ctypes.data, flat.ctypes.data, result.ctypes.data,
        c_out, c, flat.shape[1], result.shape[1], lo, hi, step, offsets))
    return grid.take(result, out)


def shifted_conv2d_weight(x, g, ksize, stride, pads, dilation, ranges=_serial):
    """The weight's gradient ``(C_out, C, KH, KW)`` of a ``conv2d`` of ``x`` with output
    gradient ``g (N, C_out, OH, OW)`` (one group), by shifted products; ``ranges`` as in
    ``shifted_conv2d`` (each range sums into its own array, added at the end)."""
    c, c_out = x.shape[1], g.shape[1]
    grid = ShiftedGrid(x.shape[0], x.shape[2:], ksize, stride, pads, dilation)
    flat, outs = grid.place(x), grid.place_outputs(g.astype(x.dtype, copy=False))
    offsets, step = grid.offsets(c), _block(c * c_out)

    def products(lo, hi):
        taps = np.zeros((len(grid.taps), c_out, c), x.dtype)
        _run(_weight_products, x.dtype, outs.ctypes.data, flat.ctypes.data, taps.ctypes.data,
             c_out, c, outs.shape[1], flat.shape[1], lo, hi, step, offsets)
        return taps

    parts = ranges(grid.positions, products)
    taps = parts[0]
    for part in parts[1:]:
        taps += part
    return np.ascontiguousarray(taps.reshape(tuple(ksize) + (c_out, c)).transpose(2, 3, 0, 1))


def _block(per_position):
    """Grid positions per product: at most SMALL_PRODUCT multiply-adds."""
    return max(1, SMALL_PRODUCT // per_position)


def _run(loop, dtype, *args):
    """``loop`` compiled if it can be, else as Python (the same products in the same order)."""
    fn = _Gemm.get(dtype)
    address, double = ctypes.cast(fn, ctypes.c_void_p).value, int(dtype == np.float64)
    if loop.ready():
        loop(address, double, dtype.itemsize, *args)
    else:
        loop.py_func(address, double, dtype.itemsize, *args)


# The loops over blocks and taps run in compiled code when Numba is installed: the GIL is
# released once per loop instead of once per product, so the pieces of a split
# (``ember.backend.threads``) do not take turns at it between their products.


class _GemmLoop(Kernel):
    """A kernel calling ``_gemm_at``: compiled, a call to the BLAS function by address.

    Numba compiles a copy of the function whose globals see ``_gemm_at`` as an intrinsic,
    so the module's own ``_gemm_at`` keeps its Python meaning for the uncompiled path.
    """

    __slots__ = ()

    def _compile(self):
        import numba

        py = self.py_func
        scope = {**py.__globals__, "_gemm_at": _gemm_intrinsic()}
        copy = types.FunctionType(py.__code__, scope, py.__name__, py.__defaults__,
                                  py.__closure__)
        copy.__qualname__, copy.__module__ = py.__qualname__, py.__module__
        return numba.njit(**{"cache": True, "nogil": True, **self.options})(copy)


def _gemm_at(address, double, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc):
    """Row-major ``c = a @ op(b) + beta * c`` by the ``cblas_?gemm`` at ``address`` (its
    plain-Python meaning, through ctypes; compiled loops call the address directly).

    ``a``, ``b``, ``c`` are addresses; ``trans_b`` is CblasNoTrans (111) or CblasTrans (112).
    """
    fn = _Gemm.by_address[address]
    fn(101, 111, trans_b, m, n, k, 1.0, int(a), lda, int(b), ldb, beta, int(c), ldc)


@functools.cache
def _gemm_intrinsic():
    """``_gemm_at`` as a Numba intrinsic (LLVM code: an indirect call of the address)."""
    from llvmlite import ir
    from numba.core import types as nb
    from numba.core.extending import intrinsic

    i32, i64 = ir.IntType(32), ir.IntType(64)

    @intrinsic
    def gemm_at(typingctx, address, double, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc):
        sig = nb.void(*([nb.int64] * 10 + [nb.float64] + [nb.int64] * 2))

        def codegen(context, builder, signature, args):
            address, double, trans_b, m, n, k, a, lda, b, ldb, beta, c, ldc = args
            with builder.if_else(builder.icmp_signed("!=", double, i64(0))) as (dbl, sgl):
                for branch, scalar in ((dbl, ir.DoubleType()), (sgl, ir.FloatType())):
                    with branch:
                        ptr = scalar.as_pointer()
                        fn_type = ir.FunctionType(ir.VoidType(), [i32] * 3 + [i64] * 3 + [
                            scalar, ptr, i64, ptr, i64, scalar, ptr, i64])
                        scaled = beta if scalar == ir.DoubleType() else builder.fptrunc(
                            beta, scalar)
                        # CblasRowMajor = 101, CblasNoTrans = 111
                        builder.call(builder.inttoptr(address, fn_type.as_pointer()), [
                            i32(101), i32(111), builder.trunc(trans_b, i32), m, n, k,
                            ir.Constant(scalar, 1.0), builder.inttoptr(a, ptr), lda,
                            builder.inttoptr(b, ptr), ldb, scaled, builder.inttoptr(c, ptr), ldc])
            return context.get_dummy_value()

        return sig, codegen

    return gemm_at


def _loop(py_func):
    return _GemmLoop(py_func, {})


@_loop
def _forward_products(address, double, item, w, x, out, c_out, c, ld_x, ld_out, first, last,
                      step, taps):
    """``out[:, p] = sum_t w_t @ x[:, p + taps[t]]`` over grid positions ``first <= p < last``
    (addresses ``w`` of ``(T, C_out, C)``, ``x`` of ``(C, ld_x)``, ``out`` of ``(C_out,
    ld_out)``)."""
    for start in range(first, last, step):
        count = min(step, last - start)
        for t in range(taps.shape[0]):
            _gemm_at(address, double, 111, c_out, count, c, w + t * c_out * c * item, c,
                     x + (start + taps[t]) * item, ld_x, 1.0 if t else 0.0,
                     out + start * item, ld_out)


@_loop
def _weight_products(address, double, item, g, x, w, c_out, c, ld_g, ld_x, first, last, step,
                     taps):
    """``w_t += g[:, p] @ x[:, p + taps[t]].T`` summed over grid positions ``first <= p <
    last`` (addresses ``g`` of ``(C_out, ld_g)``, ``x`` of ``(C, ld_x)``, ``w`` of ``(T,
    C_out, C)``)."""
    for start in range(first, last, step):
        count = min(step, last - start)
        for t in range(taps.shape[0]):
            _gemm_at(address, double, 112, c_out, c, count, g + start * item, ld_g,
                     x + (start + taps[t]) * item, ld_x, 1.0, w + t * c_out * c * item, c)
