"""The handwritten digits that scikit-learn ships: 1,797 images of 8×8, bundled with ember.

The data (``data/digits.csv.gz``, byte for byte scikit-learn's file; origin and license in
``data/README.md``) has one row per image: 64 pixel values in 0..16, row by row, then the
label 0..9. It is read once per process and kept, since it is small (115 KB in memory).
"""

import functools
import gzip
import importlib.resources
import math
import operator

import numpy as np

from ember._errors import type_error, value_error
from ember.creation import from_numpy
from ember.datasets.mnist import MNIST
from ember.datasets.vision import VisionDataset

__all__ = ["Digits", "load_digits"]

_FILE = "digits.csv.gz"
_MAX = 16  # pixel values are counts of "on" pixels in 4×4 blocks: 0..16


@functools.lru_cache(maxsize=1)
def _table():
    """The bundled rows as a read-only ``(1797, 65)`` uint8 array (pixels, then label)."""
    resource = importlib.resources.files("ember.datasets").joinpath("data").joinpath(_FILE)
    with resource.open("rb") as raw, gzip.open(raw) as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    table.flags.writeable = False  # shared by every caller: nobody may change it
    return table


def _images(pixels, flatten, normalize):
    """uint8 pixels of shape ``(..., 64)`` or ``(..., 8, 8)`` as float32 images."""
    images = pixels.astype(np.float32)
    if normalize:
        images /= _MAX
    shape = pixels.shape[:-2] if pixels.shape[-2:] == (8, 8) else pixels.shape[:-1]
    return images.reshape(shape + ((64,) if flatten else (1, 8, 8)))


def load_digits(*, flatten=True, normalize=True):
    """All 1,797 digits as two tensors, in the file's order (scikit-learn's order).

    Args:
        flatten: images as rows of 64 values if True, else as ``(1, 8, 8)`` images.
        normalize: pixel values divided by 16, into ``[0, 1]``, if True; else the raw
            values 0..16 (what scikit-learn's ``load_digits`` gives, there in float64).

    Returns:
        ``(X, y)``: float32 tensor of shape ``(1797, 64)`` (or ``(1797, 1, 8, 8)``) and
        int64 tensor of shape ``(1797,)``.

    Example:
        >>> X, y = load_digits()
        >>> X.shape, y.shape, y[:5].tolist()
        (ember.Size([1797, 64]), ember.Size([1797]), [0, 1, 2, 3, 4])
    """
    table = _table()
    X = _images(table[:, :64], flatten, normalize)
    return from_numpy(X), from_numpy(table[:, 64].astype(np.int64))


class Digits(VisionDataset):
    """scikit-learn's handwritten digits (UCI optdigits test set), split into train/test.

    The split is stratified and deterministic: the test set takes
    ``ceil(test_size * 1797)`` images (an int ``test_size`` is a count), shared among the
    ten classes in proportion to their sizes (largest remainders get the leftover
    images, ties to the lower class); within each class, ``numpy.random.default_rng(seed)``
    picks which images are for testing (one permutation per class, classes in order
    0..9). Both splits keep the file's order. The defaults give 1,437 training and 360
    test images.

    Args:
        train: the training split if True, else the test split.
        test_size: fraction in ``[0, 1]`` (or number) of the images for testing.
        seed: non-negative int seeding the split.
        transform: callable applied to each image tensor, or None.
        target_transform: callable applied to each label, or None.
        flatten: images of shape ``(64,)`` instead of ``(1, 8, 8)``.
        normalize: pixel values divided by 16, into ``[0, 1]``; else the raw 0..16.

    Attributes:
        data: uint8 tensor of shape ``(N, 8, 8)``, the raw pixel values 0..16.
        targets: int64 tensor of shape ``(N,)``.
        classes: the class names; label ``k`` is ``classes[k]``.

    Example:
        >>> train, test = Digits(), Digits(train=False)
        >>> len(train), len(test)
        (1437, 360)
        >>> image, label = train[0]
        >>> image.shape, image.dtype, label
        (ember.Size([1, 8, 8]), ember.float32, 0)
    """

    classes = MNIST.classes

    def __init__(self, train=True, *, test_size=0.2, seed=0, transform=None,
                 target_transform=None, flatten=False, normalize=True):
        super().__init__(None, transform, target_transform)
        self.train = train
        self.test_size = test_size
        self.seed = seed
        self.flatten = flatten
        self.normalize = normalize
        table = _table()
        is_test = _test_mask(table[:, 64], test_size, seed)
        rows = np.flatnonzero(~is_test if train else is_test)
        self.data = from_numpy(table[rows, :64].reshape(-1, 8, 8))
        self.targets = from_numpy(table[rows, 64].astype(np.int64))

    def __len__(self):
        return len(self.data)

    def _load(self, index):
        image = _images(np.asarray(self.data)[index], self.flatten, self.normalize)
        return from_numpy(image), int(np.asarray(self.targets)[index])

    def extra_repr(self):
        split = "Train" if self.train else "Test"
        return f"Split: {split} (test_size={self.test_size}, seed={self.seed})"


def _test_mask(labels, test_size, seed):
    """Which rows form the test split (the stratified, seeded split ``Digits`` documents)."""
    n = len(labels)
    n_test = _test_count(test_size, n)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise type_error("Digits", f"seed must be an int, not {type(seed).__name__}")
    if seed < 0:
        raise value_error("Digits", f"seed must be non-negative, got {seed}")
    counts = np.bincount(labels)
    # Integer arithmetic, so that exact shares never round the wrong way.
    per_class, remainder = np.divmod(n_test * counts, n)
    leftover = n_test - int(per_class.sum())
    per_class[np.argsort(-remainder, kind="stable")[:leftover]] += 1
    rng = np.random.default_rng(seed)
    mask = np.zeros(n, dtype=bool)
    for label, k in enumerate(per_class):
        mask[rng.permutation(np.flatnonzero(labels == label))[:k]] = True
    return mask


def _test_count(test_size, n):
    if isinstance(test_size, float):
        if not 0 <= test_size <= 1:
            raise value_error("Digits", f"test_size={test_size} is not a fraction in [0, 1]")
        return math.ceil(test_size * n)
    try:
        count = operator.index(test_size)
    except TypeError:
        raise type_error("Digits", f"test_size must be a float fraction or an int count, "
                                   f"not {type(test_size).__name__}") from None
    if isinstance(test_size, bool) or not 0 <= count <= n:
        raise value_error("Digits", f"test_size={test_size!r} is not a count in 0..{n}")
    return count
