"""Convolution layers: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d/3d``.

The layers hold the weight and the geometry; the arithmetic is ``F.conv*`` and
``F.conv_transpose*``. A ``padding_mode`` other than ``'zeros'`` pads the input with
``F.pad`` first and convolves without padding, as PyTorch does.
"""

import math

from ember.creation import empty
from ember.nn import functional as F
from ember.nn import init
from ember.nn.module import Module
from ember.nn.modules._ntuple import _ntuple, _reverse_repeat_tuple
from ember.nn.modules.linear import _uniform_bias
from ember.nn.parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
           "ConvTranspose3d"]

_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}


class _ConvNd(Module):
    """What every convolution layer shares: checks, parameters, initialization, repr.

    Subclasses set ``_nd`` (the number of spatial dimensions) and ``transposed``.
    """

    _nd = 0
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__()
        expand = _ntuple(self._nd, "_expand")
        stride = expand(stride)
        _check_geometry(in_channels, out_channels, groups, padding, stride, padding_mode)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = expand(kernel_size)
        self.stride = stride
        self.padding = padding if isinstance(padding, str) else expand(padding)
        self.dilation = expand(dilation)
        self.output_padding = expand(0)  # a transposed convolution sets its own
        self.groups = groups
        self.padding_mode = padding_mode
        self._reversed_padding_repeated_twice = self._padding_for_f_pad()
        channels = ((in_channels, out_channels // groups) if self.transposed
                    else (out_channels, in_channels // groups))
        make = {"device": device, "dtype": dtype}
        self.weight = Parameter(empty(channels + self.kernel_size, **make))
        self.register_parameter("bias", Parameter(empty(out_channels, **make)) if bias else None)
        self.reset_parameters()

    def _padding_for_f_pad(self):
        """The padding as ``F.pad`` takes it: (last-dim before, after, previous dim ...)."""
        if not isinstance(self.padding, str):
            return _reverse_repeat_tuple(self.padding, 2)
        pads = [0, 0] * self._nd
        if self.padding == "same":
            # An odd total goes one more to the end, as PyTorch's 'same' does.
            for i, (d, k) in enumerate(zip(self.dilation, self.kernel_size)):
                total = d * (k - 1)
                j = self._nd - 1 - i
                pads[2 * j], pads[2 * j + 1] = total // 2, total - total // 2
        return tuple(pads)

    def reset_parameters(self):
        """Draw new weights and bias: ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for both."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            _uniform_bias(self.bias, self.weight)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def forward(self, input):  # noqa: A002
        return self._conv_forward(input, self.weight, self.bias)

    def _conv_forward(self, input, weight, bias):  # noqa: A002
        """Convolve ``input`` with the given weight and bias and this layer's geometry."""
        if self.padding_mode != "zeros":
            input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return self._conv(input, weight, bias, 0)
        return self._conv(input, weight, bias, self.padding)


def _check_geometry(in_channels, out_channels, groups, padding, stride, padding_mode):
    if groups <= 0:
        raise ValueError("groups must be a positive integer")
    if in_channels % groups != 0:
        raise ValueError("in_channels must be divisible by groups")
    if out_channels % groups != 0:
        raise ValueError("out_channels must be divisible by groups")
    if isinstance(padding, str):
        if padding not in {"same", "valid"}:
            raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                             f"{{'same', 'valid'}}")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, but got "
                         f"padding_mode='{padding_mode}'")


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation) over ``(N, C_in, L)`` or ``(C_in, L)`` inputs.

    ``out[n, j] = bias[j] + sum_k weight[j, k] ⋆ input[n, k]`` over the ``in_channels /
    groups`` channels of ``j``'s group.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size: the kernel's length (an int or a 1-tuple).
        stride, dilation: an int or a 1-tuple (default 1).
        padding: an int, a 1-tuple, ``'valid'`` or ``'same'`` (default 0).
        groups: split the channels into this many independent convolutions.
        bias: learn an additive bias per output channel.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        device, dtype: where and in which dtype the parameters are made (CPU only).

    Attributes:
        weight: ``(out_channels, in_channels / groups, kernel_size)``; weight and bias from
            ``U(-sqrt(k), sqrt(k))``, ``k = groups / (in_channels * kernel_size)``.

    Example:
        >>> import ember
        >>> Conv1d(16, 33, 3, stride=2)(ember.randn(20, 16, 50)).shape
        ember.Size([20, 33, 24])
    """

    _nd = 1

    def _conv(self, input, weight, bias, padding):  # noqa: A002
        return F.conv1d(input, weight, bias, self.stride, padding, self.dilation, self.groups)


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) over ``(N, C_in, H, W)`` or ``(C_in, H, W)``.

    Arguments as ``Conv1d``, with ints or pairs ``(height, width)`` for ``kernel_size``,
    ``stride``, ``padding`` and ``dilation``.

    Attributes:
        weight: ``(out_channels, in_channels / groups, kH, kW)``; weight and bias from
            ``U(-sqrt(k), sqrt(k))``, ``k = groups / (in_channels * kH * kW)``.

    Example:
        >>> import ember
        >>> m = Conv2d(16, 33, (3, 5), stride=(2, 1), padding=(4, 2))
        >>> m(ember.randn(2, 16, 10, 12)).shape
        ember.Size([2, 33, 8, 12])
    """

    _nd = 2

    def _conv(self, input, weight, bias, padding):  # noqa: A002
        return F.conv2d(input, weight, bias, self.stride, padding, self.dilation, self.groups)


class Conv3d(_ConvNd):
    """3-D convolution over ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``.

    Arguments as ``Conv1d``, with ints or triples for the geometry.
    """

    _nd = 3

    def _conv(self, input, weight, bias, padding):  # noqa: A002
        return F.conv3d(input, weight, bias, self.stride, padding, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    """What the transposed convolutions share: their argument order and ``output_size``."""

    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f"{type(self).__name__}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, device, dtype)
        self.output_padding = _ntuple(self._nd, "_expand")(output_padding)

    def forward(self, input, output_size=None):  # noqa: A002
        output_padding = self._output_padding(input, output_size, self.stride, self.padding,
                                              self.kernel_size, self._nd, self.dilation)
        return self._conv_transpose(input, output_padding)

    def _output_padding(self, input, output_size, stride, padding, kernel_size,  # noqa: A002
                        num_spatial_dims, dilation=None):
        """``output_padding``, or the padding that gives the requested ``output_size``
        (PyTorch's signature, which subclasses call)."""
        if output_size is None:
            return self.output_padding
        nd = num_spatial_dims
        batch_dims = 2 if input.dim() == nd + 2 else 1
        output_size = list(output_size)
        if len(output_size) == batch_dims + nd:
            output_size = output_size[batch_dims:]
        if len(output_size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.dim()}D input, output_size must "
                             f"have {nd} or {batch_dims + nd} elements (got {len(output_size)})")
        dilation = dilation if dilation is not None else (1,) * nd
        min_sizes = [(input.shape[d + batch_dims] - 1) * stride[d] - 2 * padding[d]
                     + dilation[d] * (kernel_size[d] - 1) + 1 for d in range(nd)]
        max_sizes = [m + s - 1 for m, s in zip(min_sizes, stride)]
        for size, low, high in zip(output_size, min_sizes, max_sizes):
            if size < low or size > high:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                                 f"range from {min_sizes} to {max_sizes} (for an input of "
                                 f"{input.shape[batch_dims:]})")
        return tuple(size - low for size, low in zip(output_size, min_sizes))


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution (the gradient of ``Conv1d`` with respect to its input).

    ``L_out = (L_in - 1) * stride - 2 * padding + dilation * (kernel_size - 1)
    + output_padding + 1``.

    Args:
        in_channels, out_channels: channels of the input and of the output.
        kernel_size, stride, padding, output_padding, dilation: ints or 1-tuples.
        groups: split the channels into this many independent convolutions.
        bias: learn an additive bias per output channel.
        padding_mode: only ``'zeros'``.
        device, dtype: where and in which dtype the parameters are made (CPU only).

    Attributes:
        weight: ``(in_channels, out_channels / groups, kernel_size)``; weight and bias from
            ``U(-sqrt(k), sqrt(k))``, ``k = groups / (out_channels * kernel_size)``.

    Example:
        >>> import ember
        >>> ConvTranspose1d(4, 2, 3, stride=2)(ember.randn(1, 4, 5)).shape
        ember.Size([1, 2, 11])
    """

    _nd = 1

    def _conv_transpose(self, input, output_padding):  # noqa: A002
        return F.conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution; arguments as ``ConvTranspose1d`` with ints or pairs.

    ``forward(input, output_size=None)``: ``output_size`` picks among the output sizes a
    strided convolution could have come from.

    Example:
        >>> import ember
        >>> up = ConvTranspose2d(16, 16, 3, stride=2, padding=1)
        >>> up(ember.randn(1, 16, 6, 6), output_size=[1, 16, 12, 12]).shape
        ember.Size([1, 16, 12, 12])
    """

    _nd = 2

    def _conv_transpose(self, input, output_padding):  # noqa: A002
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)


class ConvTranspose3d(_ConvTransposeNd):
    """3-D transposed convolution; arguments as ``ConvTranspose1d`` with ints or triples."""

    _nd = 3

    def _conv_transpose(self, input, output_padding):  # noqa: A002
        return F.conv_transpose3d(input, self.weight, self.bias, self.stride, self.padding,
                                  output_padding, self.groups, self.dilation)
