"""Padding: ``F.pad`` (constant, reflect, replicate, circular) and ``torch.constant_pad_nd``.

``pad`` lists (left, right) amounts starting from the last dimension, as PyTorch does;
negative amounts crop. Constant padding is its own transpose with the amounts
negated. The other modes copy, along each padded axis, a few runs of the input that
each step by +1, -1 or 0 (a reflected border, a wrapped border, a repeated edge);
their backward adds the gradient of every run back onto the elements it copied.
"""

import numpy as np

from ember._errors import fmt_shape, runtime_error, shape_error, user_line
from ember.autograd.node import Op

__all__ = ["constant_pad_nd"]
FUNCTIONAL = ["pad"]
METHODS = {}

_MODES = ("constant", "reflect", "replicate", "circular")


class ConstantPad(Op):
    """Pad the last ``len(pads)`` axes with ``value`` (negative amounts crop)."""

    def forward(self, x, pads, value):
        self.pads = pads
        k = len(pads)
        sizes = x.shape[x.ndim - k:]
        src = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(pads, sizes))
        dst = tuple(slice(max(lo, 0), max(lo, 0) + s.stop - s.start)
                    for (lo, _), s in zip(pads, src))
        shape = x.shape[:x.ndim - k] + tuple(n + lo + hi for (lo, hi), n in zip(pads, sizes))
        out = np.empty(shape, dtype=x.dtype)
        out[(Ellipsis,) + dst] = x[(Ellipsis,) + src]
        for d, s in enumerate(dst):  # fill only the borders: the core is written once
            lead, tail = (Ellipsis,) + (slice(None),) * d, (slice(None),) * (k - d - 1)
            out[lead + (slice(0, s.start),) + tail] = value
            out[lead + (slice(s.stop, None),) + tail] = value
        return out

    def backward(self, grad_out):
        return ConstantPad.apply(grad_out, pads=tuple((-lo, -hi) for lo, hi in self.pads),
                                 value=0)


def _take_run(x, axis, start, length, step):
    index = [slice(None)] * x.ndim
    if step == 0:
        index[axis] = slice(start, start + 1)
        shape = list(x.shape)
        shape[axis] = length
        return np.broadcast_to(x[tuple(index)], shape)
    stop = start + step * length
    index[axis] = slice(start, stop if stop >= 0 else None, step)
    return x[tuple(index)]


class RunPad(Op):
    """Build each padded axis from runs ``(start, length, step)`` of the input's elements."""

    def forward(self, x, runs):
        self.runs, self.in_shape = runs, x.shape
        for axis, axis_runs in runs:
            x = np.concatenate([_take_run(x, axis, *run) for run in axis_runs], axis=axis)
        return x

    def backward(self, grad_out):
        return RunPadBackward.apply(grad_out, runs=self.runs, in_shape=self.in_shape)


class RunPadBackward(Op):
    """The transpose of ``RunPad``: each run's gradient is added back where it was read."""

    def forward(self, g, runs, in_shape):
        self.runs = runs
        for axis, axis_runs in reversed(runs):
            shape = list(g.shape)
            shape[axis] = in_shape[axis]
            out = np.zeros(shape, dtype=g.dtype)
            pos = 0
            for start, length, step in axis_runs:
                index = [slice(None)] * g.ndim
                index[axis] = slice(pos, pos + length)
                piece = g[tuple(index)]
                pos += length
                if step == 0:  # a repeated edge element collects the whole run
                    piece = piece.sum(axis=axis, keepdims=True)
                    length, step = 1, 1
                target = _take_run(out, axis, start, length, step)
                target += piece  # a basic-slice view, so the sum lands in out
            g = out
        return g

    def backward(self, grad_out):
        return RunPad.apply(grad_out, runs=self.runs)


def _runs(mode, n, lo, hi, what):
    """The runs (start, length, step) that make a padded axis of length n + lo + hi."""
    start, stop = max(-lo, 0), n - max(-hi, 0)
    core = (start, stop - start, 1)
    if mode == "reflect":
        if lo >= n or hi >= n:
            raise runtime_error("pad", f"padding size should be less than the corresponding "
                                       f"input dimension, but got padding ({lo}, {hi}) at {what}")
        return [r for r in ((lo, lo, -1), core, (n - 2, hi, -1)) if r[1] > 0]
    if mode == "replicate":
        return [r for r in ((0, lo, 0), core, (n - 1, hi, 0)) if r[1] > 0]
    if lo > stop - start or hi > stop - start:
        raise runtime_error("pad", f"padding value causes wrapping around more than once: "
                                   f"padding ({lo}, {hi}) at {what}")
    return [r for r in ((stop - lo, lo, 1), core, (start, hi, 1)) if r[1] > 0]


def _pairs(input, pad):  # noqa: A002
    """``pad`` as ((left, right), ...) for the padded dims in order (the last one last)."""
    shape = input._data.shape
    if not isinstance(pad, (list, tuple)) or not all(
            isinstance(p, (int, np.integer)) for p in pad):
        raise TypeError(f"pad: argument 'pad' must be a tuple of ints, but got {pad!r}")
    if len(pad) % 2:
        raise runtime_error("pad", f"padding length must be divisible by 2, but got pad={pad}")
    if len(pad) > 2 * len(shape):
        raise runtime_error("pad", f"padding length should be less than or equal to two times "
                                   f"the input dimension but got padding length {len(pad)} "
                                   f"and input of shape {fmt_shape(shape)}")
    pairs = tuple((int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2))[::-1]
    sizes = shape[len(shape) - len(pairs):]
    for d, ((lo, hi), n) in enumerate(zip(pairs, sizes)):
        if n + lo + hi < 0 or n - max(-lo, 0) - max(-hi, 0) < 0:
            raise shape_error("pad", f"padding ({lo}, {hi}) of dimension "
                                     f"{len(shape) - len(pairs) + d} of the input of shape "
                                     f"{fmt_shape(shape)} leaves a negative size")
    return pairs


def constant_pad_nd(input, pad, value=0):  # noqa: A002
    """Pad with ``value``; ``pad`` = (left, right) pairs starting from the last dimension."""
    return ConstantPad.apply(input, pads=_pairs(input, pad), value=value)


def pad(input, pad, mode="constant", value=None):  # noqa: A002
    """Pad (or, with negative amounts, crop) the last dimensions of a tensor.

    ``pad = (left_last, right_last, left_2nd_last, right_2nd_last, ...)``. Modes:
    ``constant`` fills with ``value``; ``reflect`` mirrors without repeating the edge
    (``[2 1 | 0 1 2 3]``); ``replicate`` repeats the edge (``[0 0 | 0 1 2 3]``);
    ``circular`` wraps around (``[2 3 | 0 1 2 3]``).

    Args:
        input: any tensor for ``constant``; for the other modes, 2-D or 3-D input with 2
            pad values, 3-D or 4-D with 4, 4-D or 5-D with 6.
        pad: an even number of ints, at most two per dimension.
        mode: 'constant', 'reflect', 'replicate' or 'circular'.
        value: the fill value of ``constant`` mode (default 0).

    Returns:
        Tensor whose padded dimensions have size ``n + left + right``.

    Example:
        >>> import ember
        >>> ember.nn.functional.pad(ember.arange(4.0).reshape(1, 4), (2, 1), mode="reflect")
        tensor([[2., 1., 0., 1., 2., 3., 2.]])
    """
    if mode not in _MODES:
        raise NotImplementedError(f"pad: unrecognised padding mode {mode!r}; expected one of "
                                  f"{', '.join(_MODES)}")
    if mode == "constant":
        return constant_pad_nd(input, pad, 0 if value is None else value)
    if value is not None and value != 0:
        raise runtime_error("pad", f'padding mode "{mode}" doesn\'t take in value argument')
    pairs = _pairs(input, pad)
    shape = input._data.shape
    if len(pairs) not in (1, 2, 3) or len(shape) not in (len(pairs) + 1, len(pairs) + 2):
        where = user_line()
        raise NotImplementedError(
            f"pad: padding size {len(pad)} is not supported for {len(shape)}D input of shape "
            f"{fmt_shape(shape)} in mode {mode!r}; supported: 2D or 3D input with 2 values, "
            f"3D or 4D with 4, 4D or 5D with 6" + (f" ({where})" if where else ""))
    runs = []
    for d, (lo, hi) in enumerate(pairs):
        axis = len(shape) - len(pairs) + d
        what = f"dimension {axis} of the input of shape {fmt_shape(shape)}"
        if mode != "circular" and shape[axis] + lo + hi <= 0:
            raise shape_error("pad", f"padding ({lo}, {hi}) leaves no elements in {what}")
        runs.append((axis, tuple(_runs(mode, shape[axis], lo, hi, what))))
    return RunPad.apply(input, runs=tuple(runs[::-1]))
