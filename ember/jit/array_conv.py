"""Array-level forward and backward of ``Conv`` for a ``TrainPlan`` (``train_plan.py``).

With fewer than 16 input channels ``_im2col.conv`` multiplies the weight by im2col's
columns, and with a tiny weight (fewer than 1024 values per group) ``_im2col.conv_weight``
builds the very same columns again for the weight's gradient (a first layer on images).
The plan keeps the forward's columns for it, and computes the gradient as
``conv_weight`` does, so the result is bitwise eager's on one thread. On LeNet's first
conv (64 images, float32, one thread, CPU time) the weight gradient took 0.52 ms in eager
code, 0.08 ms from the kept columns; the forward costs the same (its im2col copy is
made once, straight into the columns). Peak memory grows by the columns (5 MB there).

Keeping the columns of bigger weights too (LeNet's second conv) measured 1.125x against
1.112x for the whole step once, and the same another time: not worth their memory, nor
a gradient summed in another order than eager's.

Where the plan reads the weight's gradient only after backward, it runs on the worker
while the calling thread computes the input's (``_conv_later``).
"""

import math

import numpy as np

from ember.jit.array_backward import FORWARDS, LATER, rule
from ember.ops import _im2col
from ember.ops.conv import ConvTranspose, ConvWeight, _bias_grad
from ember.tensor import Tensor

try:  # the pool that splits an op's batch over threads (ember/backend/threads.py)
    from ember.backend.threads import background, pieces, split
except ImportError:  # without it, one piece in the calling thread
    def pieces(n, work, min_work):
        return 1

    def split(fn, n, count):
        return [fn(0, n)]

    def background(fn):
        return False

__all__ = []

_new = object.__new__
_make = Tensor._make

_COLS_BYTES = 64 << 20  # keep columns up to this size until backward (peak memory)
_SPLIT_WORK = 1 << 22  # multiply-adds below which a conv runs in one thread


def _reuses_columns(x, w, geom):
    """Whether eager computes this conv and its weight's gradient from the same columns."""
    stride, pads, dilation, groups = geom
    c, c_out, ksize = x.shape[1], w.shape[0], w.shape[2:]
    planar = not (groups == 1 and w.ndim == 4 and c >= 16 and ksize[0] * ksize[1] > 1)
    tiny = c // groups * math.prod(ksize) * c_out // groups < 1024
    osize = _im2col.out_size(x.shape[2:], ksize, stride, pads, dilation)
    size = x.shape[0] * c * math.prod(ksize) * math.prod(osize) * x.itemsize
    return planar and tiny and min(osize) > 0 and size <= _COLS_BYTES


def _conv_forward(op, x, w, b=None, geom=None):
    if not _reuses_columns(x, w, geom):
        op.cols = None
        return op.forward(x, w, b, geom=geom)
    op.geom = geom
    stride, pads, dilation, groups = geom
    n, c_out = x.shape[0], w.shape[0]
    view, osize = _im2col.windows(x, w.shape[2:], stride, pads, dilation)
    rows = x.shape[1] // groups * math.prod(w.shape[2:])
    cols = np.empty((n, groups, rows, math.prod(osize)), x.dtype)
    out = np.empty((n, groups, c_out // groups, cols.shape[3]), x.dtype)
    w3 = w.reshape(groups, c_out // groups, w.size // c_out)

    def piece(lo, hi):  # im2col's copy and conv's product, for samples lo:hi
        # Copied straight into the columns' memory, seen in the windows' shape: one copy,
        # where assigning ``view.reshape(...)`` would copy twice.
        cols[lo:hi].reshape((hi - lo,) + view.shape[1:])[...] = view[lo:hi]
        np.matmul(w3, cols[lo:hi], out=out[lo:hi])

    split(piece, n, pieces(n, n * w.size * cols.shape[3], _SPLIT_WORK))
    op.cols = cols
    out = out.reshape((n, c_out) + osize)
    if b is not None:
        out += b.reshape((-1,) + (1,) * (out.ndim - 2))
    return out


FORWARDS["Conv"] = _conv_forward


def _weight_grad(cols, g, wshape):
    """``conv_weight`` from the columns ``(N, G, rows, P)``: a product per sample, summed;
    split over the batch on ember's threads as ``conv_weight`` is, partial sums added."""
    n, groups = cols.shape[:2]
    g4 = g.reshape(n, groups, wshape[0] // groups, cols.shape[3])
    count = pieces(n, g.size * cols.shape[2], _SPLIT_WORK)
    parts = split(lambda lo, hi: np.matmul(g4[lo:hi], cols[lo:hi].swapaxes(-1, -2)).sum(0),
                  n, count)
    total = parts[0]
    for part in parts[1:]:
        total += part
    return total.reshape(wshape)


@rule("Conv")
def _conv(op, ins, outs, grads, send):
    x, w = ins[0], ins[1]
    g = grads[0]
    grad_x = grad_w = grad_b = None
    if send[0]:
        grad_x = _new(ConvTranspose).forward(g, w, geom=op.geom, size=x.shape[2:])
    if send[1]:
        grad_w = _conv_weight_grad(op, x, g, w.shape)
    if len(ins) > 2 and send[2]:
        grad_b = _bias_grad(_make(g), True)._data  # as Conv.backward
    return [grad_x, grad_w, grad_b][:len(ins)]


def _conv_weight_grad(op, x, g, wshape, out=None):
    cols = getattr(op, "cols", None)
    if cols is None:
        found = _new(ConvWeight).forward(x, g, geom=op.geom, ksize=wshape[2:])
    else:
        found = _weight_grad(cols, g, wshape)
    if out is None:
        return found
    out[...] = found
    return out


def _conv_later(op, ins, outs, grads, send):
    """``Conv``'s rule where the plan reads the weight's gradient only after
    ``join_background()``: the weight's gradient on the worker (in one piece there) while
    this thread computes the input's (NOTE [weight gradients in the background] in
    ``array_linear.py``). A conv's weight gradient sums over the batch in as many pieces as
    it runs in, so it equals eager's at one thread, to float rounding at two."""
    x, w = ins[0], ins[1]
    if not (send[0] and send[1]) or not np.issubdtype(w.dtype, np.floating):
        return _conv(op, ins, outs, grads, send)
    g = grads[0]
    grad_w = np.empty(w.shape, w.dtype)  # as the plan would cast it: nothing reads it early
    if not background(lambda: _conv_weight_grad(op, x, g, w.shape, grad_w)):
        return _conv(op, ins, outs, grads, send)
    grad_x = _new(ConvTranspose).forward(g, w, geom=op.geom, size=x.shape[2:])
    grad_b = None
    if len(ins) > 2 and send[2]:
        grad_b = _bias_grad(_make(g), True)._data  # as Conv.backward
    return [grad_x, grad_w, grad_b][:len(ins)]


LATER["Conv"] = _conv_later
