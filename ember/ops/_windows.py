"""Pooling windows: the geometry shared by max and average pooling.

``StridedWindows`` holds kernel, stride, padding, dilation and the output size, with
PyTorch's checks and rounding (``ceil_mode``); ``AdaptiveWindows`` holds the windows
of adaptive pooling. Both hand out one array per kernel offset (``candidates``), and
know where in the input plane each offset lies (``coords``, ``flat_index``).
"""

import itertools

import numpy as np

from ember._errors import fmt_shape, runtime_error, shape_error


def as_tuple(value, n, name, op):
    """An int or a sequence of 1 or ``n`` ints as a tuple of ``n`` ints."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1:
            value = tuple(value) * n
        if len(value) != n or not all(isinstance(v, (int, np.integer)) for v in value):
            raise runtime_error(op, f"{name} must either be a single int, or a tuple of {n} "
                                    f"ints, but got {name}={tuple(value)}")
        return tuple(int(v) for v in value)
    if not isinstance(value, (int, np.integer)):
        raise runtime_error(op, f"{name} must be an int or a tuple of ints, not "
                                f"{type(value).__name__}")
    return (int(value),) * n


def check_rank(op, shape, nd):
    """Pooling over ``nd`` dims takes (C, *spatial) or (N, C, *spatial) inputs."""
    if len(shape) not in (nd + 1, nd + 2) or 0 in shape[-nd - 1:]:
        names = ("L",) if nd == 1 else ("H", "W")
        spatial = ", ".join(names)
        raise shape_error(op, f"expected a non-empty {nd + 1}D (C, {spatial}) or {nd + 2}D "
                              f"(N, C, {spatial}) input, but got shape {fmt_shape(shape)}")


def pooled_size(n, k, s, p, d, ceil_mode):
    """PyTorch's output length: windows of extent d*(k-1)+1 stepping by s over n + 2p."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1  # the last window must start inside the input or the left padding
    return out


class StridedWindows:
    """Windows of a (max or average) pooling with kernel, stride, padding and dilation.

    Attributes (tuples, one entry per pooled dimension): ``kernel``, ``stride``,
    ``padding``, ``dilation``, ``in_size``, ``out_size``, and ``pad_right``: the right
    padding, larger than ``padding`` when ``ceil_mode`` lets the last window hang over.
    """

    def __init__(self, op, shape, nd, kernel_size, stride, padding, dilation, ceil_mode):
        check_rank(op, shape, nd)
        self.kernel = as_tuple(kernel_size, nd, "kernel_size", op)
        self.stride = self.kernel if stride is None or stride == () or stride == [] else \
            as_tuple(stride, nd, "stride", op)
        self.padding = as_tuple(padding, nd, "padding", op)
        self.dilation = as_tuple(dilation, nd, "dilation", op)
        self.in_size = tuple(shape[-nd:])
        extent = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation))
        self._check(op, shape, extent)
        self.out_size = tuple(pooled_size(*a, ceil_mode) for a in zip(
            self.in_size, self.kernel, self.stride, self.padding, self.dilation))
        if min(self.out_size) < 1:
            raise shape_error(op, f"the input of shape {fmt_shape(shape)} is too small for "
                                  f"{self._params()}: the output size would be "
                                  f"{fmt_shape(shape[:-nd] + self.out_size)}")
        self.pad_right = tuple(max(p, (o - 1) * s + e - n - p) for p, o, s, e, n in zip(
            self.padding, self.out_size, self.stride, extent, self.in_size))

    def _params(self):
        text = f"kernel_size={self.kernel}, stride={self.stride}, padding={self.padding}"
        return text + (f", dilation={self.dilation}" if max(self.dilation) > 1 else "")

    def _check(self, op, shape, extent):
        for name, value in (("kernel_size", self.kernel), ("stride", self.stride),
                            ("dilation", self.dilation)):
            if min(value) <= 0:
                raise runtime_error(op, f"{name} must be greater than zero, but got "
                                        f"{self._params()}")
        if any(p < 0 or p > e // 2 for p, e in zip(self.padding, extent)):
            what = "effective kernel size" if max(self.dilation) > 1 else "kernel size"
            raise runtime_error(op, f"pad should be at most half of {what}, but got "
                                    f"{self._params()} for the input of shape "
                                    f"{fmt_shape(shape)}")

    def pad(self, x, fill):
        """``x`` with its pooled dimensions padded by ``fill`` (``x`` itself if no padding)."""
        if not any(self.padding) and not any(self.pad_right):
            return x
        nd = len(self.kernel)
        lead = x.shape[:-nd]
        shape = lead + tuple(n + pl + pr for n, pl, pr in
                             zip(self.in_size, self.padding, self.pad_right))
        out = np.full(shape, fill, dtype=x.dtype)
        out[(Ellipsis,) + tuple(slice(pl, pl + n) for pl, n in
                                zip(self.padding, self.in_size))] = x
        return out

    def axis_slice(self, dim, t):
        """The slice of padded dimension ``dim`` that kernel offset ``t`` sees in each window."""
        start = t * self.dilation[dim]
        return slice(start, start + (self.out_size[dim] - 1) * self.stride[dim] + 1,
                     self.stride[dim])

    def candidates(self, x, fill):
        """One strided view per kernel offset (row-major), each of the output's shape."""
        xp = self.pad(x, fill)
        ranges = [range(k) for k in self.kernel]
        return [xp[(Ellipsis,) + tuple(self.axis_slice(dim, t) for dim, t in enumerate(ts))]
                for ts in itertools.product(*ranges)]

    def coords(self):
        """Per dimension, the input coordinate of each (offset, output) pair: (k, out)."""
        out = []
        for k, s, p, d, o, n in zip(self.kernel, self.stride, self.padding, self.dilation,
                                    self.out_size, self.in_size):
            c = np.arange(o)[None, :] * s - p + np.arange(k)[:, None] * d
            # A padded position wins only when the whole window is -inf; PyTorch then
            # reports the first position inside the input.
            out.append(np.clip(c, 0, n - 1))
        return out

    def flat_index(self, arg, best):
        """Flat plane index of the argmax: offset of the kernel position + window origin.

        Faster than the generic table lookup; falls back to it when a window that
        overlaps the padding may have chosen a padded position (its values are all -inf).
        """
        padded = any(self.padding) or any(self.pad_right)
        if padded and (best == lowest(best.dtype)).any():
            return table_index(self, arg)
        nd = len(self.kernel)
        offsets, origins, step = np.zeros(1, np.intp), np.zeros((1,) * nd, np.intp), 1
        for dim in reversed(range(nd)):
            k, d, s, o = (self.kernel[dim], self.dilation[dim], self.stride[dim],
                          self.out_size[dim])
            offsets = (np.arange(k)[:, None] * (d * step) + offsets).ravel()
            shape = (o,) + (1,) * (nd - 1 - dim)
            origins = origins + ((np.arange(o) * s - self.padding[dim]) * step).reshape(shape)
            step *= self.in_size[dim]
        index = offsets.take(arg.astype(np.intp))  # a uint8 index makes take ~10x slower
        index += origins
        return index


_CACHE = {}


def _plain(value):
    """Whether ``value`` is an int, None, or a tuple of ints (safe to key a cache by)."""
    return value is None or type(value) is int or (
        type(value) is tuple and all(type(v) is int for v in value))


def strided_windows(op, shape, nd, kernel_size, stride, padding, dilation, ceil_mode):
    """``StridedWindows(...)``, reused across calls with the same arguments.

    A model pools the same shapes every step; at batch 1 building and checking the
    windows cost as much as the pooling.
    """
    args = (kernel_size, stride, padding, dilation)
    if not all(_plain(a) for a in args) or type(ceil_mode) is not bool:
        return StridedWindows(op, shape, nd, kernel_size, stride, padding, dilation, ceil_mode)
    key = (op, shape, nd, ceil_mode) + args
    windows = _CACHE.get(key)
    if windows is None:
        windows = StridedWindows(op, shape, nd, kernel_size, stride, padding, dilation,
                                 ceil_mode)
        if len(_CACHE) < 1024:
            _CACHE[key] = windows
    return windows


class AdaptiveWindows:
    """Adaptive pooling windows: output i covers [floor(i*n/o), ceil((i+1)*n/o)).

    Windows differ in length by at most one; shorter windows repeat their last
    position to reach the longest length, which changes neither a max nor its argmax.
    """

    def __init__(self, in_size, out_size):
        self.in_size, self.out_size = tuple(in_size), tuple(out_size)
        self.bounds, self._coords = [], []
        for n, o in zip(self.in_size, self.out_size):
            i = np.arange(o)
            start, end = (i * n) // o, -((-(i + 1) * n) // o)
            t = np.arange(int((end - start).max()))[:, None]
            self.bounds.append((start, end))
            self._coords.append(np.minimum(start + t, end - 1))

    def candidates(self, x, fill=None):
        """One gathered array per window offset, each of the output's shape."""
        nd = len(self.in_size)
        grids = [c.reshape(c.shape + (1,) * (nd - 1 - dim)) for dim, c in enumerate(self._coords)]
        out = []
        for rows in itertools.product(*[range(len(c)) for c in self._coords]):
            out.append(x[(Ellipsis,) + tuple(g[r] for g, r in zip(grids, rows))])
        return out

    def coords(self):
        return self._coords

    def flat_index(self, arg, best):
        return table_index(self, arg)


def table_index(windows, arg):
    """Flat plane index of the argmax, looked up in a (K, Q) table of window positions."""
    coords = windows.coords()
    nd = len(coords)
    table = np.zeros((1,) * (2 * nd), dtype=np.int64)
    step = 1
    for dim in reversed(range(nd)):
        shape = [1] * (2 * nd)
        shape[dim], shape[nd + dim] = coords[dim].shape
        table = table + coords[dim].reshape(shape) * step
        step *= windows.in_size[dim]
    k = int(np.prod(table.shape[:nd]))
    table = table.reshape(k, -1)
    q = table.shape[1]
    return table[arg.reshape(-1, q).astype(np.intp), np.arange(q)].reshape(arg.shape)


def lowest(dtype):
    """The padding value of max pooling: -inf, or the smallest integer."""
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def adaptive_sizes(op, shape, nd, output_size):
    """The output size of an adaptive pooling; ``None`` entries keep the input's size."""
    check_rank(op, shape, nd)
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nd:
            raise runtime_error(op, f"output_size must have {nd} elements, but got "
                                    f"output_size={tuple(output_size)}")
    else:
        output_size = (output_size,) * nd
    sizes = tuple(n if o is None else int(o) for n, o in zip(shape[-nd:], output_size))
    if min(sizes) < 0:
        raise runtime_error(op, f"output_size must be non-negative, but got {output_size} "
                                f"for the input of shape {fmt_shape(shape)}")
    return sizes
