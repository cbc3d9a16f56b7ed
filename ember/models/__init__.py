"""Reference models with torchvision's constructors, module names and initialization.

Each constructor builds a model with fresh weights (``weights=None``); ember does not
download pretrained weights. The parameter names are torchvision's, so a state dict saved
from torchvision (as a safetensors file) loads with ``model.load_state_dict(ember.load(
path))``. One file per family; one import line per family below.

    >>> import ember
    >>> from ember.models import resnet18
    >>> model = resnet18(num_classes=10).eval()
    >>> model(ember.randn(1, 3, 64, 64)).shape
    ember.Size([1, 10])
"""

from ember.models.alexnet import AlexNet, alexnet
from ember.models.inception import Inception3, InceptionOutputs, inception_v3
from ember.models.lenet import LeNet5, lenet5
from ember.models.mobilenet import MobileNetV2, mobilenet_v2
from ember.models.resnet import (
    CifarResNet,
    ResNet,
    resnet8,
    resnet18,
    resnet20,
    resnet34,
    resnet50,
    resnet56,
)
from ember.models.vgg import VGG, vgg11, vgg11_bn, vgg16, vgg16_bn

__all__ = [
    "VGG", "AlexNet", "CifarResNet", "Inception3", "InceptionOutputs", "LeNet5",
    "MobileNetV2", "ResNet", "alexnet", "inception_v3", "lenet5", "mobilenet_v2", "resnet8",
    "resnet18", "resnet20", "resnet34", "resnet50", "resnet56", "vgg11", "vgg11_bn", "vgg16",
    "vgg16_bn",
]

# Language models (not torchvision's): a character LSTM and a small GPT.
from ember.models.char_lstm import CharLSTM, char_lstm
from ember.models.gpt import GPT, gpt

__all__ += ["GPT", "CharLSTM", "char_lstm", "gpt"]
