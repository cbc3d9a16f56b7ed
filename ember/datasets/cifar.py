"""CIFAR-10 from its binary version.

Each ``.bin`` file is a run of 3073-byte records: one label byte, then the 32×32 image
as 1024 red, 1024 green and 1024 blue bytes, each channel row by row. ember never reads
the Python version of CIFAR-10: its files are pickles, and unpickling a file can run any
code the file holds.
"""

import os
from typing import ClassVar

import numpy as np

from ember._errors import value_error
from ember.creation import from_numpy
from ember.datasets._files import find_files, locate, read_bytes, read_concatenated
from ember.datasets.vision import VisionDataset

__all__ = ["CIFAR10"]

_PIXELS = 3 * 32 * 32
_RECORD = 1 + _PIXELS
_PYTHON_FOLDER = "cifar-10-batches-py"
_PYTHON_FILES = ("data_batch_1", "test_batch", "batches.meta")


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images of 32×32 in ten classes.

    Reads the binary version (``cifar-10-binary.tar.gz``, extracted) from
    ``root/cifar-10-batches-bin`` or from ``root`` itself: ``data_batch_1.bin`` to
    ``data_batch_5.bin`` for training, ``test_batch.bin`` for testing, and the class names
    from ``batches.meta.txt`` when it is there. ember does not download it.

    Args:
        root: the directory holding the files (or their ``cifar-10-batches-bin`` folder).
        train: the training split if True, else the test split.
        transform: callable applied to each image tensor, or None.
        target_transform: callable applied to each label, or None.
        download: accepted for torchvision's sake; ember never downloads, so the files
            must already be present.

    Attributes:
        data: uint8 ndarray of shape ``(N, 32, 32, 3)`` (height, width, channel), the
            raw pixels, as torchvision gives it.
        targets: list of N int labels, as torchvision gives it.
        classes: the class names; label ``k`` is ``classes[k]``.

    Sample ``i`` is ``(image, label)``: a float32 tensor of shape ``(3, 32, 32)`` holding
    the pixels divided by 255, and a Python int.
    """

    base_folder = "cifar-10-batches-bin"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    train_list = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
    test_list = ("test_batch.bin",)
    meta_file = "batches.meta.txt"
    classes: ClassVar[list[str]] = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
        "ship", "truck"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform, target_transform)
        self.train = train
        how_to_get = (f"Download the binary version, {self.url}, and extract it into "
                      f"{self.root} (it unpacks to {self.base_folder}/).")
        # download=True is accepted so torchvision code runs unchanged when the files are
        # there; ember never downloads, and a missing file says where to get it.
        dirs = [os.path.join(self.root, self.base_folder), self.root]
        try:
            paths = find_files("CIFAR10", self.train_list if train else self.test_list, dirs,
                               how_to_get)
        except FileNotFoundError:
            self._refuse_python_version()
            raise
        records = self._read_records(paths)
        images = records[:, 1:].reshape(-1, 3, 32, 32)  # a view: no copy
        self.data = images.transpose(0, 2, 3, 1)
        self.targets = records[:, 0].tolist()
        meta = locate(self.meta_file, dirs)
        if meta is not None:
            self.classes = _read_classes(meta, len(self.classes))

    def _read_records(self, paths):
        """The records of all ``paths`` as one ``(N, 3073)`` uint8 array, checked."""
        content, sizes = read_concatenated("CIFAR10", paths)
        start = 0
        for path, size in zip(paths, sizes):
            _check_batch(path, content[start:start + size], len(self.classes))
            start += size
        return content.reshape(-1, _RECORD)

    def _refuse_python_version(self):
        """Raise a FileNotFoundError that explains why if the user has the Python version."""
        for folder in (os.path.join(self.root, _PYTHON_FOLDER), self.root):
            is_python = os.path.isdir(folder) and (
                os.path.basename(os.path.normpath(folder)) == _PYTHON_FOLDER
                or any(os.path.isfile(os.path.join(folder, f)) for f in _PYTHON_FILES))
            if is_python:
                raise FileNotFoundError(
                    f"CIFAR10: {folder} holds the Python version of CIFAR-10, which ember "
                    "does not read: its files are pickles, and unpickling a file can run "
                    "any code it contains. ember reads the binary version instead: download "
                    f"{self.url}, extract it (it unpacks to a folder {self.base_folder}) and "
                    "pass that folder, or the folder holding it, as root.")

    def __len__(self):
        return len(self.data)

    def _load(self, index):
        image = np.asarray(self.data)[index].transpose(2, 0, 1).astype(np.float32, order="C")
        image /= 255
        return from_numpy(image), int(self.targets[index])

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"


def _check_batch(path, content, n_classes):
    """Raise a ValueError naming ``path`` unless ``content`` is whole CIFAR-10 records."""
    size = len(content)
    if size == 0 or size % _RECORD:
        hint = ""
        if size and size % (_RECORD + 1) == 0:
            hint = (f"; {_RECORD + 1}-byte records (2 label bytes) are CIFAR-100's binary "
                    "version, which this reader does not handle")
        raise value_error("CIFAR10", f"{path}: {size} bytes is not a whole number of "
                                     f"{_RECORD}-byte records (1 label byte + {_PIXELS} "
                                     f"pixel bytes){hint}")
    labels = content[::_RECORD]
    bad = np.flatnonzero(labels >= n_classes)
    if bad.size:
        raise value_error("CIFAR10", f"{path}: record {bad[0]} has label {labels[bad[0]]}; "
                                     f"CIFAR-10 labels are 0..{n_classes - 1}")


def _read_classes(path, expected):
    """The class names in ``batches.meta.txt``: one per line, blank lines ignored."""
    text = read_bytes("CIFAR10", path).tobytes().decode("utf-8")
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != expected:
        raise value_error("CIFAR10", f"{path}: {len(names)} class names; CIFAR-10 has "
                                     f"{expected}")
    return names
