"""Exporters of reductions, moments, extrema, scans and sorting."""

import numpy as np

from ember.onnx._export_math import num, out_dtype

__all__ = ["EXPORTERS"]


def _axes(node, axes):
    """The reduced axes as a list (None and a bare int normalized)."""
    rank = len(node.inputs[0].shape)
    if axes is None:
        return list(range(rank))
    if isinstance(axes, (int, np.integer)):
        return [int(axes)]
    return [a % max(rank, 1) for a in axes]


def _to(ctx, node, x, dtype=None):
    return ctx.cast(x, node.inputs[0].dtype, dtype or out_dtype(node))


def _sum(ctx, node, x, axes, keepdim, dtype):
    x = _to(ctx, node, x)
    return ctx.reduce("ReduceSum", x, _axes(node, axes), keepdim)


def _mean(ctx, node, x, axes, keepdim):
    x = _to(ctx, node, x)
    return ctx.reduce("ReduceMean", x, _axes(node, axes), keepdim)


def _prod(ctx, node, x, axis, keepdim, dtype):
    x = _to(ctx, node, x)
    return ctx.reduce("ReduceProd", x, _axes(node, axis), keepdim)


def _logsumexp(ctx, node, x, axes, keepdim):
    x = _to(ctx, node, x)
    axes = _axes(node, axes)
    top = ctx.reduce("ReduceMax", x, axes, keepdims=True)
    # Shift by the max (0 where it is infinite), as the ember op does, for stability.
    safe = ctx.op("Where", [ctx.op("IsInf", [top]), num(ctx, node, 0), top])
    total = ctx.reduce("ReduceSum", ctx.op("Exp", [ctx.op("Sub", [x, safe])]), axes, True)
    out = ctx.op("Add", [ctx.op("Log", [total]), safe])
    return out if keepdim else ctx.squeeze(out, axes) if axes else out


def _nansum(ctx, node, x, axes, keepdim, dtype):
    x = _to(ctx, node, x)
    if out_dtype(node).kind == "f":
        x = ctx.op("Where", [ctx.op("IsNaN", [x]), num(ctx, node, 0), x])
    return ctx.reduce("ReduceSum", x, _axes(node, axes), keepdim)


def _nanmean(ctx, node, x, axes, keepdim):
    x = _to(ctx, node, x)
    nan = ctx.op("IsNaN", [x])
    axes = _axes(node, axes)
    total = ctx.reduce("ReduceSum", ctx.op("Where", [nan, num(ctx, node, 0), x]), axes,
                       keepdim)
    count = ctx.cast(ctx.op("Not", [nan]), np.bool_, out_dtype(node))
    return ctx.op("Div", [total, ctx.reduce("ReduceSum", count, axes, keepdim)])


def _extreme(ctx, node, x, reduce, axes, keepdim):
    op = "ReduceMax" if reduce.__name__ in ("max", "amax") else "ReduceMin"
    return ctx.reduce(op, x, _axes(node, axes), keepdim)


def _arg_extreme(ctx, node, x, arg, axis, keepdim):
    op = "ArgMax" if arg.__name__ == "argmax" else "ArgMin"
    rank = len(node.inputs[0].shape)
    if axis is None or rank == 0:
        out = ctx.op(op, [ctx.op("Reshape", [x, ctx.ints([-1])])], axis=0, keepdims=0)
        shape = (1,) * rank if keepdim else ()
        return ctx.op("Reshape", [out, ctx.ints(shape)])
    return ctx.op(op, [x], axis=axis, keepdims=int(keepdim))


def _dim_extreme(reduce_op, arg_op):
    def export(ctx, node, x, axis, keepdim):
        if not node.inputs[0].shape:
            return ctx.op("Identity", [x]), ctx.const(np.zeros((), np.int64))
        values = ctx.reduce(reduce_op, x, [axis], keepdim)
        return values, ctx.op(arg_op, [x], axis=axis, keepdims=int(keepdim))
    return export


def _truth(ctx, node, x, reduce, axes, keepdim):
    truth = ctx.cast(x, node.inputs[0].dtype, np.bool_)
    as_int = ctx.cast(truth, np.bool_, np.int64)
    axes = _axes(node, axes)
    if reduce.__name__ == "all":
        out = ctx.reduce("ReduceMin", as_int, axes, keepdim)
    else:
        out = ctx.reduce("ReduceMax", as_int, axes, keepdim)
    return ctx.cast(out, np.int64, out_dtype(node))


def _count_nonzero(ctx, node, x, axes):
    zero = ctx.scalar(0, node.inputs[0].dtype)
    nonzero = ctx.cast(ctx.op("Not", [ctx.op("Equal", [x, zero])]), np.bool_, np.int64)
    return ctx.reduce("ReduceSum", nonzero, _axes(node, axes), keepdims=False)


def _moments(ctx, node, x, axes, correction, keepdim, sqrt):
    axes = _axes(node, axes)
    mean = ctx.reduce("ReduceMean", x, axes, keepdims=True)
    dev = ctx.op("Sub", [x, mean])
    total = ctx.reduce("ReduceSum", ctx.op("Mul", [dev, dev]), axes, keepdim)
    # n, the count reduced over, from run-time sizes (it may follow a dynamic axis).
    n = ctx.op("Div", [ctx.op("Size", [x]), ctx.op("Size", [mean])])
    dof = ctx.op("Max", [ctx.op("Sub", [n, ctx.scalar(correction, np.int64)]),
                         ctx.scalar(0, np.int64)])
    out = ctx.op("Div", [total, ctx.cast(dof, np.int64, out_dtype(node))])
    if sqrt:
        out = ctx.op("Sqrt", [out])
    if not keepdim:
        mean = ctx.squeeze(mean, axes) if axes else mean
    return out, mean


def _vector_norm(ctx, node, x, p, axes, keepdim):
    x = _to(ctx, node, x)
    axes = _axes(node, axes)
    ax = ctx.op("Abs", [x])
    if p == np.inf:
        return ctx.reduce("ReduceMax", ax, axes, keepdim)
    if p == -np.inf:
        return ctx.reduce("ReduceMin", ax, axes, keepdim)
    if p == 0:
        nonzero = ctx.cast(ctx.op("Not", [ctx.op("Equal", [x, num(ctx, node, 0)])]),
                           np.bool_, out_dtype(node))
        return ctx.reduce("ReduceSum", nonzero, axes, keepdim)
    if p == 1:
        return ctx.reduce("ReduceSum", ax, axes, keepdim)
    if p == 2:
        return ctx.op("Sqrt", [ctx.reduce("ReduceSum", ctx.op("Mul", [x, x]), axes, keepdim)])
    powered = ctx.op("Pow", [ax, num(ctx, node, p)])
    total = ctx.reduce("ReduceSum", powered, axes, keepdim)
    return ctx.op("Pow", [total, num(ctx, node, 1.0 / p)])


def _cumsum(ctx, node, x, axis, dtype, reverse=False):
    x = _to(ctx, node, x)
    if not node.inputs[0].shape:
        return ctx.op("Identity", [x])
    return ctx.op("CumSum", [x, ctx.scalar(axis, np.int64)], reverse=int(bool(reverse)))


EXPORTERS = {
    "Sum": _sum, "Mean": _mean, "Prod": _prod, "LogSumExp": _logsumexp, "NanSum": _nansum,
    "NanMean": _nanmean, "Extreme": _extreme, "ArgExtreme": _arg_extreme,
    "MaxDim": _dim_extreme("ReduceMax", "ArgMax"),
    "MinDim": _dim_extreme("ReduceMin", "ArgMin"), "_Truth": _truth,
    "CountNonzero": _count_nonzero, "Moments": _moments, "VectorNorm": _vector_norm,
    "Cumsum": _cumsum,
}


# ---- sorting: everything through TopK, whose ties keep the lower index first ------------

def _top(ctx, node, x, axis, k, largest):
    """``(values, indices)`` of the ``k`` largest (smallest) along ``axis``, in order."""
    if not node.inputs[0].shape:
        x = ctx.op("Reshape", [x, ctx.ints([1])])
        axis = 0
    return ctx.op("TopK", [x, ctx.ints([k])], outputs=2, axis=axis, largest=int(largest),
                  sorted=1)


def _shaped(ctx, node, pair):
    """The pair reshaped to the op's output shapes (0-d inputs, keepdim=False)."""
    return tuple(ctx.op("Reshape", [t, ctx.ints(v.shape)]) for t, v in zip(pair, node.outputs))


def _sort(ctx, node, x, axis, keepdim, descending, **_):
    n = node.inputs[0].shape[axis] if node.inputs[0].shape else 1
    return _shaped(ctx, node, _top(ctx, node, x, axis, n, descending))


def _topk(ctx, node, x, axis, keepdim, k, largest, sorted):
    return _shaped(ctx, node, _top(ctx, node, x, axis, k, largest))


def _kth(ctx, node, x, axis, k):
    """The k-th smallest along ``axis`` and its index, reshaped to the outputs."""
    values, index = _top(ctx, node, x, axis, k, largest=False)
    last = [ctx.op("Slice", [t, ctx.ints([k - 1]), ctx.ints([k]), ctx.ints([axis])])
            for t in (values, index)] if node.inputs[0].shape else [values, index]
    return _shaped(ctx, node, last)


def _kthvalue(ctx, node, x, axis, keepdim, k):
    return _kth(ctx, node, x, axis, k)


def _median_dim(ctx, node, x, axis, keepdim):
    n = node.inputs[0].shape[axis] if node.inputs[0].shape else 1
    return _kth(ctx, node, x, axis, (n - 1) // 2 + 1)


def _median(ctx, node, x):
    n = int(np.prod(node.inputs[0].shape))
    flat = ctx.op("Reshape", [x, ctx.ints([n])])
    values, _ = ctx.op("TopK", [flat, ctx.ints([(n - 1) // 2 + 1])], outputs=2, axis=0,
                       largest=0, sorted=1)
    k = (n - 1) // 2
    return ctx.op("Reshape", [ctx.op("Slice", [values, ctx.ints([k]), ctx.ints([k + 1])]),
                              ctx.ints([])])


EXPORTERS.update({
    "Sort": _sort, "Topk": _topk, "Kthvalue": _kthvalue, "MedianDim": _median_dim,
    "Median": _median,
})
