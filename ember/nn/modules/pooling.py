"""Pooling layers: max, average, adaptive max and average pooling, and max unpooling.

They hold no parameters; each stores its arguments as PyTorch does (``MaxPool2d(2)``
keeps ``kernel_size=2``, ``AvgPool1d(2)`` keeps ``(2,)``) and calls ``F``.
"""

from ember.nn import functional as F
from ember.nn.module import Module
from ember.nn.modules._ntuple import _pair, _single

__all__ = [
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "MaxPool1d",
    "MaxPool2d",
    "MaxUnpool1d",
    "MaxUnpool2d",
]


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """The maximum over each window of ``(N, C, L)`` or ``(C, L)`` inputs.

    Args:
        kernel_size: the window's length.
        stride: the step between windows (default ``kernel_size``).
        padding: implicit ``-inf`` padding on both sides.
        dilation: the step between elements of a window.
        return_indices: also return the flat index of each maximum (for ``MaxUnpool1d``).
        ceil_mode: round the output length up instead of down.

    Example:
        >>> import ember
        >>> MaxPool1d(3, stride=2)(ember.randn(20, 16, 50)).shape
        ember.Size([20, 16, 24])
    """

    def forward(self, input):  # noqa: A002
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool2d(_MaxPoolNd):
    """The maximum over each window of ``(N, C, H, W)`` or ``(C, H, W)`` inputs.

    Arguments as ``MaxPool1d``, each an int or a pair ``(height, width)``.

    Example:
        >>> import ember
        >>> MaxPool2d((3, 2), stride=(2, 1))(ember.randn(2, 4, 10, 8)).shape
        ember.Size([2, 4, 4, 7])
    """

    def forward(self, input):  # noqa: A002
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class _AvgPoolNd(Module):
    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """The mean over each window of ``(N, C, L)`` or ``(C, L)`` inputs.

    Args:
        kernel_size: the window's length.
        stride: the step between windows (default ``kernel_size``).
        padding: implicit zero padding on both sides.
        ceil_mode: round the output length up instead of down.
        count_include_pad: count the padding zeros in each mean's divisor.

    Example:
        >>> import ember
        >>> AvgPool1d(3, stride=2)(ember.ones(1, 1, 7)).tolist()
        [[[1.0, 1.0, 1.0]]]
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input):  # noqa: A002
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """The mean over each window of ``(N, C, H, W)`` or ``(C, H, W)`` inputs.

    Arguments as ``AvgPool1d`` (ints or pairs), plus ``divisor_override``: divide every
    window's sum by this number instead.

    Example:
        >>> import ember
        >>> AvgPool2d(2)(ember.randn(2, 3, 8, 6)).shape
        ember.Size([2, 3, 4, 3])
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):  # noqa: A002
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class _AdaptiveMaxPoolNd(Module):
    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Max pooling with the windows chosen so the output has length ``output_size``.

    Example:
        >>> import ember
        >>> AdaptiveMaxPool1d(5)(ember.randn(1, 64, 8)).shape
        ember.Size([1, 64, 5])
    """

    def forward(self, input):  # noqa: A002
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Max pooling to an output of size ``output_size`` (an int, a pair; None keeps a size).

    Example:
        >>> import ember
        >>> AdaptiveMaxPool2d((5, None))(ember.randn(1, 64, 10, 9)).shape
        ember.Size([1, 64, 5, 9])
    """

    def forward(self, input):  # noqa: A002
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class _AdaptiveAvgPoolNd(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Average pooling with the windows chosen so the output has length ``output_size``.

    Example:
        >>> import ember
        >>> AdaptiveAvgPool1d(5)(ember.randn(1, 64, 8)).shape
        ember.Size([1, 64, 5])
    """

    def forward(self, input):  # noqa: A002
        return F.adaptive_avg_pool1d(input, self.output_size)


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Average pooling to an output of size ``output_size`` (an int, a pair; None keeps a
    size). ``AdaptiveAvgPool2d(1)`` is global average pooling.

    Example:
        >>> import ember
        >>> AdaptiveAvgPool2d(1)(ember.randn(2, 64, 7, 7)).shape
        ember.Size([2, 64, 1, 1])
    """

    def forward(self, input):  # noqa: A002
        return F.adaptive_avg_pool2d(input, self.output_size)


class _MaxUnpoolNd(Module):
    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """The partial inverse of ``MaxPool1d``: each value goes back to its maximum's index,
    every other element is zero.

    ``forward(input, indices, output_size=None)`` with the indices ``MaxPool1d`` returned.
    """

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)

    def forward(self, input, indices, output_size=None):  # noqa: A002
        return F.max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)


class MaxUnpool2d(_MaxUnpoolNd):
    """The partial inverse of ``MaxPool2d``; arguments as ``MaxUnpool1d``, ints or pairs."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride if stride is not None else kernel_size)
        self.padding = _pair(padding)

    def forward(self, input, indices, output_size=None):  # noqa: A002
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                              output_size)
