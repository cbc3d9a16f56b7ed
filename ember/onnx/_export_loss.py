"""Exporters of losses and distances (``ember/ops/loss.py``, ``regression_loss.py``,
``distance.py``): each written with the same formula and reduction as the ember op, so a
graph that ends in its loss (an evaluation metric, say) exports whole."""

import numpy as np

from ember.onnx._export_errors import unsupported_form
from ember.onnx._export_math import as_out, num, out_dtype

__all__ = ["EXPORTERS"]


def _reduce(ctx, node, loss, reduction, denominator=None):
    """``reduce_loss``: as is, summed, or the mean (over the elements or ``denominator``)."""
    if reduction == "none":
        return loss
    total = ctx.reduce("ReduceSum", loss, None, keepdims=False)
    if reduction == "sum":
        return total
    if denominator is None:
        return ctx.reduce("ReduceMean", loss, None, keepdims=False)
    return ctx.op("Div", [total, denominator])


def _pointwise(kind):
    def export(ctx, node, x, t, reduction, param):
        x, t = as_out(ctx, node, [x, t])
        d = ctx.op("Sub", [x, t])
        a = ctx.op("Abs", [d])
        if kind == "mse":
            loss = ctx.op("Mul", [d, d])
        elif kind == "l1" or (kind == "smooth_l1" and param == 0):
            loss = a
        else:
            small = ctx.op("Less", [a, num(ctx, node, param)])
            square = ctx.op("Mul", [ctx.op("Mul", [a, a]), num(ctx, node, 0.5)])
            linear = ctx.op("Sub", [a, num(ctx, node, 0.5 * param)])
            if kind == "smooth_l1":
                square = ctx.op("Div", [square, num(ctx, node, param)])
            else:
                linear = ctx.op("Mul", [linear, num(ctx, node, param)])
            loss = ctx.op("Where", [small, square, linear])
        return _reduce(ctx, node, loss, reduction)
    return export


def _binary_cross_entropy(ctx, node, x, t):
    x, t = as_out(ctx, node, [x, t])
    floor = num(ctx, node, -100.0)
    log_x = ctx.op("Max", [ctx.op("Log", [x]), floor])
    log_1mx = ctx.op("Max", [ctx.op("Log", [ctx.op("Sub", [num(ctx, node, 1), x])]), floor])
    inner = ctx.op("Add", [ctx.op("Mul", [t, ctx.op("Sub", [log_x, log_1mx])]), log_1mx])
    return ctx.op("Neg", [inner])


def _euclidean_dist(ctx, node, a, b):
    a, b = as_out(ctx, node, [a, b])
    rank = len(node.inputs[1].shape)
    sq_a = ctx.reduce("ReduceSum", ctx.op("Mul", [a, a]), [-1], keepdims=True)
    sq_b = ctx.reduce("ReduceSum", ctx.op("Mul", [b, b]), [-1], keepdims=True)
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    cross = ctx.op("MatMul", [a, ctx.op("Transpose", [b], perm=perm)])
    sq = ctx.op("Sub", [ctx.op("Add", [sq_a, ctx.op("Transpose", [sq_b], perm=perm)]),
                        ctx.op("Mul", [cross, num(ctx, node, 2)])])
    return ctx.op("Sqrt", [ctx.op("Max", [sq, num(ctx, node, 0)])])


# ---- class targets --------------------------------------------------------------------

def _class_parts(ctx, node, target, weight, ignore_index, axis):
    """``(index, per-element weight)``: ignored targets read class 0 with weight 0."""
    dtype = out_dtype(node)
    t = ctx.cast(target, node.inputs[1].dtype, np.int64)
    valid = ctx.op("Not", [ctx.op("Equal", [t, ctx.scalar(ignore_index, np.int64)])])
    index = ctx.op("Where", [valid, t, ctx.scalar(0, np.int64)])
    per = ctx.cast(valid, np.bool_, dtype)
    if weight is not None:
        per = ctx.op("Mul", [per, ctx.op("Gather", [weight, index], axis=0)])
    return index, per, valid


def _picked(ctx, logp, index, axis):
    return ctx.squeeze(ctx.op("GatherElements", [logp, ctx.unsqueeze(index, [axis])],
                              axis=axis), [axis])


def _nll_loss(ctx, node, input, target, weight=None, size_average=None,
              ignore_index=-100, reduce=None, reduction="mean"):
    if size_average is not None or reduce is not None:
        raise unsupported_form(node, "the deprecated size_average/reduce arguments")
    axis = 0 if len(node.inputs[0].shape) == 1 else 1
    index, per, _ = _class_parts(ctx, node, target, weight, ignore_index, axis)
    loss = ctx.op("Neg", [ctx.op("Mul", [_picked(ctx, input, index, axis), per])])
    return _reduce(ctx, node, loss, reduction, ctx.reduce("ReduceSum", per, None, False))


def _cross_entropy(ctx, node, input, target, weight=None, size_average=None,
                   ignore_index=-100, reduce=None, reduction="mean", label_smoothing=0.0):
    if size_average is not None or reduce is not None:
        raise unsupported_form(node, "the deprecated size_average/reduce arguments")
    shape = node.inputs[0].shape
    axis = 0 if len(shape) == 1 else 1
    classes = shape[axis]
    logp = ctx.op("LogSoftmax", [input], axis=axis)
    wshape = [classes] + [1] * (len(shape) - axis - 1)
    class_w = None if weight is None else ctx.op("Reshape", [weight, ctx.ints(wshape)])
    if node.inputs[1].dtype.kind == "f" and node.inputs[1].shape == shape:
        q = ctx.cast(target, node.inputs[1].dtype, out_dtype(node))
        if label_smoothing:
            q = ctx.op("Add", [ctx.op("Mul", [q, num(ctx, node, 1 - label_smoothing)]),
                               num(ctx, node, label_smoothing / classes)])
        if class_w is not None:
            q = ctx.op("Mul", [q, class_w])
        loss = ctx.op("Neg", [ctx.reduce("ReduceSum", ctx.op("Mul", [q, logp]), [axis],
                                         False)])
        count = ctx.cast(ctx.op("Size", [loss]), np.int64, out_dtype(node))
        return _reduce(ctx, node, loss, reduction, count)
    index, per, valid = _class_parts(ctx, node, target, weight, ignore_index, axis)
    loss = ctx.op("Mul", [_picked(ctx, logp, index, axis),
                          ctx.op("Mul", [per, num(ctx, node, -(1.0 - label_smoothing))])])
    if label_smoothing:
        spread = logp if class_w is None else ctx.op("Mul", [logp, class_w])
        spread = ctx.reduce("ReduceSum", spread, [axis], False)
        share = ctx.op("Mul", [ctx.cast(valid, np.bool_, out_dtype(node)),
                               num(ctx, node, label_smoothing / classes)])
        loss = ctx.op("Sub", [loss, ctx.op("Mul", [share, spread])])
    return _reduce(ctx, node, loss, reduction, ctx.reduce("ReduceSum", per, None, False))


EXPORTERS = {
    "MSELoss": _pointwise("mse"), "L1Loss": _pointwise("l1"),
    "SmoothL1Loss": _pointwise("smooth_l1"), "HuberLoss": _pointwise("huber"),
    "BinaryCrossEntropy": _binary_cross_entropy, "EuclideanDist": _euclidean_dist,
    "nll_loss": _nll_loss, "cross_entropy": _cross_entropy,
}
