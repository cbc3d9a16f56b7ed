"""Resizing: ``interpolate`` (nearest, nearest-exact, linear, bilinear, bicubic, trilinear,
area), with PyTorch's coordinate conventions.

Every mode is separable: resizing (H, W) is resizing along W, then along H. Along one
axis each output is a weighted sum of a few input elements ("taps": 1 for nearest, 2
for linear, 4 for cubic, a window for area), and the tapped indices never decrease
along the output. So the forward is a few ``take`` passes, and the transposed map
(the backward) adds each tap's contributions with one ``add.reduceat`` over runs of
equal indices. Both directions are ops whose backward is the other one.

Coordinates follow PyTorch's CPU kernels, including their arithmetic precision (the
scale and source coordinates are computed in the input's dtype, and floored through
float32), so nearest indices agree with PyTorch even at exact boundaries.
"""

import functools

import numpy as np

from ember._errors import fmt_shape, shape_error, user_line, value_error
from ember.autograd.node import Op

__all__ = []
FUNCTIONAL = ["interpolate"]
METHODS = {}

_MODE_DIMS = {"nearest": (3, 4, 5), "nearest-exact": (3, 4, 5), "area": (3, 4),
              "linear": (3,), "bilinear": (4,), "bicubic": (4,), "trilinear": (5,)}


class AxisTaps:
    """The linear map ``out[i] = sum_t w[t, i] * x[idx[t, i]]`` along one axis.

    ``w`` is None for pure gathers; ``valid`` (T, n_out), when given, marks the taps
    that exist (windows of different lengths are padded to T taps). The transposed
    map is built on first use, in the same form: for each input, the outputs that
    tapped it and their weights, so backward costs about what forward does.
    """

    def __init__(self, axis, n_in, idx, w=None, valid=None):
        self.axis, self.n_in, self.idx, self.w, self.valid = axis, n_in, idx, w, valid
        self._transposed = None

    def is_identity(self):
        n_out = self.idx.shape[1]
        if n_out != self.n_in or self.valid is not None:
            return False
        same = self.idx == np.arange(n_out)
        if self.w is not None:
            same &= self.w == 1
            if not (same | (self.w == 0)).all():
                return False
        return bool(same.any(axis=0).all())

    def apply(self, x):
        return _tap_sum(x, self.axis, self.idx, self.w, self.valid)

    def apply_t(self, g):
        """The transposed map: each output's value added back to the inputs it tapped."""
        if self._transposed is None:
            self._transposed = _transpose(self.idx, self.w, self.valid, self.n_in)
        return _tap_sum(g, self.axis, *self._transposed)


def _tap_sum(x, axis, idx, w, valid):
    """``sum_t w[t] * x[idx[t]]`` along ``axis``, leaving out the taps that are not valid."""
    shape = (-1,) + (1,) * (-axis - 1)
    out = np.take(x, idx[0], axis=axis)
    if w is not None:
        out *= w[0].reshape(shape)
    if valid is not None and not valid[0].all():
        np.copyto(out, 0, where=~valid[0].reshape(shape))
    for t in range(1, len(idx)):
        tap = np.take(x, idx[t], axis=axis)
        if w is not None:
            tap *= w[t].reshape(shape)
        # A masked add, not a zero weight: 0 * inf would turn a sum into NaN.
        where = True if valid is None or valid[t].all() else valid[t].reshape(shape)
        np.add(out, tap, out=out, where=where)
    return out


def _transpose(idx, w, valid, n_in):
    """The taps ``(idx, w, valid)`` of the transposed map, one row per input element."""
    n_out = idx.shape[1]
    keep = np.ones(idx.shape, bool) if valid is None else valid
    outputs = np.broadcast_to(np.arange(n_out), idx.shape)[keep]
    weights = np.ones(outputs.shape) if w is None else w[keep].astype(np.float64)
    # One entry per (input, output) pair: clamped taps may repeat a pair.
    keys, inverse = np.unique(idx[keep] * n_out + outputs, return_inverse=True)
    weights = np.bincount(inverse.ravel(), weights=weights)
    rows, cols = keys // n_out, keys % n_out
    counts = np.bincount(rows, minlength=n_in)
    slot = np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]
    taps = max(int(counts.max()), 1)
    idx_t, w_t = np.zeros((taps, n_in), np.intp), np.zeros((taps, n_in))
    valid_t = np.zeros((taps, n_in), bool)
    idx_t[slot, rows], w_t[slot, rows], valid_t[slot, rows] = cols, weights, True
    w_t = None if (w_t[valid_t] == 1).all() else w_t.astype(w.dtype)
    return idx_t, w_t, (None if valid_t.all() else valid_t)


class Resample(Op):
    """Apply ``AxisTaps`` maps one after another; backward applies their transposes."""

    def forward(self, x, maps):
        self.maps = maps
        if not maps:
            return x.copy()
        for m in maps:
            x = m.apply(x)
        return x

    def backward(self, grad_out):
        return ResampleBackward.apply(grad_out, maps=self.maps)


class ResampleBackward(Op):
    """The transpose of ``Resample``; its own backward is ``Resample``."""

    def forward(self, g, maps):
        self.maps = maps
        if not maps:
            return g.copy()
        for m in reversed(maps):
            g = m.apply_t(g)
        return g

    def backward(self, grad_out):
        return Resample.apply(grad_out, maps=self.maps)


def adaptive_taps(windows, dtype):
    """Adaptive average pooling as taps: each window's elements weighted 1 / its length."""
    nd = len(windows.in_size)
    maps = []
    for dim, ((start, end), n) in enumerate(zip(windows.bounds, windows.in_size)):
        t = np.arange(int((end - start).max()))[:, None]
        idx, valid = np.minimum(start + t, end - 1), start + t < end
        w = np.broadcast_to(1.0 / (end - start), idx.shape).astype(dtype)
        maps.append(AxisTaps(dim - nd, n, idx, w, None if valid.all() else valid))
    return tuple(maps)


# --------------------------------------------------------------------------- coordinates

def _area_scale(n_in, n_out, align_corners, scale, ft):
    """PyTorch's ``area_pixel_compute_scale``: input step per output step."""
    if align_corners:
        return ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
    if scale is not None and scale > 0:
        return ft(1.0 / scale)
    return ft(n_in) / ft(n_out)


def _source(scale, n_out, align_corners, cubic, ft):
    """PyTorch's ``area_pixel_compute_source_index`` for every output index."""
    dst = np.arange(n_out, dtype=ft)
    if align_corners:
        return scale * dst
    src = scale * (dst + ft(0.5)) - ft(0.5)
    return src if cubic else np.maximum(src, ft(0))


def _floor(src):
    # PyTorch floors with floorf, i.e. through float32 even for float64 coordinates.
    return np.floor(src.astype(np.float32)).astype(np.intp)


def _nearest_taps(axis, n_in, n_out, scale, exact, nd, ft):
    if not exact and nd == 2:  # PyTorch's 2-D kernel takes these shortcuts
        if n_out == n_in:
            return AxisTaps(axis, n_in, np.arange(n_out)[None])
        if n_out == 2 * n_in:
            return AxisTaps(axis, n_in, (np.arange(n_out) >> 1)[None])
    s = _area_scale(n_in, n_out, False, scale, ft)
    if exact:
        src = np.maximum(s * (np.arange(n_out, dtype=ft) + ft(0.5)) - ft(0.5), ft(0))
        idx = _floor(src.astype(np.float64) + 0.5)
    else:
        idx = _floor(s * np.arange(n_out, dtype=ft))
    return AxisTaps(axis, n_in, np.minimum(idx, n_in - 1)[None])


def _guarded(src, n_in, ft):
    """PyTorch's ``guard_index_and_lambda``: the base index and the fraction past it."""
    idx = np.minimum(_floor(src), n_in - 1)
    lam = np.clip(src - idx.astype(ft), ft(0), ft(1))
    return idx, lam


def _linear_taps(axis, n_in, n_out, scale, align_corners, ft):
    src = _source(_area_scale(n_in, n_out, align_corners, scale, ft), n_out, align_corners,
                  False, ft)
    i0, lam = _guarded(src, n_in, ft)
    i1 = i0 + (i0 < n_in - 1)
    return AxisTaps(axis, n_in, np.stack([i0, i1]), np.stack([ft(1) - lam, lam]))


def _cubic_taps(axis, n_in, n_out, scale, align_corners, ft):
    src = _source(_area_scale(n_in, n_out, align_corners, scale, ft), n_out, align_corners,
                  True, ft)
    i, t = _guarded(src, n_in, ft)
    a = ft(-0.75)

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    w = np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)])
    idx = np.clip(i + np.arange(-1, 3)[:, None], 0, n_in - 1)
    return AxisTaps(axis, n_in, idx, w)


def _build_taps(mode, nd, axis, n_in, n_out, scale, align_corners, ft):
    if mode in ("nearest", "nearest-exact"):
        return _nearest_taps(axis, n_in, n_out, scale, mode == "nearest-exact", nd, ft)
    if mode == "bicubic":
        return _cubic_taps(axis, n_in, n_out, scale, align_corners, ft)
    if n_out == n_in:  # PyTorch's linear kernels copy an axis whose size does not change
        return AxisTaps(axis, n_in, np.arange(n_out)[None])
    return _linear_taps(axis, n_in, n_out, scale, align_corners, ft)


@functools.lru_cache(maxsize=256)  # a training loop resizes the same shapes every step
def _axis_taps(mode, nd, axis, n_in, n_out, scale, align_corners, dtype):
    """The taps along one axis, or None when the axis is left as it is."""
    ft = np.float64 if dtype == np.float64 else np.float32  # PyTorch's opmath type
    taps = _build_taps(mode, nd, axis, n_in, n_out, scale, align_corners, ft)
    if taps.is_identity():
        return None
    if taps.w is not None:
        taps.w = taps.w.astype(dtype)
    return taps


# --------------------------------------------------------------------------- interpolate

def _not_implemented(message):
    where = user_line()
    return NotImplementedError(f"interpolate: {message}" + (f" ({where})" if where else ""))


def _check_mode(shape, mode, align_corners, antialias):
    if mode not in _MODE_DIMS:
        raise _not_implemented(f"unknown mode {mode!r}; expected one of "
                               f"{', '.join(_MODE_DIMS)}")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise value_error("interpolate", "align_corners option can only be set with the "
                                         "interpolating modes: linear | bilinear | bicubic | "
                                         "trilinear")
    if antialias:
        raise _not_implemented("antialias=True is not supported")
    if len(shape) not in _MODE_DIMS[mode]:
        wanted = " or ".join(f"{d}D" for d in _MODE_DIMS[mode])
        raise _not_implemented(f"got a {len(shape)}D input of shape {fmt_shape(shape)}, but "
                               f"mode {mode!r} needs a {wanted} input (N, C, *spatial)")


def _sizes_and_scales(shape, size, scale_factor, recompute_scale_factor):
    """Output spatial sizes, and the scales the kernels use (None: from the sizes)."""
    nd, spatial = len(shape) - 2, shape[2:]
    if (size is None) == (scale_factor is None):
        raise value_error("interpolate", "exactly one of size or scale_factor should be "
                                         f"defined, got size={size}, "
                                         f"scale_factor={scale_factor}")
    if size is not None:
        if recompute_scale_factor:
            raise value_error("interpolate", "recompute_scale_factor is not meaningful with "
                                             "an explicit size.")
        sizes = tuple(size) if isinstance(size, (list, tuple)) else (size,) * nd
        if len(sizes) != nd or not all(isinstance(s, (int, np.integer)) for s in sizes):
            raise value_error("interpolate", f"size={size} must be an int or {nd} ints for "
                                             f"the input of shape {fmt_shape(shape)}")
        return tuple(int(s) for s in sizes), (None,) * nd
    scales = tuple(scale_factor) if isinstance(scale_factor, (list, tuple)) \
        else (scale_factor,) * nd
    if len(scales) != nd:
        raise value_error("interpolate", f"scale_factor={scale_factor} must be a number or "
                                         f"{nd} numbers for the input of shape "
                                         f"{fmt_shape(shape)}")
    sizes = tuple(int(n * float(s)) for n, s in zip(spatial, scales))
    return sizes, ((None,) * nd if recompute_scale_factor else tuple(map(float, scales)))


def interpolate(input, size=None, scale_factor=None, mode="nearest",  # noqa: A002
                align_corners=None, recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions of a batch by nearest, linear or cubic interpolation.

    Along each spatial axis, output index ``i`` reads input coordinate
    ``src = (i + 0.5) * in / out - 0.5`` (``i * (in - 1) / (out - 1)`` with
    ``align_corners=True``; ``in / out`` is ``1 / scale_factor`` when a scale is given
    and not recomputed). ``nearest`` takes ``floor(i * in / out)``, ``nearest-exact``
    rounds ``src``, linear modes blend the two neighbours of ``src``, ``bicubic`` four
    (Keys' kernel, a = -0.75), and ``area`` is adaptive average pooling.

    Args:
        input: tensor of shape (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        size: output spatial size (an int or one per spatial dimension).
        scale_factor: multiplier(s) for the spatial size; output = floor(in * scale).
        mode: 'nearest', 'nearest-exact', 'linear' (3-D), 'bilinear', 'bicubic' (4-D),
            'trilinear' (5-D) or 'area'.
        align_corners: for the linear and cubic modes, map the corner pixels' centres
            onto each other (default False).
        recompute_scale_factor: compute the scales from the output size rather than use
            ``scale_factor`` directly.
        antialias: not supported (must be False).

    Returns:
        Tensor of shape (N, C, *size).

    Example:
        >>> import ember
        >>> x = ember.tensor([[[0.0, 1.0, 2.0]]])
        >>> ember.nn.functional.interpolate(x, size=5, mode="linear", align_corners=True)
        tensor([[[0.0000, 0.5000, 1.0000, 1.5000, 2.0000]]])
    """
    shape = input._data.shape
    _check_mode(shape, mode, align_corners, antialias)
    if mode == "area" and size is None:
        recompute_scale_factor = True
    sizes, scales = _sizes_and_scales(shape, size, scale_factor, recompute_scale_factor)
    if min(sizes) <= 0 and mode != "area":
        raise shape_error("interpolate", f"input and output sizes should be greater than 0, "
                                         f"but got input of shape {fmt_shape(shape)} and "
                                         f"output size {sizes}")
    if mode == "area":
        # Imported here: ember.ops.avg_pool imports this module.
        from ember.ops.avg_pool import adaptive_avg_pool1d, adaptive_avg_pool2d

        pool = adaptive_avg_pool1d if len(shape) == 3 else adaptive_avg_pool2d
        return pool(input, sizes)
    dtype = input._data.dtype
    if dtype.kind != "f":
        raise _not_implemented(f"mode {mode!r} is not implemented for {input.dtype} input "
                               f"of shape {fmt_shape(shape)}; use .float()")
    nd = len(sizes)
    maps = [_axis_taps(mode, nd, dim - nd, shape[2 + dim], sizes[dim], scales[dim],
                       bool(align_corners), dtype) for dim in reversed(range(nd))]
    return Resample.apply(input, maps=tuple(m for m in maps if m is not None))
