"""MNIST and Fashion-MNIST from their IDX files, and ``read_idx`` for any IDX file.

The IDX format (LeCun et al.): a 4-byte magic number ``00 00 <type code> <ndim>``,
then ``ndim`` big-endian uint32 sizes, then the values in row-major order, big-endian.
"""

import math
import os
from typing import ClassVar

import numpy as np

from ember._errors import fmt_shape, value_error
from ember.creation import from_numpy
from ember.datasets._files import find_files, read_bytes
from ember.datasets.vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "read_idx"]

_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IMAGES, _LABELS = (0x08, 3), (0x08, 1)  # (type code, ndim) of MNIST's two kinds of file


def read_idx(path):
    """Read an IDX file (gzipped or not) into an array.

    Args:
        path: the file.

    Returns:
        np.ndarray of the shape and dtype the header declares, in native byte order.

    Raises:
        ValueError: when the file is not an IDX file, has an unknown type code, or holds
            more or fewer bytes than its header declares.
    """
    return _parse_idx("read_idx", path, read_bytes("read_idx", path))


def _parse_idx(op, path, buf, expect=None, what=None):
    """The array in the IDX bytes ``buf``; ``expect`` is the (type code, ndim) that
    ``what`` (e.g. "MNIST images") requires, if any."""
    if len(buf) < 4 or buf[0] or buf[1]:
        raise value_error(op, f"{path}: not an IDX file: {_first_bytes(buf)}")
    code, ndim = int(buf[2]), int(buf[3])
    if expect is not None and (code, ndim) != expect:
        raise value_error(op, f"{path}: IDX magic number {_magic(code, ndim)}; {what} "
                              f"need {_magic(*expect)}")
    if code not in _IDX_TYPES:
        known = ", ".join(f"0x{c:02X} ({np.dtype(t).name})" for c, t in _IDX_TYPES.items())
        raise value_error(op, f"{path}: unknown IDX type code 0x{code:02X}; known: {known}")
    start = 4 + 4 * ndim
    if len(buf) < start:
        raise value_error(op, f"{path}: the file ends inside its header ({len(buf)} bytes; "
                              f"a {ndim}-dimensional IDX header takes {start})")
    dims = tuple(int(d) for d in buf[4:start].view(">u4"))
    dtype = np.dtype(_IDX_TYPES[code])
    size = start + math.prod(dims) * dtype.itemsize
    if len(buf) != size:
        problem = "it is cut short" if len(buf) < size else "extra bytes follow the data"
        raise value_error(op, f"{path}: the header declares {dtype.name} values of shape "
                              f"{fmt_shape(dims)}, {size} bytes with the header, but the file "
                              f"holds {len(buf)} bytes ({problem})")
    data = buf[start:].view(dtype).reshape(dims)
    return data if dtype.itemsize == 1 else data.astype(dtype.newbyteorder("="))


def _magic(code, ndim):
    kind = np.dtype(_IDX_TYPES[code]).name if code in _IDX_TYPES else f"type code 0x{code:02X}"
    return f"0x{(code << 8) | ndim:08X} ({kind}, {ndim} dimension{'s' * (ndim != 1)})"


def _first_bytes(buf):
    if len(buf) < 4:
        return f"it holds only {len(buf)} bytes, fewer than an IDX magic number"
    shown = " ".join(f"{b:02x}" for b in buf[:4])
    hint = " (an HTML page? a failed download?)" if buf[0] == ord("<") else ""
    return f"it begins with bytes {shown}, not 00 00{hint}"


class MNIST(VisionDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test images of 28×28.

    Reads the four standard IDX files, gzipped or not, from ``root/MNIST/raw`` (where
    torchvision keeps them) or from ``root`` itself. ember does not download them.

    Args:
        root: the directory holding the files (or their ``MNIST/raw`` folder).
        train: the training split if True, else the test split.
        transform: callable applied to each image tensor, or None.
        target_transform: callable applied to each label, or None.
        download: accepted for torchvision's sake; ember never downloads, so the files
            must already be present.

    Attributes:
        data: uint8 tensor of shape ``(N, 28, 28)``, the raw pixels.
        targets: int64 tensor of shape ``(N,)``.
        classes: the class names; label ``k`` is ``classes[k]``.

    Sample ``i`` is ``(image, label)``: a float32 tensor of shape ``(1, 28, 28)`` holding
    ``data[i] / 255``, and a Python int.
    """

    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/")
    files: ClassVar[dict[bool, tuple[str, str]]] = {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    classes: ClassVar[list[str]] = [
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
        "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform, target_transform)
        self.train = train
        name = type(self).__name__
        # download=True is accepted so torchvision code runs unchanged when the files are
        # there; ember never downloads, and a missing file says where to get it.
        images_path, labels_path = find_files(name, self.files[bool(train)],
                                              [self.raw_folder, self.root], self._how_to_get())
        images = self._read(images_path, _IMAGES, "images")
        labels = self._read(labels_path, _LABELS, "labels")
        self._check(images, images_path, labels, labels_path)
        self.data = from_numpy(images)
        self.targets = from_numpy(labels.astype(np.int64))

    @property
    def raw_folder(self):
        """``root/<class name>/raw``, torchvision's place for the files."""
        return os.path.join(self.root, type(self).__name__, "raw")

    def _how_to_get(self):
        names = ", ".join(f + ".gz" for pair in self.files.values() for f in pair)
        others = "".join(f" (or {m})" for m in self.mirrors[1:])
        return (f"Download {names} from {self.mirrors[0]}{others} and put them, gzipped or "
                f"not, in {self.raw_folder} or in {self.root}.")

    def _read(self, path, expect, kind):
        name = type(self).__name__
        return _parse_idx(name, path, read_bytes(name, path), expect, f"{name} {kind}")

    def _check(self, images, images_path, labels, labels_path):
        name = type(self).__name__
        if images.shape[1:] != (28, 28):
            raise value_error(name, f"{images_path}: images of {images.shape[1]}×"
                                    f"{images.shape[2]} pixels; {name} images are 28×28")
        if len(labels) != len(images):
            raise value_error(name, f"{len(images)} images in {images_path} but {len(labels)} "
                                    f"labels in {labels_path}")
        bad = np.flatnonzero(labels >= len(self.classes))
        if bad.size:
            raise value_error(name, f"{labels_path}: label {labels[bad[0]]} at index {bad[0]}; "
                                    f"{name} labels are 0..{len(self.classes) - 1}")

    def __len__(self):
        return len(self.data)

    def _load(self, index):
        image = np.asarray(self.data)[index].astype(np.float32)[None]
        image /= 255
        return from_numpy(image), int(np.asarray(self.targets)[index])

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and sizes, with ten kinds of clothing.

    Reads the same four file names as ``MNIST``, from ``root/FashionMNIST/raw`` or from
    ``root``; the arguments, attributes and samples are those of ``MNIST``.
    """

    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    classes: ClassVar[list[str]] = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
        "Sneaker", "Bag", "Ankle boot"]
