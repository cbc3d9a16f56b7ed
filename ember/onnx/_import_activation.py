"""ONNX activation and softmax operators as ember ops (``OPS``: op_type -> function)."""

import math

import ember
import ember.nn.functional as F
from ember.onnx._import_values import as_tensor, scalar

__all__ = ["OPS"]


def _simple(fn):
    return lambda node, x: fn(as_tensor(x))


def _leaky_relu(node, x):
    return F.leaky_relu(as_tensor(x), node.attr("alpha", 0.01))


def _elu(node, x):
    return F.elu(as_tensor(x), node.attr("alpha", 1.0))


def _celu(node, x):
    return F.celu(as_tensor(x), node.attr("alpha", 1.0))


def _selu(node, x):
    # ONNX's defaults are torch's constants; the attributes may change them.
    alpha = node.attr("alpha", 1.67326319217681884765625)
    gamma = node.attr("gamma", 1.05070102214813232421875)
    return F.elu(as_tensor(x), alpha) * gamma


def _gelu(node, x):
    return F.gelu(as_tensor(x), approximate=node.attr("approximate", "none"))


def _hard_sigmoid(node, x):
    alpha, beta = node.attr("alpha", 0.2), node.attr("beta", 0.5)
    return ember.clamp(as_tensor(x) * alpha + beta, 0.0, 1.0)


def _thresholded_relu(node, x):
    x = as_tensor(x)
    return x * (x > node.attr("alpha", 1.0)).to(x.dtype)


def _prelu(node, x, slope):
    x, slope = as_tensor(x), as_tensor(slope)
    return ember.where(x >= 0, x, x * slope)


def _clip(node, x, low=None, high=None):
    if node.opset < 11:
        low, high = node.attr("min"), node.attr("max")
    else:
        low = None if low is None else scalar(low, node, "min")
        high = None if high is None else scalar(high, node, "max")
    x = as_tensor(x)
    return x if low is None and high is None else ember.clamp(x, low, high)


def _softmax_family(fn):
    def run(node, x):
        x = as_tensor(x)
        if node.opset >= 13:
            return fn(x, dim=node.attr("axis", -1))
        # Before opset 13 the input is seen as 2-D: the axes from ``axis`` on are one row.
        axis = node.attr("axis", 1) % x.ndim
        rows = math.prod(x.shape[:axis])
        return fn(x.reshape(rows, -1), dim=1).reshape(tuple(x.shape))
    return run


OPS = {
    "Relu": _simple(F.relu), "LeakyRelu": _leaky_relu, "Elu": _elu, "Celu": _celu,
    "Selu": _selu, "Gelu": _gelu, "Softplus": _simple(F.softplus),
    "Softsign": _simple(F.softsign), "HardSigmoid": _hard_sigmoid,
    "HardSwish": _simple(F.hardswish), "Mish": _simple(F.mish),
    "ThresholdedRelu": _thresholded_relu, "PRelu": _prelu, "Clip": _clip,
    "Softmax": _softmax_family(F.softmax), "LogSoftmax": _softmax_family(F.log_softmax),
}
