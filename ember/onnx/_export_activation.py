"""Exporters of activations and softmax (``ember/ops/activation.py``, ``_smooth.py``,
``softmax.py``): the ONNX operator where one exists with the same formula, else the
formula composed."""

import math

from ember.onnx._export_math import as_out, num

__all__ = ["EXPORTERS"]


def _gelu(ctx, node, x, approximate):
    (x,) = as_out(ctx, node, [x])
    if ctx.opset >= 20:
        return ctx.op("Gelu", [x], approximate=approximate)
    if approximate == "tanh":
        cube = ctx.op("Mul", [ctx.op("Mul", [x, x]), x])
        inner = ctx.op("Add", [x, ctx.op("Mul", [cube, num(ctx, node, 0.044715)])])
        inner = ctx.op("Mul", [inner, num(ctx, node, math.sqrt(2 / math.pi))])
        phi = ctx.op("Add", [ctx.op("Tanh", [inner]), num(ctx, node, 1)])
    else:
        scaled = ctx.op("Mul", [x, num(ctx, node, math.sqrt(0.5))])
        phi = ctx.op("Add", [ctx.op("Erf", [scaled]), num(ctx, node, 1)])
    return ctx.op("Mul", [ctx.op("Mul", [x, phi]), num(ctx, node, 0.5)])


def _elu(ctx, node, x, alpha, scale, input_scale):
    (x,) = as_out(ctx, node, [x])
    zero = num(ctx, node, 0)
    neg = ctx.op("Mul", [ctx.op("Min", [x, zero]), num(ctx, node, input_scale)])
    neg = ctx.op("Sub", [ctx.op("Exp", [neg]), num(ctx, node, 1)])
    neg = ctx.op("Mul", [neg, num(ctx, node, alpha * scale)])
    pos = ctx.op("Mul", [ctx.op("Max", [x, zero]), num(ctx, node, scale)])
    return ctx.op("Add", [pos, neg])


def _silu(ctx, node, x):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("Mul", [x, ctx.op("Sigmoid", [x])])


def _softplus_of(ctx, node, x, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta x)) / beta``, and ``x`` where ``beta x > threshold``."""
    bx = ctx.op("Mul", [x, num(ctx, node, beta)]) if beta != 1 else x
    capped = ctx.op("Min", [bx, num(ctx, node, threshold)])
    soft = ctx.op("Log", [ctx.op("Add", [ctx.op("Exp", [capped]), num(ctx, node, 1)])])
    if beta != 1:
        soft = ctx.op("Div", [soft, num(ctx, node, beta)])
    linear = ctx.op("Greater", [bx, num(ctx, node, threshold)])
    return ctx.op("Where", [linear, x, soft])


def _softplus(ctx, node, x, beta, threshold):
    (x,) = as_out(ctx, node, [x])
    return _softplus_of(ctx, node, x, beta, threshold)


def _mish(ctx, node, x):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("Mul", [x, ctx.op("Tanh", [_softplus_of(ctx, node, x)])])


def _hardswish(ctx, node, x):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("HardSwish", [x])


def _hardsigmoid(ctx, node, x):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("HardSigmoid", [x], alpha=1 / 6, beta=0.5)


def _logsigmoid(ctx, node, x):
    (x,) = as_out(ctx, node, [x])
    # -softplus(-x), written stably: min(x, 0) - log(1 + exp(-|x|)).
    tail = ctx.op("Exp", [ctx.op("Neg", [ctx.op("Abs", [x])])])
    tail = ctx.op("Log", [ctx.op("Add", [tail, num(ctx, node, 1)])])
    return ctx.op("Sub", [ctx.op("Min", [x, num(ctx, node, 0)]), tail])


def _tanhshrink(ctx, node, x):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("Sub", [x, ctx.op("Tanh", [x])])


def _hardtanh(ctx, node, x, min_val, max_val):
    return ctx.op("Clip", [x, num(ctx, node, min_val), num(ctx, node, max_val)])


def _leaky_relu(ctx, node, x, negative_slope):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("LeakyRelu", [x], alpha=float(negative_slope))


def _threshold(ctx, node, x, threshold, value):
    below = ctx.op("LessOrEqual", [x, num(ctx, node, threshold)])
    return ctx.op("Where", [below, num(ctx, node, value), x])


def _shrink(soft):
    def export(ctx, node, x, lambd):
        if soft:
            return ctx.op("Shrink", [x], lambd=float(lambd), bias=float(lambd))
        # Hardshrink keeps x where |x| > lambd (Shrink would use >= on one side).
        keep = ctx.op("Greater", [ctx.op("Abs", [x]), num(ctx, node, lambd)])
        return ctx.op("Where", [keep, x, num(ctx, node, 0)])
    return export


def _prelu(ctx, node, x, weight):
    zero = num(ctx, node, 0)
    neg = ctx.op("Mul", [ctx.op("Min", [x, zero]), weight])
    return ctx.op("Add", [neg, ctx.op("Max", [x, zero])])


def _softmax(onnx_op):
    def export(ctx, node, x, axis):
        (x,) = as_out(ctx, node, [x])
        if not node.inputs[0].shape:  # a 0-d tensor: softmax 1, log-softmax 0
            return ctx.squeeze(ctx.op(onnx_op, [ctx.unsqueeze(x, [0])], axis=0), [0])
        return ctx.op(onnx_op, [x], axis=axis)
    return export


EXPORTERS = {
    "Gelu": _gelu, "Elu": _elu, "Silu": _silu, "Softplus": _softplus, "Mish": _mish,
    "Hardswish": _hardswish, "Hardsigmoid": _hardsigmoid, "Logsigmoid": _logsigmoid,
    "Tanhshrink": _tanhshrink, "Hardtanh": _hardtanh, "LeakyRelu": _leaky_relu,
    "Threshold": _threshold, "Hardshrink": _shrink(False), "Softshrink": _shrink(True),
    "Prelu": _prelu, "Softmax": _softmax("Softmax"), "LogSoftmax": _softmax("LogSoftmax"),
}
