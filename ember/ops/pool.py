"""Max pooling: ``max_pool1d/2d``, ``adaptive_max_pool1d/2d`` and ``max_unpool1d/2d``.

Pooling acts on the last one or two dimensions; any dimensions before them (batch,
channels, or just channels for unbatched input) are independent planes.

The forward takes the maximum over the K positions of a window as K elementwise
passes over strided slices of the (padded) input, one slice per kernel offset. For
the small kernels of CNNs this is several times faster than reducing over a
``sliding_window_view`` (NumPy reduces strided 6-d views slowly), and it yields the
argmax cheaply: the index of the first offset whose value equals the maximum, which
is the element PyTorch picks when a window holds ties.

With compiled kernels (``ember.backend.pool_kernels``), the CNN's 2x2 stride-2 pooling
takes each window's max and where in the window it was in one loop, its backward writes
each input element once, and the scatter below is one add per output instead of
``np.add.at``. Flat indices are then made only when asked for (``return_indices``,
gradients of higher order).

Backward scatters the gradient to the argmax positions (``PlaneScatter``); the
backward of that scatter is the gather at the same positions (``PlaneGather``), and
the other way round, so gradients of any order work.
"""

import numpy as np

from ember._errors import fmt_shape, index_error, runtime_error, shape_error, value_error
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.backend.pool_kernels import max_pool2x2, scatter_add_planes, unpool2x2
from ember.backend.threads import pieces, split
from ember.ops._windows import (
    AdaptiveWindows,
    StridedWindows,
    adaptive_sizes,
    as_tuple,
    check_rank,
    lowest,
    strided_windows,
)
from ember.tensor import Tensor

__all__ = ["max_pool1d", "max_pool1d_with_indices", "max_pool2d"]
FUNCTIONAL = ["max_pool1d", "max_pool2d", "max_pool1d_with_indices", "max_pool2d_with_indices",
              "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
              "adaptive_max_pool2d_with_indices", "max_unpool1d", "max_unpool2d"]
METHODS = {}

# Compiled kernels over at least this many elements (the pooled input; the scattered
# output) run pieces of the planes on every thread (``ember.backend.threads``). These
# passes are bound by memory: two threads ran LeNet's first pool (300K elements, 0.19 ms)
# 1.25x faster, and its backward scatter slower (0.1 ms, zeroing included).
_SPLIT_SIZE = 1 << 18
_SPLIT_SCATTER = 1 << 20


# --------------------------------------------------------------------------- max kernel

def _max_and_arg(cands, need_arg):
    """Elementwise max of the candidates and the index of the first one equal to it."""
    best = cands[0].copy()
    for c in cands[1:]:
        np.maximum(best, c, out=best)
    if not need_arg:
        return best, None
    arg_dtype = np.uint8 if len(cands) < 256 else np.int64
    if len(cands) == 1:
        return best, np.zeros(best.shape, arg_dtype)
    # arg = how many leading candidates differ from the max: the first equal one's index.
    differs = cands[0] != best
    arg = differs.astype(arg_dtype)
    for c in cands[1:-1]:
        differs &= c != best
        arg += differs
    if best.dtype.kind == "f":
        nan = np.isnan(best)
        if nan.any():  # PyTorch lets the last NaN of a window win
            for o, c in enumerate(cands):
                arg[nan & np.isnan(c)] = o
    return best, arg


def max_over_windows(x, windows, need_index):
    """Max over each window, and (if asked) its flat index in the input plane (int64)."""
    if x.dtype == np.bool_:
        raise runtime_error("max_pool", "max pooling is not implemented for bool tensors")
    best, arg = _max_and_arg(windows.candidates(x, lowest(x.dtype)), need_index)
    return best, (windows.flat_index(arg, best) if need_index else None)


def _is_2x2(windows):
    """Whether the windows are the CNN's 2x2 tiles (stride 2, no padding or overhang)."""
    return (isinstance(windows, StridedWindows) and windows.kernel == (2, 2)
            and windows.stride == (2, 2) and windows.dilation == (1, 1)
            and not any(windows.padding) and not any(windows.pad_right))


def _compiled_2x2(x, windows):
    """Whether the compiled 2x2 kernels pool ``x`` over ``windows``."""
    return _is_2x2(windows) and x.dtype.char in "fd" and max_pool2x2.ready()


def _compiled_max(x, windows):
    """The max of each 2x2 window by the compiled kernel, and its code (``max_pool2x2``)."""
    planes = x.reshape((-1,) + windows.in_size)
    best = np.empty((planes.shape[0],) + windows.out_size, x.dtype)
    code = np.empty(best.shape, x.dtype)
    split(lambda lo, hi: max_pool2x2(planes[lo:hi], best[lo:hi], code[lo:hi]),
          len(planes), pieces(len(planes), x.size, _SPLIT_SIZE))
    shape = x.shape[:-2] + windows.out_size
    return best.reshape(shape), code.reshape(shape)


def code_index(code, width):
    """Flat indices ``iy * width + ix`` into the input planes from ``max_pool2x2``'s codes."""
    k = code.astype(np.int64)
    oy = np.arange(code.shape[-2], dtype=np.int64)[:, None]
    ox = np.arange(code.shape[-1], dtype=np.int64)
    return (2 * oy + (k >> 1)) * width + 2 * ox + (k & 1)


def _unpool(grad, code, shape):
    """``unpool2x2`` over all planes: the 2x2 max pool's gradient, of ``shape``."""
    out = np.empty(shape, grad.dtype)
    planes = out.reshape((-1,) + shape[-2:])
    g = grad.reshape((-1,) + grad.shape[-2:])
    where = code.reshape(g.shape)
    split(lambda lo, hi: unpool2x2(g[lo:hi], where[lo:hi], planes[lo:hi]),
          len(planes), pieces(len(planes), out.size, _SPLIT_SCATTER))
    return out


class MaxPool(Op):
    """Max over windows; backward scatters the gradient to each window's argmax."""

    def forward(self, x, windows, need_index, return_indices):
        self.in_shape, self.nd = x.shape, len(windows.in_size)
        self.code = self.index = None
        if _compiled_2x2(x, windows):
            out, self.code = _compiled_max(x, windows)
        else:
            out, self.index = max_over_windows(x, windows, need_index)
        # The user may change the returned indices in place; backward keeps its own.
        return (out, self.flat_index().copy()) if return_indices else out

    def flat_index(self):
        """Each window's argmax as an int64 flat index into its input plane."""
        if self.index is None:
            self.index = code_index(self.code, self.in_shape[-1])
        return self.index

    def backward(self, grad_out, grad_index=None):
        if self.code is not None and not GradMode.enabled:  # no graph of the gradient
            return Tensor._make(self.grad_array(grad_out._data))
        return PlaneScatter.apply(grad_out, index=self.flat_index(), shape=self.in_shape,
                                  nd=self.nd, accumulate=True)

    def grad_array(self, grad):
        """The input's gradient as an array, from the output's ``grad`` (an array)."""
        if self.code is not None and grad.dtype == self.code.dtype:
            return _unpool(grad, self.code, self.in_shape)
        return _scatter(grad, self.flat_index(), self.in_shape, self.nd, accumulate=True)


def _scatter(values, index, shape, nd, accumulate):
    size = int(np.prod(shape, dtype=np.int64))
    if (accumulate and index.dtype == np.int64 and values.dtype.char in "fd"
            and scatter_add_planes.ready()):
        out = np.empty(size, dtype=values.dtype)
        planes = out.reshape(-1, int(np.prod(shape[len(shape) - nd:], dtype=np.int64)))
        vals = values.reshape(planes.shape[0], -1)
        where = index.reshape(planes.shape[0], -1)

        def piece(lo, hi):
            # Each thread zeroes its own planes: the first touch of a fresh array's pages
            # is a large part of the cost.
            planes[lo:hi] = 0
            scatter_add_planes(vals[lo:hi], where[lo:hi], planes[lo:hi])

        split(piece, len(planes), pieces(len(planes), size, _SPLIT_SCATTER))
        return out.reshape(shape)
    out = np.zeros(size, dtype=values.dtype)
    where = _global_index(index, shape, nd)
    if accumulate:
        np.add.at(out, where, values.ravel())
    else:  # repeated indices: the last value wins, as in PyTorch's CPU max_unpool
        out[where] = values.ravel()
    return out.reshape(shape)


def _global_index(index, shape, nd):
    """Flat indices into the whole array from flat indices into each plane."""
    planes = int(np.prod(shape[:len(shape) - nd], dtype=np.int64))
    plane_size = int(np.prod(shape[len(shape) - nd:], dtype=np.int64))
    offsets = np.arange(0, planes * plane_size, plane_size, dtype=np.int64)
    return (index.reshape(planes, -1) + offsets[:, None]).ravel()


class PlaneScatter(Op):
    """Write (or add) values into zeros of ``shape`` at flat per-plane indices."""

    def forward(self, values, index, shape, nd, accumulate):
        self.index, self.nd = index, nd
        return _scatter(values, index, shape, nd, accumulate)

    def backward(self, grad_out):
        return PlaneGather.apply(grad_out, index=self.index, nd=self.nd)


class PlaneGather(Op):
    """Read values at flat per-plane indices (the adjoint of ``PlaneScatter``)."""

    def forward(self, x, index, nd):
        self.index, self.nd, self.in_shape = index, nd, x.shape
        return x.reshape(-1)[_global_index(index, x.shape, nd)].reshape(index.shape)

    def backward(self, grad_out):
        return PlaneScatter.apply(grad_out, index=self.index, shape=self.in_shape, nd=self.nd,
                                  accumulate=True)


class EmptyPool(Op):
    """An adaptive pooling to an output size of 0: an empty result, a zero gradient."""

    def forward(self, x, shape, with_index):
        self.in_shape = x.shape
        out = np.zeros(shape, dtype=x.dtype)
        return (out, np.zeros(shape, dtype=np.int64)) if with_index else out

    def backward(self, grad_out, grad_index=None):
        return grad_out.new_zeros(self.in_shape)


# --------------------------------------------------------------------------- functions

def _needs_index(input, return_indices):  # noqa: A002
    return return_indices or (GradMode.enabled and input.requires_grad)


def _max_pool(op, nd, input, kernel_size, stride, padding, dilation, ceil_mode,  # noqa: A002
              return_indices):
    windows = strided_windows(op, input._data.shape, nd, kernel_size, stride, padding, dilation,
                              ceil_mode)
    return MaxPool.apply(input, windows=windows, need_index=_needs_index(input, return_indices),
                         return_indices=return_indices)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode=False, return_indices=False):
    """1-D max pooling: the maximum of each window along the last dimension.

    ``out[..., i] = max_j input[..., i * stride - padding + j * dilation]`` for
    ``j < kernel_size``, with positions outside the input counting as -inf.

    Args:
        input: tensor of shape (N, C, L) or (C, L).
        kernel_size: window length. stride: step between windows (default kernel_size).
        padding: implicit -inf on both sides, at most half the dilated kernel.
        dilation: step between the elements of a window.
        ceil_mode: round the output length up, so windows may hang over the right end.
        return_indices: also return the argmax as flat indices into each length-L row.

    Returns:
        Tensor of shape (N, C, L_out), or ``(values, indices)`` with int64 indices.
    """
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
               ceil_mode=False, return_indices=False):
    """2-D max pooling: the maximum of each window over the last two dimensions.

    ``out[..., i, j] = max input[..., i*sH - pH + a*dH, j*sW - pW + b*dW]`` over
    ``a < kH, b < kW``; ties go to the first maximum in row-major order (as PyTorch).

    Args:
        input: tensor of shape (N, C, H, W) or (C, H, W).
        kernel_size, stride, padding, dilation: an int or a pair (H, W) each; stride
            defaults to kernel_size; padding (-inf) at most half the dilated kernel.
        ceil_mode: round the output size up.
        return_indices: also return the argmax as flat indices ``h * W + w`` per plane.

    Returns:
        Tensor of shape (N, C, H_out, W_out), or ``(values, indices)``.

    Example:
        >>> import ember
        >>> x = ember.arange(16.0).reshape(1, 1, 4, 4)
        >>> ember.nn.functional.max_pool2d(x, 2, return_indices=True)[1]
        tensor([[[[ 5,  7],
                  [13, 15]]]])
    """
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode=False, return_indices=False):
    """``max_pool1d(..., return_indices=True)``: ``(values, indices)``."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,  # noqa: A002
                            ceil_mode=False, return_indices=False):
    """``max_pool2d(..., return_indices=True)``: ``(values, indices)``."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, True)


def _adaptive_max(op, nd, input, output_size, return_indices):  # noqa: A002
    shape = input._data.shape
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f"{op}: not implemented for {input.dtype} input of shape "
                                  f"{fmt_shape(shape)}; convert it with .float()")
    out = adaptive_sizes(op, shape, nd, output_size)
    if min(out) == 0:
        return EmptyPool.apply(input, shape=shape[:-nd] + out, with_index=return_indices)
    if all(n % o == 0 for n, o in zip(shape[-nd:], out)):  # plain pooling, faster windows
        k = tuple(n // o for n, o in zip(shape[-nd:], out))
        windows = StridedWindows(op, shape, nd, k, k, 0, 1, False)
    else:
        windows = AdaptiveWindows(shape[-nd:], out)
    return MaxPool.apply(input, windows=windows, need_index=_needs_index(input, return_indices),
                         return_indices=return_indices)


def adaptive_max_pool1d(input, output_size, return_indices=False):  # noqa: A002
    """1-D adaptive max pooling: the max over window i = [floor(i*L/o), ceil((i+1)*L/o)).

    Args:
        input: tensor of shape (N, C, L) or (C, L).
        output_size: the output length o.
        return_indices: also return the argmax (flat indices into each row).

    Returns:
        Tensor of shape (N, C, o), or ``(values, indices)``.
    """
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):  # noqa: A002
    """2-D adaptive max pooling over windows computed per dimension as in 1-D.

    Args:
        input: tensor of shape (N, C, H, W) or (C, H, W).
        output_size: an int or a pair (oH, oW); a None entry keeps that input size.
        return_indices: also return the argmax as flat indices ``h * W + w`` per plane.

    Returns:
        Tensor of shape (N, C, oH, oW), or ``(values, indices)``.
    """
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):  # noqa: A002
    """``adaptive_max_pool1d(..., return_indices=True)``."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=False):  # noqa: A002
    """``adaptive_max_pool2d(..., return_indices=True)``."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, True)


# --------------------------------------------------------------------------- unpooling

class MaxUnpool(Op):
    """Place each value at its index in zeros: the partial inverse of max pooling."""

    def forward(self, x, index, shape, nd):
        self.save_inputs(1)  # the indices, checked for in-place changes before backward
        self.nd = nd
        return _scatter(x, index, shape, nd, accumulate=False)

    def backward(self, grad_out):
        (index,) = self.saved_inputs
        return PlaneGather.apply(grad_out, index=index._data, nd=self.nd), None


def _unpool_size(op, shape, nd, kernel, stride, padding, output_size):
    default = tuple((n - 1) * s + k - 2 * p for n, k, s, p in
                    zip(shape[-nd:], kernel, stride, padding))
    if output_size is None:
        return default
    size = tuple(int(o) for o in output_size)
    if len(size) == nd + 2:
        size = size[2:]
    if len(size) != nd:
        raise value_error(op, f"output_size should be a sequence containing {nd} or {nd + 2} "
                              f"elements, but it has a length of {len(size)}")
    for d, (o, n, s) in enumerate(zip(size, default, stride)):
        if not n - s < o < n + s:
            raise value_error(op, f'invalid output_size "{size}" (dim {d} must be between '
                                  f"{n - s} and {n + s}) for the input of shape "
                                  f"{fmt_shape(shape)}")
    return size


def _max_unpool(op, nd, input, indices, kernel_size, stride, padding,  # noqa: A002
                output_size):
    shape = input._data.shape
    check_rank(op, shape, nd)
    kernel = as_tuple(kernel_size, nd, "kernel_size", op)
    stride = kernel if stride is None else as_tuple(stride, nd, "stride", op)
    padding = as_tuple(padding, nd, "padding", op)
    size = _unpool_size(op, shape, nd, kernel, stride, padding, output_size)
    index = indices._data
    if index.shape != shape:
        raise shape_error(op, f"expected indices of the input's shape {fmt_shape(shape)}, "
                              f"but got {fmt_shape(index.shape)}")
    if index.dtype != np.int64:
        raise runtime_error(op, f"expected int64 indices, but got {indices.dtype}")
    plane = int(np.prod(size))
    if index.size and (index.min() < 0 or index.max() >= plane):
        bad = index.min() if index.min() < 0 else index.max()
        raise index_error(op, f"found an invalid max index {bad}: the output planes are of "
                              f"size {'x'.join(map(str, size))}")
    return MaxUnpool.apply(input, indices, shape=shape[:-nd] + size, nd=nd)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None):
    """Undo ``max_pool1d``: each value goes to its index, all other positions are zero.

    Args:
        input: pooled values, (N, C, L_in) or (C, L_in).
        indices: the indices ``max_pool1d(..., return_indices=True)`` returned.
        kernel_size, stride, padding: those of the pooling.
        output_size: the length to restore (default ``(L_in - 1) * stride + kernel - 2 *
            padding``).

    Returns:
        Tensor of shape (N, C, L_out).
    """
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                       output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0,  # noqa: A002
                 output_size=None):
    """Undo ``max_pool2d``: each value goes to its flat index ``h * W + w`` in its plane.

    Args:
        input: pooled values, (N, C, H_in, W_in) or (C, H_in, W_in).
        indices: the indices ``max_pool2d(..., return_indices=True)`` returned.
        kernel_size, stride, padding: those of the pooling (int or pair).
        output_size: the (H, W) to restore, optionally with leading (N, C).

    Returns:
        Tensor of shape (N, C, H_out, W_out).
    """
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                       output_size)
