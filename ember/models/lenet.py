"""LeNet-5, the small convolutional network of the ``lenet`` benchmark workload."""

from ember.models._weights import refuse_pretrained
from ember.nn.containers import Sequential
from ember.nn.module import Module
from ember.nn.modules.activation import ReLU
from ember.nn.modules.conv import Conv2d
from ember.nn.modules.linear import Linear
from ember.nn.modules.pooling import MaxPool2d

__all__ = ["LeNet5", "lenet5"]


class LeNet5(Module):
    """LeNet-5 with ReLU and max pooling, for ``1×28×28`` images (MNIST-sized).

    ``features``: Conv2d(1, 6, 5, padding=2), ReLU, MaxPool2d(2), Conv2d(6, 16, 5), ReLU,
    MaxPool2d(2), giving ``16×5×5``; flattened, then ``classifier``: Linear(400, 120),
    ReLU, Linear(120, 84), ReLU, Linear(84, num_classes). PyTorch's default
    initialization. 61,706 parameters with 10 classes.

    Args:
        num_classes: the number of outputs.

    Shape:
        input ``(N, 1, 28, 28)``, output ``(N, num_classes)``.
    """

    def __init__(self, num_classes=10):
        super().__init__()
        self.features = Sequential(
            Conv2d(1, 6, kernel_size=5, padding=2), ReLU(inplace=True), MaxPool2d(2),
            Conv2d(6, 16, kernel_size=5), ReLU(inplace=True), MaxPool2d(2),
        )
        self.classifier = Sequential(
            Linear(16 * 5 * 5, 120), ReLU(inplace=True),
            Linear(120, 84), ReLU(inplace=True),
            Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def lenet5(num_classes=10, *, weights=None, **kwargs):
    """LeNet-5 (see ``LeNet5``): 61,706 parameters for ``1×28×28`` inputs and 10 classes.

    Args:
        num_classes: the number of outputs.
        weights: must be None; ember does not download pretrained weights.
        **kwargs: ``pretrained=False`` is accepted, as in torchvision.

    Returns:
        A ``LeNet5`` in training mode.

    Example:
        >>> import ember
        >>> model = lenet5()
        >>> model(ember.randn(2, 1, 28, 28)).shape
        ember.Size([2, 10])
        >>> sum(p.numel() for p in model.parameters())
        61706
    """
    refuse_pretrained("lenet5", weights, kwargs)
    return LeNet5(num_classes, **kwargs)
