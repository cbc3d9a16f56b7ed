"""MobileNetV2, with torchvision's layout, names and initialization."""

from ember.models._weights import refuse_pretrained
from ember.nn import functional as F
from ember.nn import init
from ember.nn.containers import Sequential
from ember.nn.module import Module
from ember.nn.modules.activation import ReLU, ReLU6
from ember.nn.modules.batchnorm import BatchNorm2d
from ember.nn.modules.conv import Conv2d
from ember.nn.modules.dropout import Dropout
from ember.nn.modules.linear import Linear
from ember.nn.modules.normalization import GroupNorm

__all__ = ["Conv2dNormActivation", "InvertedResidual", "MobileNetV2", "mobilenet_v2"]

# t (expansion), c (output channels), n (blocks), s (stride of the first block).
_SETTING = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
]


def _make_divisible(v, divisor, min_value=None):
    """``v`` rounded to the nearest multiple of ``divisor``, never 10% below ``v``."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class Conv2dNormActivation(Sequential):
    """Convolution, normalization, activation: modules ``0``, ``1``, ``2``.

    Args:
        in_channels, out_channels, kernel_size, stride, groups, dilation: of the
            convolution.
        padding: default ``(kernel_size - 1) // 2 * dilation`` (keeps the size).
        norm_layer: constructor called with ``out_channels``, or None for none.
        activation_layer: constructor, or None for none.
        inplace: passed to the activation (None: not passed).
        bias: of the convolution; default: only when there is no normalization.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=None,
                 groups=1, norm_layer=BatchNorm2d, activation_layer=ReLU, dilation=1,
                 inplace=True, bias=None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm_layer is None
        layers = [Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                         dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(**({} if inplace is None else {"inplace": inplace})))
        super().__init__(*layers)
        self.out_channels = out_channels


class InvertedResidual(Module):
    """MobileNetV2's block: 1×1 expansion, 3×3 depthwise, 1×1 linear projection.

    ``conv``: Conv2dNormActivation(inp → inp·t, 1×1, ReLU6) (absent when ``t == 1``),
    Conv2dNormActivation(depthwise 3×3 with ``stride``, ReLU6), Conv2d(→ oup, 1×1), norm.
    The input is added when the shape stays (stride 1 and ``inp == oup``).

    Args:
        inp, oup: input and output channels.
        stride: 1 or 2.
        expand_ratio: ``t``, the expansion of the hidden channels.
        norm_layer: the normalization's constructor (default ``BatchNorm2d``).
    """

    def __init__(self, inp, oup, stride, expand_ratio, norm_layer=None):
        super().__init__()
        self.stride = stride
        if stride not in [1, 2]:
            raise ValueError(f"stride should be 1 or 2 instead of {stride}")
        norm_layer = BatchNorm2d if norm_layer is None else norm_layer
        hidden_dim = round(inp * expand_ratio)
        self.use_res_connect = self.stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=ReLU6))
        layers += [
            Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim,
                                 norm_layer=norm_layer, activation_layer=ReLU6),
            Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
            norm_layer(oup),
        ]
        self.conv = Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(Module):
    """MobileNetV2 (Sandler et al., 2018), for ``3×224×224`` images.

    ``features``: a 3×3 stride-2 convolution to 32 channels, 17 ``InvertedResidual``
    blocks (the ``(t, c, n, s)`` table of the paper), a 1×1 convolution to 1280 channels
    (all with batch norm and ReLU6); then global average pooling and ``classifier``:
    Dropout, Linear(1280, num_classes). Convolutions ``kaiming_normal_`` (fan_out), norms
    weight 1, linear ``N(0, 0.01)``, biases 0. 3,504,872 parameters with 1000 classes.
    The size shrinks 32 times; any input of at least ``32×32`` works.

    Args:
        num_classes: the number of outputs.
        width_mult: scales every channel count (rounded to ``round_nearest``).
        inverted_residual_setting: the ``[[t, c, n, s], ...]`` table (default the paper's).
        round_nearest: channel counts are multiples of this.
        block: the block's constructor (default ``InvertedResidual``).
        norm_layer: the normalization's constructor (default ``BatchNorm2d``).
        dropout: the dropout probability before the classifier.

    Shape:
        input ``(N, 3, H, W)``, output ``(N, num_classes)``.
    """

    def __init__(self, num_classes=1000, width_mult=1.0, inverted_residual_setting=None,
                 round_nearest=8, block=None, norm_layer=None, dropout=0.2):
        super().__init__()
        block = InvertedResidual if block is None else block
        norm_layer = BatchNorm2d if norm_layer is None else norm_layer
        setting = _SETTING if inverted_residual_setting is None else inverted_residual_setting
        if len(setting) == 0 or len(setting[0]) != 4:
            raise ValueError("inverted_residual_setting should be non-empty or a 4-element "
                             f"list, got {setting}")
        input_channel = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, input_channel, stride=2, norm_layer=norm_layer,
                                         activation_layer=ReLU6)]
        for t, c, n, s in setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(block(input_channel, output_channel, s if i == 0 else 1,
                                      expand_ratio=t, norm_layer=norm_layer))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1,
                                             norm_layer=norm_layer, activation_layer=ReLU6))
        self.features = Sequential(*features)
        self.classifier = Sequential(Dropout(p=dropout), Linear(self.last_channel, num_classes))
        for m in self.modules():
            _init_mobilenet(m)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(x.flatten(1))


def _init_mobilenet(m):
    if isinstance(m, Conv2d):
        init.kaiming_normal_(m.weight, mode="fan_out")
        if m.bias is not None:
            init.zeros_(m.bias)
    elif isinstance(m, (BatchNorm2d, GroupNorm)):
        init.ones_(m.weight)
        init.zeros_(m.bias)
    elif isinstance(m, Linear):
        init.normal_(m.weight, 0, 0.01)
        init.zeros_(m.bias)


def mobilenet_v2(*, weights=None, progress=True, **kwargs):
    """MobileNetV2 (see ``MobileNetV2``): 3,504,872 parameters with 1000 classes.

    Args:
        weights: must be None; ember does not download pretrained weights (load a state
            dict file instead: the parameter names are torchvision's).
        progress: accepted for torchvision compatibility; unused.
        **kwargs: for ``MobileNetV2``: ``num_classes``, ``width_mult``, ``dropout``,
            ``inverted_residual_setting``, ``round_nearest``, ``block``, ``norm_layer``;
            and ``pretrained=False``.

    Returns:
        A ``MobileNetV2`` in training mode.

    Example:
        >>> import ember
        >>> model = mobilenet_v2(num_classes=10, width_mult=0.5).eval()
        >>> model(ember.randn(1, 3, 32, 32)).shape
        ember.Size([1, 10])
    """
    refuse_pretrained("mobilenet_v2", weights, kwargs)
    return MobileNetV2(**kwargs)
