"""Array-level layer-norm backward for a ``TrainPlan`` (``train_plan.py``), in pieces of
rows on ember's threads.

``Normalize``'s compiled layer-norm kernels (``ember.backend.norm_kernels``) run on one
thread below ``parallel.SERIAL_BELOW`` elements (every benchmark's size), and its backward
goes through ``NormalizeBackward.apply`` with Tensor wrappers. Every row's input gradient
is computed on its own, so here the same kernel runs on ranges of rows, one range per
thread, and gives bitwise the whole call's values; the weight and bias gradients (sums
over all rows, on one thread in eager code) run whole, as one more piece beside them.
Any other ``Normalize`` (batch norm, given statistics, the NumPy path) runs the op's own
backward code on the arrays, without the Tensor wrappers.

Measured on the ``transformer`` benchmark's (1024, 128) float32 rows, one call, warm
caches: backward 129 us whole, 99 us in pieces at two threads (a split's hand-over costs
~25 us there). The forward (~60 us) is left whole: in pieces it took 75 us, and the
step ran no faster with it split (interleaved runs, another process on one core).
"""

import numpy as np

from ember.backend import norm_kernels
from ember.backend.threads import pieces, split
from ember.jit.array_backward import rule
from ember.ops.norm import NormalizeBackward, _compiled_backward, _kernel_view, _split

__all__ = []

_new = object.__new__
# Layer norms of at least this many elements run backward in pieces of rows (the
# ``transformer``'s (1024, 128) rows: ~90 us for the input gradient plus ~30 us for the
# weight and bias sums at one thread).
_SPLIT_SIZE = 1 << 16


def _flat(a, size, fill, dtype):
    return np.full(size, fill, dtype) if a is None else a.reshape(size)


@rule("Normalize")
def _normalize(op, ins, outs, grads, send):
    x, *affine = ins
    layout, g = op.layout, grads[0]
    compiled = op.compiled if op.compiled and norm_kernels.batch_norm_forward.ready() else None
    if compiled == "layer":
        x2 = _kernel_view(x, "layer", layout)
        count = pieces(x2.shape[0], x2.size, _SPLIT_SIZE)
        if count > 1:
            return _layer_grads(op, x2, x, affine, g.reshape(x2.shape), send, count)
        found = _compiled_backward(g, x, affine, layout, send, compiled, *op.stats64)
    else:  # as ``Normalize.backward`` outside autograd
        mean, invstd = (None, None) if compiled else op._numpy_stats(x)
        found = NormalizeBackward.forward(
            _new(NormalizeBackward), g, x, *affine, layout=layout, mean=mean, invstd=invstd,
            batch_stats=op.batch_stats, needs=tuple(send),
            compiled=compiled and (compiled,) + op.stats64)
    found = iter(found if isinstance(found, tuple) else (found,))
    return [next(found) if s else None for s in send]


def _layer_grads(op, x2, x, affine, g2, send, count):
    """``_compiled_backward``'s gradients, the input's in pieces of rows, the weight's and
    bias's (sums over every row) as one more piece, whole."""
    layout = op.layout
    w, b = _split(affine, layout)
    mean, invstd = op.stats64
    rows, features = x2.shape
    weight = _flat(w, features, 1, x.dtype)
    need_w, need_b = layout.has_w and send[1], layout.has_b and send[-1]
    grad_x = np.empty(x2.shape, x.dtype) if send[0] else None
    grad_w, grad_b = np.empty(features), np.empty(features)
    tasks = [None] if need_w or need_b else []
    if grad_x is not None:
        tasks += [(rows * i // count, rows * (i + 1) // count) for i in range(count)]

    def run(first, stop):
        for task in tasks[first:stop]:
            if task is None:
                norm_kernels.layer_norm_param_grads(g2, x2, mean, invstd, grad_w, grad_b)
            else:
                lo, hi = task
                norm_kernels.layer_norm_backward(g2[lo:hi], x2[lo:hi], weight, mean[lo:hi],
                                                 invstd[lo:hi], grad_x[lo:hi])

    if len(tasks) < 2:
        run(0, len(tasks))
    else:
        # weights: each piece's share of the work (``ember.backend.split_gain``); the
        # input gradient's loop costs about three times the weight sums' per element.
        weights = [rows if t is None else 3 * (t[1] - t[0]) for t in tasks]
        split(run, len(tasks), count, per_thread=len(tasks), weights=weights)
    found = [None if grad_x is None else grad_x.reshape(x.shape)]
    if layout.has_w:
        found.append(grad_w.astype(x.dtype).reshape(w.shape) if need_w else None)
    if layout.has_b:
        found.append(grad_b.astype(x.dtype).reshape(b.shape) if need_b else None)
    return found
