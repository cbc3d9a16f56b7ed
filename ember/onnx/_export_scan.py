"""Exporters of running products and extremes (``ember/ops/scan.py``) and of ``nonzero``.

ONNX has ``CumSum`` but no running product, max or min. Along an axis of length ``n``
they are written with an ``(n, n)`` lower-triangular mask: element ``(i, j)`` holds
``x_j`` for ``j <= i`` (else the operation's identity), reduced over ``j``. That costs
``n`` times the memory of the input, fine for the lengths these ops see, and keeps the
exact semantics (ties, NaN) of the ember ops.
"""

import numpy as np

from ember.onnx._export_math import out_dtype

__all__ = ["EXPORTERS"]


def _masked(ctx, node, x, axis, fill):
    """``(i, j)`` planes at ``(axis, axis + 1)``: ``x_j`` where ``j <= i``, else ``fill``."""
    shape = node.inputs[0].shape
    n = shape[axis]
    mask = np.tri(n, dtype=bool).reshape((n, n) + (1,) * (len(shape) - axis - 1))
    spread = ctx.unsqueeze(x, [axis])
    return ctx.op("Where", [ctx.const(mask, "lower_triangle"), spread, fill])


def _cumprod(ctx, node, x, axis, dtype):
    x = ctx.cast(x, node.inputs[0].dtype, out_dtype(node))
    if not node.inputs[0].shape:
        return ctx.op("Identity", [x])
    masked = _masked(ctx, node, x, axis, ctx.scalar(1, out_dtype(node)))
    return ctx.reduce("ReduceProd", masked, [axis + 1], keepdims=False)


def _running_extreme(reduce_op, fill):
    def export(ctx, node, x, axis, keepdim):
        dtype = out_dtype(node)
        if not node.inputs[0].shape:
            return ctx.op("Identity", [x]), ctx.const(np.zeros((), np.int64))
        floating = dtype.kind == "f"
        low = fill if floating else (np.iinfo(dtype).min if fill < 0 else np.iinfo(dtype).max)
        masked = _masked(ctx, node, x, axis, ctx.scalar(low, dtype))
        running = ctx.reduce(reduce_op, masked, [axis + 1], keepdims=False)
        moved = ctx.op("Equal", [x, running])
        if floating:  # NaN propagates, and moves the index, as in PyTorch
            nan = ctx.op("IsNaN", [x])
            seen = ctx.reduce("ReduceMax", _masked(ctx, node, ctx.cast(nan, np.bool_, np.int64),
                                                   axis, ctx.scalar(0, np.int64)),
                              [axis + 1], keepdims=False)
            running = ctx.op("Where", [ctx.cast(seen, np.int64, np.bool_),
                                       ctx.scalar(np.nan, dtype), running])
            moved = ctx.op("Or", [moved, nan])
        # The index: the last position up to i where a new extreme (or a tie) was met.
        n = node.inputs[0].shape[axis]
        here = np.arange(n, dtype=np.int64).reshape((n,) + (1,) * (len(node.inputs[0].shape)
                                                                   - axis - 1))
        positions = ctx.op("Where", [moved, ctx.const(here), ctx.scalar(0, np.int64)])
        index = ctx.reduce("ReduceMax", _masked(ctx, node, positions, axis,
                                                ctx.scalar(0, np.int64)), [axis + 1], False)
        return running, index
    return export


def _nonzero(ctx, node, x, as_tuple):
    rank = len(node.inputs[0].shape)
    # As bools: ONNX Runtime's NonZero takes few dtypes (NaN counts as nonzero, as here).
    zero = ctx.scalar(0, node.inputs[0].dtype)
    truth = ctx.op("Not", [ctx.op("Equal", [x, zero])])
    flat = ctx.op("Reshape", [truth, ctx.ints([1])]) if rank == 0 else truth
    coords = ctx.op("NonZero", [flat])  # (rank, count)
    if as_tuple:
        if rank == 0:
            return (ctx.squeeze(coords, [0]),)
        return tuple(ctx.squeeze(c, [0]) for c in ctx.split(coords, [1] * rank, 0))
    if rank == 0:  # (count, 0)
        coords = ctx.op("Slice", [coords, ctx.ints([0]), ctx.ints([0]), ctx.ints([0])])
    return ctx.op("Transpose", [coords], perm=[1, 0])


EXPORTERS = {
    "Cumprod": _cumprod, "Cummax": _running_extreme("ReduceMax", -np.inf),
    "Cummin": _running_extreme("ReduceMin", np.inf), "Nonzero": _nonzero,
}
