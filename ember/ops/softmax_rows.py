"""Cross-entropy's softmax pass over the rows of logits, and its short path for plain
targets (``ember.ops.loss``'s ``CrossEntropy``, and the compiled step's rule in
``ember/jit/array_loss.py``).

NOTE [plain targets]: the usual call (2-D logits, every target a class, no weights, no
smoothing, a mean or a sum) needs none of the general op's per-element weights: every
weight is 1. ``plain_forward`` and ``plain_backward`` do the general op's arithmetic for
that case (bitwise its values) in a few NumPy calls instead of a few tens. Glue code
between a step's large products runs with cold caches, so each call costs more there
than in a loop: timed inside ``mlp``'s eager step (two threads, (128, 10) logits), the
loss op's forward took 39 us and its backward 28 us on the general path, 30 and 19 us on
this one; alone in a loop, forward plus backward took 51 us on the general path and 42 us
on this one (with the softmax kernel finding each row's maximum itself).
"""

import numpy as np

from ember.backend.loss_kernels import exp_rows32
from ember.backend.threads import pieces, split

__all__ = ["plain_backward", "plain_forward", "plain_targets", "row_pieces", "softmax_parts"]

# Logits (N, C) of at least this many elements run NumPy's softmax passes and the
# gradient in pieces of rows on ember's threads (NumPy's ufuncs release the GIL). Measured
# at 2 threads, forward and backward, float32: (1024, 1000) 1.26 ms -> 0.90 ms, (512,
# 1000) and (1024, 500) 13-17% faster; (256, 1000) split took 1.28x as long. The compiled
# float32 pass (``exp_rows32``) does not split: it brought (1024, 1000) to 0.65 ms on one
# thread, and split it measured 0.92-1.38x that (what is left is mostly memory traffic).
_SPLIT_SIZE = 400_000


def row_pieces(x, axis):
    """How many pieces of rows the softmax of logits ``x`` runs in (1: in one piece).

    Only C-contiguous ``(N, C)`` logits split, so that every row is reduced in the same
    memory order as the whole array's: the pieces give the unsplit op's bits.
    """
    if x.ndim != 2 or axis != 1 or not x.flags.c_contiguous or _compiled_rows(x, axis):
        return 1
    return pieces(x.shape[0], x.size, _SPLIT_SIZE)


def _compiled_rows(x, axis):
    """True when ``exp_rows32`` computes the softmax of logits ``x`` (or, in backward,
    computed the exps ``x``: C-contiguous like the logits, of their dtype and shape)."""
    return (x.dtype == np.float32 and x.ndim == 2 and axis == 1 and x.shape[1] > 0
            and x.flags.c_contiguous and exp_rows32.ready())


def softmax_parts(x, axis):
    """``(top, exps, sums)``: the maxima along ``axis``, ``exp(x - top)`` and its sums."""
    count = row_pieces(x, axis)
    compiled = _compiled_rows(x, axis)
    if count == 1 and not compiled:
        top = np.maximum.reduce(x, axis=axis, keepdims=True)
        exps = np.subtract(x, top)
        np.exp(exps, out=exps)
        return top, exps, np.add.reduce(exps, axis=axis, keepdims=True)
    rows = len(x)
    top, exps, sums = np.empty((rows, 1), x.dtype), np.empty_like(x), np.empty((rows, 1), x.dtype)
    if count == 1:
        _softmax_rows(x, top, exps, sums, compiled)
    else:
        split(lambda lo, hi: _softmax_rows(x[lo:hi], top[lo:hi], exps[lo:hi], sums[lo:hi],
                                           compiled), rows, count)
    return top, exps, sums


def _softmax_rows(x, top, exps, sums, compiled):
    """``softmax_parts`` of C-contiguous (N, C) logits, into the given arrays."""
    if compiled and exp_rows32(x, top, exps, sums) == 0:
        return
    # NumPy's passes: no compiled kernel, or a row with a NaN or an infinity.
    np.maximum.reduce(x, axis=1, keepdims=True, out=top)
    np.exp(np.subtract(x, top, out=exps), out=exps)
    np.add.reduce(exps, axis=1, keepdims=True, out=sums)


# ---- plain targets (NOTE [plain targets]) ------------------------------------------------

def plain_targets(x, t, ignore_index):
    """Whether every target of (N, C) logits ``x`` is an integer class (none ignored): then
    the per-element weights are all 1 and the checks of ``_class_targets`` all pass."""
    if (x.ndim != 2 or t.dtype.kind not in "iu" or t.shape != x.shape[:1] or not len(t)
            or not x.shape[1]):
        return False
    classes = x.shape[1]
    if 0 <= ignore_index < classes:
        return False
    return 0 <= t.min() and t.max() < classes


def plain_forward(op, x, t, reduction):
    """The loss of ``CrossEntropy`` for ``plain_targets`` (``reduction``: mean or sum), with
    the attributes its backward reads set on ``op``."""
    n = len(t)
    ones = np.ones(n, x.dtype)
    op.axis, op.index, op.weight, op.valid = 1, t, ones, ones
    # 1 / (the weights' sum), in the logits' dtype as the general op's float32 sum makes it.
    op.smoothing, op.class_weight, op.reduction = 0.0, None, reduction
    op.scale = 1.0 / x.dtype.type(n)
    op.top, op.exps, op.sums = softmax_parts(x, 1)
    op.rows, op.plain = np.arange(n), True
    # -(x[t] - top - log(sums)), as the general op's (N, 1) columns times -1.0 compute it.
    loss = np.negative(x[op.rows, t] - op.top[:, 0] - np.log(op.sums[:, 0]))
    total = np.add.reduce(loss)
    if reduction == "mean":
        total = np.multiply(total, np.asarray(op.scale, x.dtype))
    return np.asarray(total)


def plain_backward(op, grad_out):
    """``CrossEntropyBackward`` for ``plain_forward``'s op (its exps become the gradient;
    a retained graph's second backward takes the general path), in pieces of rows as the
    general op's gradient."""
    if op.reduction == "mean":
        grad_out = grad_out * np.asarray(op.scale, grad_out.dtype)
    grad, op.exps = op.exps, None
    # grad_out * the per-row coefficient 1.0 is grad_out itself: the general factor, bitwise.
    factor = grad_out / op.sums
    count = row_pieces(grad, 1)
    if count == 1:
        _plain_rows(grad, factor, op.rows, op.index, grad_out)
    else:
        split(lambda lo, hi: _plain_rows(grad[lo:hi], factor[lo:hi], op.rows[:hi - lo],
                                         op.index[lo:hi], grad_out), len(grad), count)
    return grad


def _plain_rows(grad, factor, rows, index, grad_out):
    np.multiply(grad, factor, out=grad)
    grad[rows, index] -= grad_out
