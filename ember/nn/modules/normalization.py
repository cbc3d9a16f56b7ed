"""Normalization over the last dimensions or groups: ``LayerNorm``, ``GroupNorm``,
``RMSNorm``."""

import numbers

from ember.creation import empty
from ember.nn import functional as F
from ember.nn import init
from ember.nn.module import Module
from ember.nn.parameter import Parameter

__all__ = ["GroupNorm", "LayerNorm", "RMSNorm"]


def _as_shape(normalized_shape):
    if isinstance(normalized_shape, numbers.Integral):
        return (normalized_shape,)
    return tuple(normalized_shape)


class LayerNorm(Module):
    """Normalize over the last ``len(normalized_shape)`` dimensions of each sample.

    ``y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias`` (biased variance).

    Args:
        normalized_shape: the trailing shape to normalize over (an int for the last one).
        eps: added to the variance.
        elementwise_affine: learn ``weight`` (init 1) and ``bias`` (init 0) of that shape.
        bias: learn ``bias`` (with ``elementwise_affine``).
        device, dtype: where and in which dtype the parameters are made (CPU only).

    Example:
        >>> import ember
        >>> LayerNorm([10])(ember.randn(20, 5, 10)).shape
        ember.Size([20, 5, 10])
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        make = {"device": device, "dtype": dtype}
        affine = elementwise_affine
        self.register_parameter("weight", Parameter(empty(self.normalized_shape, **make))
                                if affine else None)
        self.register_parameter("bias", Parameter(empty(self.normalized_shape, **make))
                                if affine and bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        """Weight 1 and bias 0."""
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):  # noqa: A002
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine="
                f"{self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Normalize each sample over groups of channels (and all positions).

    The ``C`` channels of ``(N, C, *)`` form ``num_groups`` groups; each group of each
    sample is normalized on its own, then scaled and shifted per channel.

    Args:
        num_groups: the number of groups (must divide ``num_channels``).
        num_channels: the number of channels ``C``.
        eps: added to the variance.
        affine: learn ``weight`` (init 1) and ``bias`` (init 0) per channel.
        device, dtype: where and in which dtype the parameters are made (CPU only).
        bias: learn ``bias`` (keyword only; with ``affine``).

    Example:
        >>> import ember
        >>> GroupNorm(3, 6)(ember.randn(20, 6, 10, 10)).shape
        ember.Size([20, 6, 10, 10])
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        make = {"device": device, "dtype": dtype}
        self.register_parameter("weight", Parameter(empty(num_channels, **make))
                                if affine else None)
        self.register_parameter("bias", Parameter(empty(num_channels, **make))
                                if affine and bias else None)
        self.reset_parameters()

    def reset_parameters(self):
        """Weight 1 and bias 0."""
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):  # noqa: A002
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalization over the last dimensions: ``y = x / sqrt(mean(x^2) +
    eps) * weight``.

    Args:
        normalized_shape: the trailing shape to normalize over (an int for the last one).
        eps: added to the mean square; None means the dtype's machine epsilon.
        elementwise_affine: learn ``weight`` (init 1) of that shape.
        device, dtype: where and in which dtype the parameters are made (CPU only).

    Example:
        >>> import ember
        >>> RMSNorm([2, 3])(ember.randn(2, 2, 3)).shape
        ember.Size([2, 2, 3])
    """

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.register_parameter("weight", Parameter(empty(
            self.normalized_shape, device=device, dtype=dtype)) if elementwise_affine else None)
        self.reset_parameters()

    def reset_parameters(self):
        """Weight 1."""
        if self.elementwise_affine:
            init.ones_(self.weight)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
