"""Elementwise activations: ReLU and its piecewise-linear relatives, the smooth ones (ELU,
GELU, SiLU, Mish, Softplus, ... whose ops live in ``ember.ops._smooth``), PReLU, RReLU
and GLU.

Piecewise-linear activations have a gradient that is a constant slope per element, so
their backward multiplies by that slope (a mask or an array), which is linear and hence
differentiable again (the second derivative is zero). Functions that PyTorch lets work
in place take ``inplace=True`` (see NOTE [in-place and autograd] in
``ember/ops/_inplace.py``); the ``name_`` forms are the same with ``inplace=True``.
"""

import numpy as np

from ember._errors import runtime_error, shape_error, value_error
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.backend.activation_kernels import (
    flat_float,
    in_pieces,
    relu_forward,
    relu_grad,
    relu_inplace,
    relu_slope,
)
from ember.ops import _smooth
from ember.ops._activation_inputs import as_float, floating_only, no_bool
from ember.ops._inplace import apply_inplace, overwrite
from ember.ops.arithmetic import Mul
from ember.ops.shape import norm_dim
from ember.ops.views import narrow
from ember.random import numpy_generator
from ember.tensor import Tensor

__all__ = ["relu", "relu_", "selu", "selu_", "celu", "celu_", "hardshrink", "threshold",
           "threshold_", "prelu", "rrelu", "rrelu_"]

_make = Tensor._make


def _slope_grad(grad_out, slope):
    """``grad_out * slope`` for a constant array ``slope`` (a bool mask or the slopes).

    Linear in ``grad_out``, so differentiable again. Multiplying by a mask is one
    branch-free pass, about 15x faster than ``np.where`` on a random mask; unlike
    PyTorch, a NaN or inf in ``grad_out`` where the slope is 0 gives NaN, not 0.
    """
    return Mul.apply(grad_out, _make(slope))


def _run(op, name, input, inplace, **params):  # noqa: A002
    """``op`` applied to ``input``, or written into it when ``inplace``."""
    if inplace:
        return apply_inplace(name + "_", lambda t: op.apply(t, **params), input)
    return op.apply(input, **params)


# ---- piecewise linear ---------------------------------------------------------------------

class Relu(Op):
    """``max(x, 0)``; float32/float64 run compiled (``ember.backend.activation_kernels``).

    Backward needs only where the output is positive (where ``x`` is), so it saves the
    output, as PyTorch does: ``relu_`` then overwrites ``x`` in place without keeping its
    old values (NOTE [in-place without a snapshot] in ``ember/ops/_inplace.py``).
    """

    def forward(self, x, into=False):
        """``into``: write the result into ``x`` (``relu_``)."""
        self.save_outputs()
        out = x if into else np.empty_like(x)
        flat = flat_float(x) if relu_forward.ready() else None
        if flat is None:
            return np.maximum(x, 0, out=out)
        if into:
            in_pieces(relu_inplace, flat)
        else:
            in_pieces(relu_forward, flat, out.reshape(-1))
        return out

    def backward(self, grad_out):
        (y,) = self.saved_outputs
        data = y._data
        flat = flat_float(data) if relu_slope.ready() else None
        if flat is None:
            return _slope_grad(grad_out, data > 0)
        g = grad_out._data
        if not GradMode.enabled and g.dtype == data.dtype and g.shape == data.shape:
            # Not differentiable again (no create_graph): slope and product in one pass.
            g = flat_float(g)
            if g is not None:
                out = np.empty_like(data)
                in_pieces(relu_grad, flat, g, out.reshape(-1))
                return _make(out)
        slope = np.empty_like(data)
        in_pieces(relu_slope, flat, slope.reshape(-1))
        return _slope_grad(grad_out, slope)


def _relu_into(t):
    return Relu.apply(t, into=True)


class Hardtanh(Op):
    """Clip to ``[min_val, max_val]``; the gradient is 1 strictly inside, 0 elsewhere."""

    def forward(self, x, min_val, max_val):
        self.save_inputs(0)
        self.min_val, self.max_val = min_val, max_val
        return np.clip(x, min_val, max_val)

    def backward(self, grad_out):
        x = self.saved_inputs[0]._data
        return _slope_grad(grad_out, (x > self.min_val) & (x < self.max_val))


class LeakyRelu(Op):
    def forward(self, x, negative_slope):
        self.save_inputs(0)
        self.negative_slope = negative_slope
        scaled = np.multiply(x, negative_slope, out=np.empty_like(x))
        if 0 <= negative_slope <= 1:  # max/min are one fast pass; where() is slower
            return np.maximum(x, scaled, out=scaled)
        if negative_slope > 1:
            return np.minimum(x, scaled, out=scaled)
        return np.where(x > 0, x, scaled)

    def backward(self, grad_out):
        x = self.saved_inputs[0]._data
        # 1 where x > 0, else the slope; arithmetic, since where() on a random mask is slow.
        slope = (x > 0).astype(x.dtype)
        slope *= 1 - self.negative_slope
        slope += self.negative_slope
        return _slope_grad(grad_out, slope)


class Hardsigmoid(Op):
    """``relu6(x + 3) / 6``; the gradient is 1/6 strictly between -3 and 3."""

    def forward(self, x):
        self.save_inputs(0)
        out = np.add(x, 3, out=np.empty_like(x))
        np.clip(out, 0, 6, out=out)
        out /= 6
        return out

    def backward(self, grad_out):
        x = self.saved_inputs[0]._data
        return _slope_grad(grad_out, ((x > -3) & (x < 3)) * x.dtype.type(1 / 6))


class Hardshrink(Op):
    def forward(self, x, lambd):
        self.save_inputs(0)
        self.lambd = lambd
        return x * (np.abs(x) > lambd)

    def backward(self, grad_out):
        x = self.saved_inputs[0]._data
        return _slope_grad(grad_out, ~(np.abs(x) <= self.lambd))


class Softshrink(Hardshrink):
    def forward(self, x, lambd):
        self.save_inputs(0)
        self.lambd = lambd
        return x - np.clip(x, -lambd, lambd)


class Threshold(Op):
    def forward(self, x, threshold, value):
        self.save_inputs(0)
        self.threshold = threshold
        return np.where(x <= threshold, x.dtype.type(value), x)

    def backward(self, grad_out):
        x = self.saved_inputs[0]._data
        return _slope_grad(grad_out, ~(x <= self.threshold))


class RreluTrain(Op):
    """Leaky ReLU with a random slope in ``[lower, upper]`` per negative element."""

    def forward(self, x, lower, upper, generator):
        slopes = numpy_generator(generator).uniform(lower, upper, x.shape).astype(x.dtype)
        positive = x > 0
        slopes *= ~positive
        slopes += positive
        self.slopes = slopes
        return x * slopes

    def backward(self, grad_out):
        return _slope_grad(grad_out, self.slopes)


class Prelu(Op):
    """``x`` where positive, ``weight * x`` elsewhere; ``weight`` broadcasts over channels."""

    def forward(self, x, weight):
        self.save_inputs(0, 1)
        out = np.minimum(x, 0)
        out *= weight
        out += np.maximum(x, 0)
        return out

    def backward(self, grad_out):
        x, weight = self.saved_inputs
        negative = _smooth.mask(~(x._data > 0), x)
        need_x, need_w = self.needs_input_grad
        grad_x = grad_out * (1 - negative + negative * weight) if need_x else None
        grad_w = grad_out * x * negative if need_w else None
        return grad_x, grad_w


# ---- public functions ---------------------------------------------------------------------

def relu(input, inplace=False):  # noqa: A002 - PyTorch's names
    """Rectified linear unit, ``max(x, 0)``; works on integer tensors too.

    Args:
        input: tensor of any shape (not bool).
        inplace: overwrite ``input`` with the result.

    Returns:
        A tensor of ``input``'s shape and dtype.

    Example:
        >>> import ember
        >>> ember.relu(ember.tensor([-1.0, 0.5, 2.0]))
        tensor([0.0000, 0.5000, 2.0000])
    """
    no_bool("relu", input)
    if inplace:
        done = overwrite("relu_", _relu_into, input)
        if done is not None:
            return done
    return _run(Relu, "relu", input, inplace)


def relu_(input):  # noqa: A002
    """In-place ``relu``; returns ``input``."""
    return relu(input, inplace=True)


def relu6(input, inplace=False):  # noqa: A002
    """``min(max(x, 0), 6)``, i.e. ``hardtanh(x, 0, 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):  # noqa: A002
    """Clip to ``[min_val, max_val]``; the gradient is 1 strictly inside, else 0.

    Args:
        input: tensor of any shape (not bool); integer tensors clip to integer bounds.
        min_val, max_val: the bounds, ``min_val <= max_val``.
        inplace: overwrite ``input`` with the result.
    """
    if min_val > max_val:
        raise value_error("hardtanh", f"min_val cannot be greater than max_val "
                                      f"(got min_val={min_val}, max_val={max_val})")
    no_bool("hardtanh", input)
    if input._data.dtype.kind != "f":
        min_val, max_val = int(min_val), int(max_val)
    return _run(Hardtanh, "hardtanh", input, inplace, min_val=min_val, max_val=max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):  # noqa: A002
    return hardtanh(input, min_val, max_val, inplace=True)


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    """``x`` for x > 0, else ``negative_slope * x``."""
    floating_only("leaky_relu", input)
    return _run(LeakyRelu, "leaky_relu", input, inplace, negative_slope=negative_slope)


def leaky_relu_(input, negative_slope=0.01):  # noqa: A002
    return leaky_relu(input, negative_slope, inplace=True)


def hardsigmoid(input, inplace=False):  # noqa: A002
    """``relu6(x + 3) / 6``: 0 below -3, 1 above 3, linear between."""
    floating_only("hardsigmoid", input)
    return _run(Hardsigmoid, "hardsigmoid", input, inplace)


def hardshrink(input, lambd=0.5):  # noqa: A002
    """``x`` where ``|x| > lambd``, else 0."""
    floating_only("hardshrink", input)
    return Hardshrink.apply(input, lambd=lambd)


def softshrink(input, lambd=0.5):  # noqa: A002
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""
    floating_only("softshrink", input)
    if lambd < 0:
        raise runtime_error("softshrink", f"lambda must be non-negative, but found {lambd}")
    return Softshrink.apply(input, lambd=lambd)


def threshold(input, threshold, value, inplace=False):  # noqa: A002
    """``x`` where ``x > threshold``, else ``value`` (cast to ``input``'s dtype)."""
    return _threshold(input, threshold, value, inplace)


def threshold_(input, threshold, value):  # noqa: A002
    return _threshold(input, threshold, value, True)


def _threshold(input, threshold, value, inplace):  # noqa: A002
    if input._data.dtype == np.bool_:
        raise NotImplementedError(runtime_error("threshold", "not implemented for bool "
                                                             "tensors").args[0])
    return _run(Threshold, "threshold", input, inplace, threshold=threshold, value=value)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False, *,  # noqa: A002
          generator=None):
    """Randomized leaky ReLU: each negative element gets a slope drawn from
    ``U(lower, upper)`` in training, the fixed slope ``(lower + upper) / 2`` in eval.

    The slopes come from ember's default generator (or ``generator``), so
    ``ember.manual_seed`` makes them reproducible.
    """
    floating_only("rrelu", input)
    if lower > upper:
        raise runtime_error("rrelu", f"lower bound should be less than or equal to the upper "
                                     f"bound (got lower={lower}, upper={upper})")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    return _run(RreluTrain, "rrelu", input, inplace, lower=lower, upper=upper,
                generator=generator)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False, *, generator=None):  # noqa: A002
    return rrelu(input, lower, upper, training, inplace=True, generator=generator)


def prelu(input, weight):  # noqa: A002
    """``x`` where positive, ``weight[c] * x`` elsewhere, with a learned slope per channel.

    Args:
        input: tensor whose dimension 1 holds the channels (``(N, C, ...)``).
        weight: 1-D tensor of size C (or 1 element, shared by all channels).

    Returns:
        A tensor of ``input``'s shape; differentiable with respect to ``weight``.
    """
    if weight._data.ndim > 1:
        raise runtime_error("prelu", "expected `weight` to be a scalar or 1D tensor, but got "
                                     f"ndim = {weight._data.ndim}")
    if input._data.dtype != weight._data.dtype:
        raise runtime_error("prelu", f"type promoting not supported. Got {input.dtype.name} "
                                     f"and {weight.dtype.name}")
    ndim, count = input._data.ndim, weight._data.size
    if count != 1:
        channels = input._data.shape[1] if ndim > 1 else 1
        if ndim == 0 or channels != count:
            raise shape_error("prelu", f"mismatch of parameter numbers and input channel size: "
                                       f"weight has {count} elements, input of shape "
                                       f"{tuple(input._data.shape)} has {channels} channels")
        if ndim > 2:
            weight = weight.reshape((count,) + (1,) * (ndim - 2))
    elif weight._data.ndim > ndim:
        weight = weight.reshape(())  # a 0-dim input keeps its shape, as in PyTorch
    return Prelu.apply(input, weight)


def glu(input, dim=-1):  # noqa: A002
    """Gated linear unit: split ``input`` in halves ``a, b`` along ``dim``; ``a * sigmoid(b)``.

    Args:
        input: tensor whose size along ``dim`` is even.
        dim: the dimension to halve.

    Returns:
        A tensor with half the size along ``dim``.
    """
    if input._data.ndim == 0:
        raise runtime_error("glu", "glu does not support scalars because halving size must "
                                   "be even")
    floating_only("glu", input)
    dim = norm_dim(dim, input._data.ndim, "glu")
    size = input._data.shape[dim]
    if size % 2:
        raise runtime_error("glu", f"halving dimension must be even, but dimension {dim} is "
                                   f"size {size} (input of shape {tuple(input._data.shape)})")
    half = size // 2
    return narrow(input, dim, 0, half) * narrow(input, dim, half, half).sigmoid()


# ---- smooth activations (ops in ember.ops._smooth) ----------------------------------------

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """Exponential linear unit: ``x`` for x > 0, else ``alpha * (exp(x) - 1)``."""
    floating_only("elu", input)
    return _run(_smooth.Elu, "elu", input, inplace, alpha=alpha, scale=1.0, input_scale=1.0)


def elu_(input, alpha=1.0):  # noqa: A002
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):  # noqa: A002
    """Scaled ELU: ``scale * elu(x, alpha)`` with the self-normalizing constants
    ``alpha = 1.6732632...`` and ``scale = 1.0507009...``."""
    floating_only("selu", input)
    return _run(_smooth.Elu, "selu", input, inplace, alpha=_SELU_ALPHA, scale=_SELU_SCALE,
                input_scale=1.0)


def selu_(input):  # noqa: A002
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):  # noqa: A002
    """Continuously differentiable ELU: ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    floating_only("celu", input)
    if alpha == 0:
        raise runtime_error("celu", "ZeroDivisionError: alpha cannot be 0 for CELU")
    return _run(_smooth.Elu, "celu", input, inplace, alpha=alpha, scale=1.0,
                input_scale=1.0 / alpha)


def celu_(input, alpha=1.0):  # noqa: A002
    return celu(input, alpha, inplace=True)


def gelu(input, approximate="none"):  # noqa: A002
    """Gaussian error linear unit, ``x * Phi(x)`` with Phi the standard normal CDF.

    ``approximate='none'`` computes ``0.5 x (1 + erf(x / sqrt(2)))`` exactly;
    ``'tanh'`` uses ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``.
    """
    if approximate not in ("none", "tanh"):
        raise runtime_error("gelu", f"approximate argument must be either none or tanh "
                                    f"(got {approximate!r})")
    floating_only("gelu", input)
    return _smooth.Gelu.apply(input, approximate=approximate)


def silu(input, inplace=False):  # noqa: A002
    """Sigmoid linear unit (swish), ``x * sigmoid(x)``."""
    floating_only("silu", input)
    return _run(_smooth.Silu, "silu", input, inplace)


def mish(input, inplace=False):  # noqa: A002
    """``x * tanh(softplus(x))``."""
    floating_only("mish", input)
    return _run(_smooth.Mish, "mish", input, inplace)


def hardswish(input, inplace=False):  # noqa: A002
    """``x * relu6(x + 3) / 6``."""
    floating_only("hardswish", input)
    return _run(_smooth.Hardswish, "hardswish", input, inplace)


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    """``log(1 + exp(beta * x)) / beta``; ``x`` itself where ``beta * x > threshold``,
    where the two agree to within float precision (as PyTorch does)."""
    floating_only("softplus", input)
    return _smooth.Softplus.apply(input, beta=beta, threshold=threshold)


def logsigmoid(input):  # noqa: A002
    """``log(sigmoid(x))``, computed as ``min(x, 0) - log(1 + exp(-|x|))`` to stay finite."""
    floating_only("logsigmoid", input)
    return _smooth.Logsigmoid.apply(input)


def tanhshrink(input):  # noqa: A002
    """``x - tanh(x)``; integer tensors compute in the default float dtype."""
    return _smooth.Tanhshrink.apply(as_float("tanhshrink", input))


def softsign(input):  # noqa: A002
    """``x / (1 + |x|)``; integer tensors compute in the default float dtype."""
    return _smooth.Softsign.apply(as_float("softsign", input))


FUNCTIONAL = [
    "relu", "relu_", "relu6", "hardtanh", "hardtanh_", "leaky_relu", "leaky_relu_",
    "hardsigmoid", "hardshrink", "softshrink", "threshold", "threshold_", "rrelu", "rrelu_",
    "prelu", "glu", "elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu", "silu", "mish",
    "hardswish", "softplus", "logsigmoid", "tanhshrink", "softsign",
]
METHODS = {"relu": relu, "relu_": relu_, "hardshrink": hardshrink, "prelu": prelu}
