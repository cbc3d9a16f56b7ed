"""VGG-11 and VGG-16, with and without batch normalization, as torchvision builds them."""

from ember.models._weights import refuse_pretrained
from ember.nn import init
from ember.nn.containers import Sequential
from ember.nn.module import Module
from ember.nn.modules.activation import ReLU
from ember.nn.modules.batchnorm import BatchNorm2d
from ember.nn.modules.conv import Conv2d
from ember.nn.modules.dropout import Dropout
from ember.nn.modules.linear import Linear
from ember.nn.modules.pooling import AdaptiveAvgPool2d, MaxPool2d

__all__ = ["VGG", "make_layers", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn"]

# Output channels of each 3×3 convolution; "M" is a 2×2 max pooling. torchvision's names:
# "A" is VGG-11, "D" is VGG-16.
CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M"],
}


class VGG(Module):
    """A VGG network: convolutional ``features``, then a three-layer classifier.

    ``features`` (from ``make_layers``) ends with 512 channels at 1/32 of the input size;
    ``avgpool`` makes it ``7×7``; ``classifier``: Linear(25088, 4096), ReLU, Dropout,
    Linear(4096, 4096), ReLU, Dropout, Linear(4096, num_classes). Any input of at least
    ``32×32`` works (``224×224`` is the usual).

    Args:
        features: the convolutional part, a ``Sequential``.
        num_classes: the number of outputs.
        init_weights: initialize as torchvision does: convolutions ``kaiming_normal_``
            (fan_out, ReLU) with zero bias, batch norms weight 1 and bias 0, linear layers
            ``N(0, 0.01)`` with zero bias. Else the layers keep their default
            initialization.
        dropout: the dropout probability of the classifier.

    Shape:
        input ``(N, 3, H, W)``, output ``(N, num_classes)``.
    """

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = AdaptiveAvgPool2d((7, 7))
        self.classifier = Sequential(
            Linear(512 * 7 * 7, 4096), ReLU(True), Dropout(p=dropout),
            Linear(4096, 4096), ReLU(True), Dropout(p=dropout),
            Linear(4096, num_classes),
        )
        if init_weights:
            self.apply(_init_vgg)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _init_vgg(m):
    if isinstance(m, Conv2d):
        init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if m.bias is not None:
            init.constant_(m.bias, 0)
    elif isinstance(m, BatchNorm2d):
        init.constant_(m.weight, 1)
        init.constant_(m.bias, 0)
    elif isinstance(m, Linear):
        init.normal_(m.weight, 0, 0.01)
        init.constant_(m.bias, 0)


def make_layers(cfg, batch_norm=False):
    """The ``features`` of a VGG: 3×3 convolutions (padding 1) and 2×2 max poolings.

    Args:
        cfg: a list of output channel counts, and ``"M"`` for each max pooling.
        batch_norm: put a ``BatchNorm2d`` between each convolution and its ReLU.

    Returns:
        A ``Sequential`` taking 3 input channels.
    """
    layers = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(BatchNorm2d(v))
        layers.append(ReLU(inplace=True))
        in_channels = v
    return Sequential(*layers)


def _vgg(name, cfg, batch_norm, weights, kwargs):
    refuse_pretrained(name, weights, kwargs)
    return VGG(make_layers(CFGS[cfg], batch_norm=batch_norm), **kwargs)


def vgg11(*, weights=None, progress=True, **kwargs):
    """VGG-11 (configuration "A"): 8 convolutions, 132,863,336 parameters (1000 classes).

    Args:
        weights: must be None; ember does not download pretrained weights (load a state
            dict file instead: the parameter names are torchvision's).
        progress: accepted for torchvision compatibility; unused.
        **kwargs: ``num_classes``, ``init_weights`` and ``dropout`` for ``VGG``;
            ``pretrained=False``.

    Returns:
        A ``VGG`` in training mode.
    """
    return _vgg("vgg11", "A", False, weights, kwargs)


def vgg11_bn(*, weights=None, progress=True, **kwargs):
    """VGG-11 with batch normalization: 132,868,840 parameters (1000 classes).

    Arguments as ``vgg11``.
    """
    return _vgg("vgg11_bn", "A", True, weights, kwargs)


def vgg16(*, weights=None, progress=True, **kwargs):
    """VGG-16 (configuration "D"): 13 convolutions, 138,357,544 parameters (1000 classes).

    Arguments as ``vgg11``.
    """
    return _vgg("vgg16", "D", False, weights, kwargs)


def vgg16_bn(*, weights=None, progress=True, **kwargs):
    """VGG-16 with batch normalization: 138,365,992 parameters (1000 classes).

    Arguments as ``vgg11``.

    Example:
        >>> import ember
        >>> model = vgg16_bn(num_classes=10).eval()
        >>> model(ember.randn(1, 3, 32, 32)).shape
        ember.Size([1, 10])
    """
    return _vgg("vgg16_bn", "D", True, weights, kwargs)
