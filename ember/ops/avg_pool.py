"""Average pooling: ``avg_pool1d/2d`` and ``adaptive_avg_pool1d/2d``.

An average pool is linear and separable: the sum over a window is a sum along W of
sums along H. Each 1-D window sum is ``k`` elementwise passes over strided slices,
so a (kH, kW) kernel costs kH + kW passes, not kH * kW. Backward is the transposed
map (spread ``grad / divisor`` back over each window), itself an op whose backward
is the average pool again, so every order of gradient works.
"""

import numpy as np

from ember._errors import fmt_shape, runtime_error
from ember.autograd.node import Op
from ember.ops._windows import AdaptiveWindows, StridedWindows, adaptive_sizes, check_rank
from ember.ops.pool import EmptyPool, adaptive_max_pool1d_with_indices
from ember.ops.resize import Resample, adaptive_taps

__all__ = ["adaptive_avg_pool1d", "adaptive_max_pool1d", "avg_pool1d"]
FUNCTIONAL = ["avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d"]
METHODS = {}


def _axis_slice(ndim, axis, start, step, count):
    index = [slice(None)] * ndim
    index[axis] = slice(start, start + (count - 1) * step + 1, step)
    return tuple(index)


def _window_sum(x, axis, k, s, n_out):
    """Sum of each length-``k`` window along ``axis``, windows ``s`` apart."""
    if k == 1:
        return x[_axis_slice(x.ndim, axis, 0, s, n_out)]
    out = np.add(x[_axis_slice(x.ndim, axis, 0, s, n_out)],
                 x[_axis_slice(x.ndim, axis, 1, s, n_out)])
    for t in range(2, k):
        out += x[_axis_slice(x.ndim, axis, t, s, n_out)]
    return out


def _window_sum_t(g, axis, k, s, n_in):
    """The transpose of ``_window_sum``: add each output to every element of its window."""
    n_out = g.shape[axis]
    if k == s and n_in == k * n_out:  # windows tile the axis: each element has one window
        return np.repeat(g, k, axis=axis)
    shape = list(g.shape)
    shape[axis] = n_in
    out = np.zeros(shape, dtype=g.dtype)
    for t in range(k):
        out[_axis_slice(g.ndim, axis, t, s, n_out)] += g
    return out


def _divisor(windows, count_include_pad, divisor_override, dtype):
    """What each window's sum is divided by: a number, or an array of the output's shape."""
    if divisor_override is not None:
        return dtype.type(divisor_override)
    nd = len(windows.kernel)
    total = np.ones((1,) * nd, dtype=np.int64)
    for dim, (k, s, p, n, o) in enumerate(zip(windows.kernel, windows.stride, windows.padding,
                                             windows.in_size, windows.out_size)):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)  # the right padding from ceil_mode never counts
        if count_include_pad:
            size = end - start
        else:
            size = np.minimum(end, n) - np.maximum(start, 0)
        total = total * size.reshape((o,) + (1,) * (nd - 1 - dim))
    if (total == total.flat[0]).all():
        return dtype.type(total.flat[0])
    return total.astype(dtype)


def _divide(sums, divisor, source):
    """``sums / divisor``, in place when ``sums`` is a fresh array; ints truncate (PyTorch)."""
    if sums.dtype.kind != "f":
        quotient = np.abs(sums) // divisor
        return (quotient * np.sign(sums)).astype(sums.dtype)
    if np.may_share_memory(sums, source):
        return sums / divisor
    sums /= divisor
    return sums


class AvgPool(Op):
    """Window sums divided by ``divisor``; the backward spreads the gradient back."""

    def forward(self, x, windows, divisor):
        self.windows, self.divisor, self.in_shape = windows, divisor, x.shape
        out = windows.pad(x, 0)
        nd = len(windows.kernel)
        for dim in range(nd):
            out = _window_sum(out, dim - nd, windows.kernel[dim], windows.stride[dim],
                              windows.out_size[dim])
        return _divide(out, divisor, x)

    def backward(self, grad_out):
        return AvgPoolBackward.apply(grad_out, windows=self.windows, divisor=self.divisor,
                                     in_shape=self.in_shape)


class AvgPoolBackward(Op):
    """The transpose of ``AvgPool``; its own backward is ``AvgPool``."""

    def forward(self, g, windows, divisor, in_shape):
        self.windows, self.divisor = windows, divisor
        out = g / divisor
        nd = len(windows.kernel)
        for dim in range(nd):
            n_padded = windows.in_size[dim] + windows.padding[dim] + windows.pad_right[dim]
            out = _window_sum_t(out, dim - nd, windows.kernel[dim], windows.stride[dim],
                                n_padded)
        crop = tuple(slice(p, p + n) for p, n in zip(windows.padding, windows.in_size))
        return out[(Ellipsis,) + crop]

    def backward(self, grad_out):
        return AvgPool.apply(grad_out, windows=self.windows, divisor=self.divisor)


def _avg_pool(op, nd, input, kernel_size, stride, padding, ceil_mode,  # noqa: A002
              count_include_pad, divisor_override):
    windows = StridedWindows(op, input._data.shape, nd, kernel_size, stride, padding, 1,
                             ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise runtime_error(op, "divisor must be not zero")
    dtype = input._data.dtype
    divisor = _divisor(windows, count_include_pad, divisor_override,
                       dtype if dtype.kind == "f" else np.dtype(np.int64))
    return AvgPool.apply(input, windows=windows, divisor=divisor)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True):
    """1-D average pooling along the last dimension.

    ``out[..., i] = sum_{j<k} x_pad[..., i * stride + j] / divisor`` with zero padding;
    the divisor is ``k`` (clipped at the padded ends) or, with
    ``count_include_pad=False``, the number of input elements in the window.

    Args:
        input: tensor of shape (N, C, L) or (C, L).
        kernel_size: window length. stride: step between windows (default kernel_size).
        padding: zeros added on both sides, at most half the kernel.
        ceil_mode: round the output length up.
        count_include_pad: count the padding zeros in the divisor.

    Returns:
        Tensor of shape (N, C, L_out).
    """
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,  # noqa: A002
               count_include_pad=True, divisor_override=None):
    """2-D average pooling over the last two dimensions.

    ``out[..., i, j] = sum_{a<kH, b<kW} x_pad[..., i*sH + a, j*sW + b] / divisor``.

    Args:
        input: tensor of shape (N, C, H, W) or (C, H, W).
        kernel_size, stride, padding: an int or a pair (H, W) each; stride defaults to
            kernel_size; padding (zeros) at most half the kernel.
        ceil_mode: round the output size up.
        count_include_pad: count the padding zeros in the divisor.
        divisor_override: divide every window by this number instead.

    Returns:
        Tensor of shape (N, C, H_out, W_out).

    Example:
        >>> import ember
        >>> ember.nn.functional.avg_pool2d(ember.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _adaptive_avg(op, nd, input, output_size):  # noqa: A002
    shape = input._data.shape
    check_rank(op, shape, nd)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"{op}: not implemented for {input.dtype} input of shape "
                                  f"{fmt_shape(shape)}; convert it with .float()")
    out = adaptive_sizes(op, shape, nd, output_size)
    in_size = shape[-nd:]
    if min(out) == 0:
        return EmptyPool.apply(input, shape=shape[:-nd] + out, with_index=False)
    if out == (1,) * nd:  # global average pooling
        return input.mean(tuple(range(-nd, 0)), keepdim=True)
    if all(n % o == 0 for n, o in zip(in_size, out)):
        k = tuple(n // o for n, o in zip(in_size, out))
        windows = StridedWindows(op, shape, nd, k, k, 0, 1, False)
        divisor = input._data.dtype.type(np.prod(k))
        return AvgPool.apply(input, windows=windows, divisor=divisor)
    maps = adaptive_taps(AdaptiveWindows(in_size, out), input._data.dtype)
    return Resample.apply(input, maps=maps)


def adaptive_avg_pool1d(input, output_size):  # noqa: A002
    """1-D adaptive average pooling: output i averages [floor(i*L/o), ceil((i+1)*L/o)).

    Args:
        input: tensor of shape (N, C, L) or (C, L).
        output_size: the output length o.

    Returns:
        Tensor of shape (N, C, o).
    """
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size):  # noqa: A002
    """2-D adaptive average pooling, windows computed per dimension as in 1-D.

    Args:
        input: tensor of shape (N, C, H, W) or (C, H, W).
        output_size: an int or a pair (oH, oW); a None entry keeps that input size.

    Returns:
        Tensor of shape (N, C, oH, oW).
    """
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


# NOTE [torch.adaptive_max_pool1d]: at top level PyTorch's adaptive_max_pool1d always
# returns (values, indices), unlike F.adaptive_max_pool1d. ember exports a family's
# names by attribute, so the two same-named functions must live in two modules: the
# functional one in ember.ops.pool, this top-level one here.
def adaptive_max_pool1d(input, output_size):  # noqa: A002
    """``torch.adaptive_max_pool1d``: ``(values, indices)`` of 1-D adaptive max pooling."""
    return adaptive_max_pool1d_with_indices(input, output_size)
