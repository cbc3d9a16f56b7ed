"""Datasets of images: scikit-learn's digits (bundled), and MNIST, Fashion-MNIST and
CIFAR-10 read from their standard files (ember never downloads anything).

Each is an ``ember.data.Dataset`` of ``(image, label)`` pairs, with torchvision's
``transform`` and ``target_transform`` arguments; images are float32 tensors in [0, 1].

    >>> from ember.data import DataLoader
    >>> from ember.datasets import Digits
    >>> images, labels = next(iter(DataLoader(Digits(), batch_size=32, shuffle=True)))
    >>> images.shape, labels.dtype
    (ember.Size([32, 1, 8, 8]), ember.int64)
"""

from ember.datasets.cifar import CIFAR10
from ember.datasets.digits import Digits, load_digits
from ember.datasets.mnist import MNIST, FashionMNIST, read_idx
from ember.datasets.vision import VisionDataset

__all__ = ["CIFAR10", "MNIST", "Digits", "FashionMNIST", "VisionDataset", "load_digits",
           "read_idx"]
