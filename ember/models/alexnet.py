"""AlexNet, with torchvision's layout, names and initialization."""

from ember.models._weights import refuse_pretrained
from ember.nn.containers import Sequential
from ember.nn.module import Module
from ember.nn.modules.activation import ReLU
from ember.nn.modules.conv import Conv2d
from ember.nn.modules.dropout import Dropout
from ember.nn.modules.linear import Linear
from ember.nn.modules.pooling import AdaptiveAvgPool2d, MaxPool2d

__all__ = ["AlexNet", "alexnet"]


class AlexNet(Module):
    """AlexNet ("One weird trick" variant, as torchvision's), for ``3×224×224`` images.

    ``features``: five convolutions (64 11×11 stride 4, 192 5×5, 384, 256, 256 3×3), each
    followed by ReLU, with 3×3 stride-2 max pooling after the 1st, 2nd and 5th;
    ``avgpool``: adaptive average pooling to ``6×6``; ``classifier``: Dropout,
    Linear(9216, 4096), ReLU, Dropout, Linear(4096, 4096), ReLU, Linear(4096,
    num_classes). PyTorch's default initialization. 61,100,840 parameters with 1000
    classes. Any input of at least ``63×63`` works.

    Args:
        num_classes: the number of outputs.
        dropout: the dropout probability of the classifier.

    Shape:
        input ``(N, 3, H, W)``, output ``(N, num_classes)``.
    """

    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = Sequential(
            Conv2d(3, 64, kernel_size=11, stride=4, padding=2), ReLU(inplace=True),
            MaxPool2d(kernel_size=3, stride=2),
            Conv2d(64, 192, kernel_size=5, padding=2), ReLU(inplace=True),
            MaxPool2d(kernel_size=3, stride=2),
            Conv2d(192, 384, kernel_size=3, padding=1), ReLU(inplace=True),
            Conv2d(384, 256, kernel_size=3, padding=1), ReLU(inplace=True),
            Conv2d(256, 256, kernel_size=3, padding=1), ReLU(inplace=True),
            MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = AdaptiveAvgPool2d((6, 6))
        self.classifier = Sequential(
            Dropout(p=dropout), Linear(256 * 6 * 6, 4096), ReLU(inplace=True),
            Dropout(p=dropout), Linear(4096, 4096), ReLU(inplace=True),
            Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def alexnet(*, weights=None, progress=True, **kwargs):
    """AlexNet (see ``AlexNet``): 61,100,840 parameters with 1000 classes.

    Args:
        weights: must be None; ember does not download pretrained weights (load a state
            dict file instead: the parameter names are torchvision's).
        progress: accepted for torchvision compatibility; unused.
        **kwargs: ``num_classes`` and ``dropout`` for ``AlexNet``; ``pretrained=False``.

    Returns:
        An ``AlexNet`` in training mode.

    Example:
        >>> import ember
        >>> model = alexnet(num_classes=10).eval()
        >>> model(ember.randn(1, 3, 63, 63)).shape
        ember.Size([1, 10])
    """
    refuse_pretrained("alexnet", weights, kwargs)
    return AlexNet(**kwargs)
