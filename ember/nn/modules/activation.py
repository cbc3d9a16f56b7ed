"""Activation layers: each one stores its constructor arguments and calls ``F.<name>``.

Attribute names, ``inplace`` flags and ``repr`` are PyTorch's, so a printed model reads
the same in both frameworks.
"""

import warnings

from ember.creation import empty
from ember.nn import functional as F, init
from ember.nn.module import Module
from ember.nn.parameter import Parameter

__all__ = [
    "Threshold", "ReLU", "RReLU", "Hardtanh", "ReLU6", "Sigmoid", "Hardsigmoid", "Tanh",
    "SiLU", "Mish", "Hardswish", "ELU", "CELU", "SELU", "GLU", "GELU", "Hardshrink",
    "LeakyReLU", "LogSigmoid", "Softplus", "Softshrink", "PReLU", "Softsign", "Tanhshrink",
    "Softmin", "Softmax", "Softmax2d", "LogSoftmax",
]


def _inplace_suffix(inplace, first=False):
    """PyTorch's repr shows ``inplace`` only when it is True."""
    if not inplace:
        return ""
    return "inplace=True" if first else ", inplace=True"


class _Inplace(Module):
    """An activation whose only argument is ``inplace`` (overwrite the input)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def extra_repr(self):
        return _inplace_suffix(self.inplace, first=True)


class Threshold(Module):
    """``y = x if x > threshold else value``.

    Args:
        threshold: the value to threshold at.
        value: the value that replaces inputs at or below ``threshold``.
        inplace: overwrite the input.
    """

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold = threshold
        self.value = value
        self.inplace = inplace

    def forward(self, input):  # noqa: A002
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}{_inplace_suffix(self.inplace)}"


class ReLU(_Inplace):
    """``y = max(0, x)``.

    Example:
        >>> import ember
        >>> ReLU()(ember.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """

    def forward(self, input):  # noqa: A002
        return F.relu(input, inplace=self.inplace)


class RReLU(Module):
    """Randomized leaky ReLU: ``y = x if x >= 0 else a x``, ``a ~ U(lower, upper)`` per
    element in training and ``a = (lower + upper) / 2`` in eval.

    Args:
        lower, upper: the range of the random negative slope.
        inplace: overwrite the input.
    """

    def __init__(self, lower=1.0 / 8, upper=1.0 / 3, inplace=False):
        super().__init__()
        self.lower = lower
        self.upper = upper
        self.inplace = inplace

    def forward(self, input):  # noqa: A002
        return F.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self):
        return f"lower={self.lower}, upper={self.upper}{_inplace_suffix(self.inplace)}"


class Hardtanh(Module):
    """``y = clamp(x, min_val, max_val)``.

    Args:
        min_val, max_val: the ends of the linear region (``max_val > min_val``).
        inplace: overwrite the input.
        min_value, max_value: deprecated spellings of ``min_val`` and ``max_val``.
    """

    def __init__(self, min_val=-1.0, max_val=1.0, inplace=False, min_value=None,
                 max_value=None):
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to "
                          "`min_val`", FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to "
                          "`max_val`", FutureWarning, stacklevel=2)
            max_val = max_value
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace
        if max_val <= min_val:
            raise AssertionError(f"max_val ({max_val}) must be greater than min_val "
                                 f"({min_val})")

    def forward(self, input):  # noqa: A002
        return F.hardtanh(input, self.min_val, self.max_val, self.inplace)

    def extra_repr(self):
        return (f"min_val={self.min_val}, max_val={self.max_val}"
                f"{_inplace_suffix(self.inplace)}")


class ReLU6(Hardtanh):
    """``y = min(max(0, x), 6)``: ``Hardtanh(0, 6)``."""

    def __init__(self, inplace=False):
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self):
        return _inplace_suffix(self.inplace, first=True)


class Sigmoid(Module):
    """``y = 1 / (1 + exp(-x))``."""

    def forward(self, input):  # noqa: A002
        return F.sigmoid(input)


class Hardsigmoid(_Inplace):
    """``y = clamp(x / 6 + 1 / 2, 0, 1)`` (PyTorch prints no arguments for it)."""

    def forward(self, input):  # noqa: A002
        return F.hardsigmoid(input, self.inplace)

    def extra_repr(self):
        return ""


class Tanh(Module):
    """``y = tanh(x)``."""

    def forward(self, input):  # noqa: A002
        return F.tanh(input)


class SiLU(_Inplace):
    """``y = x * sigmoid(x)`` (swish)."""

    def forward(self, input):  # noqa: A002
        return F.silu(input, inplace=self.inplace)


class Mish(_Inplace):
    """``y = x * tanh(softplus(x))``."""

    def forward(self, input):  # noqa: A002
        return F.mish(input, inplace=self.inplace)


class Hardswish(_Inplace):
    """``y = x * relu6(x + 3) / 6`` (PyTorch prints no arguments for it)."""

    def forward(self, input):  # noqa: A002
        return F.hardswish(input, self.inplace)

    def extra_repr(self):
        return ""


class _Alpha(Module):
    """An exponential unit with a negative saturation parameter ``alpha``."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def extra_repr(self):
        return f"alpha={self.alpha}{_inplace_suffix(self.inplace)}"


class ELU(_Alpha):
    """``y = x if x > 0 else alpha (exp(x) - 1)``.

    Args:
        alpha: the saturation value for negative inputs is ``-alpha``.
        inplace: overwrite the input.
    """

    def forward(self, input):  # noqa: A002
        return F.elu(input, self.alpha, self.inplace)


class CELU(_Alpha):
    """``y = max(0, x) + min(0, alpha (exp(x / alpha) - 1))``.

    Args:
        alpha: the saturation value for negative inputs is ``-alpha``.
        inplace: overwrite the input.
    """

    def forward(self, input):  # noqa: A002
        return F.celu(input, self.alpha, self.inplace)


class SELU(_Inplace):
    """``y = scale * elu(x, alpha)`` with SELU's fixed ``alpha`` and ``scale``."""

    def forward(self, input):  # noqa: A002
        return F.selu(input, self.inplace)


class GLU(Module):
    """Gated linear unit: split ``x`` in halves ``a, b`` along ``dim``; ``y = a * sigmoid(b)``.

    Args:
        dim: the dimension to split (its size must be even).
    """

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, input):  # noqa: A002
        return F.glu(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class GELU(Module):
    """``y = x * Phi(x)``, ``Phi`` the standard normal CDF (or its tanh approximation).

    Args:
        approximate: ``'none'`` (exact) or ``'tanh'``.
    """

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):  # noqa: A002
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Hardshrink(Module):
    """``y = x if |x| > lambd else 0``."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):  # noqa: A002
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class LeakyReLU(Module):
    """``y = x if x >= 0 else negative_slope * x``.

    Args:
        negative_slope: the slope for negative inputs.
        inplace: overwrite the input.
    """

    def __init__(self, negative_slope=1e-2, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):  # noqa: A002
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}{_inplace_suffix(self.inplace)}"


class LogSigmoid(Module):
    """``y = log(sigmoid(x))``, computed stably."""

    def forward(self, input):  # noqa: A002
        return F.logsigmoid(input)


class Softplus(Module):
    """``y = log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):  # noqa: A002
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softshrink(Module):
    """``y = x - lambd if x > lambd, x + lambd if x < -lambd, else 0``."""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):  # noqa: A002
        return F.softshrink(input, self.lambd)

    def extra_repr(self):
        return str(self.lambd)


class PReLU(Module):
    """``y = x if x >= 0 else a x`` with a learned slope ``a`` (one, or one per channel).

    Args:
        num_parameters: 1, or the number of channels (dimension 1 of the input).
        init: the initial value of ``a``.
        device, dtype: where and in which dtype the weight is made (CPU only).

    Attributes:
        weight: ``(num_parameters,)``, filled with ``init``.
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(empty(num_parameters, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self):
        """Fill the weight with ``init`` again."""
        init.constant_(self.weight, self.init)

    def forward(self, input):  # noqa: A002
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softsign(Module):
    """``y = x / (1 + |x|)``."""

    def forward(self, input):  # noqa: A002
        return F.softsign(input)


class Tanhshrink(Module):
    """``y = x - tanh(x)``."""

    def forward(self, input):  # noqa: A002
        return F.tanhshrink(input)


class _AlongDim(Module):
    """A normalization along ``dim`` (None: PyTorch's deprecated implicit choice)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def extra_repr(self):
        return f"dim={self.dim}"


class Softmin(_AlongDim):
    """``y = softmax(-x)`` along ``dim``."""

    def forward(self, input):  # noqa: A002
        return F.softmin(input, self.dim, _stacklevel=5)


class Softmax(_AlongDim):
    """``y_i = exp(x_i) / sum_j exp(x_j)`` along ``dim``.

    Example:
        >>> import ember
        >>> Softmax(dim=0)(ember.zeros(4)).tolist()
        [0.25, 0.25, 0.25, 0.25]
    """

    def forward(self, input):  # noqa: A002
        return F.softmax(input, self.dim, _stacklevel=5)


class LogSoftmax(_AlongDim):
    """``y = log(softmax(x))`` along ``dim``, computed stably."""

    def forward(self, input):  # noqa: A002
        return F.log_softmax(input, self.dim, _stacklevel=5)


class Softmax2d(Module):
    """Softmax over the channels at each location of a ``(N, C, H, W)`` or ``(C, H, W)``
    input."""

    def forward(self, input):  # noqa: A002
        if input.dim() not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D "
                             "instead")
        return F.softmax(input, -3, _stacklevel=5)
