"""MNIST and Fashion-MNIST from small IDX files written here (plain and gzipped, in
torchvision's layout and flat), ``read_idx`` for every IDX type, and every error."""

import gzip
import os
import struct

import numpy as np
import pytest
import torch

import ember
from ember.data import DataLoader
from ember.datasets.mnist import MNIST, FashionMNIST, read_idx

CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
         np.float64: 0x0E}
TRAIN = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def idx_bytes(array, code=None):
    """The IDX encoding of ``array``, written from the format's description."""
    code = CODES[array.dtype.type] if code is None else code
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, content, gz=False):
    path = str(path) + (".gz" if gz else "")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(content)
    return path


def make_mnist(directory, n=5, gz=False, seed=0, names=TRAIN):
    """Write ``n`` random images and labels; return them."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    write(os.path.join(directory, names[0]), idx_bytes(images), gz)
    write(os.path.join(directory, names[1]), idx_bytes(labels), gz)
    return images, labels


# ---- reading ---------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("layout", ["flat", "torchvision"])
def test_reads_values_shapes_and_dtypes(tmp_path, gz, layout):
    where = tmp_path / "MNIST" / "raw" if layout == "torchvision" else tmp_path
    images, labels = make_mnist(where, gz=gz)
    ds = MNIST(tmp_path)
    assert len(ds) == 5
    assert ds.data.dtype == ember.uint8 and ds.data.shape == (5, 28, 28)
    assert ds.targets.dtype == ember.int64
    np.testing.assert_array_equal(ds.data.numpy(), images)
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    for i in range(5):
        image, label = ds[i]
        assert image.shape == (1, 28, 28) and image.dtype == ember.float32
        # What torchvision's ToTensor gives: the uint8 pixels as float, divided by 255.
        expected = torch.from_numpy(images[i]).unsqueeze(0).float().div(255)
        np.testing.assert_array_equal(image.numpy(), expected.numpy())
        assert type(label) is int and label == labels[i]


def test_train_and_test_splits_and_mixed_compression(tmp_path):
    make_mnist(tmp_path, n=4, seed=1)
    test_images, test_labels = make_mnist(tmp_path, n=3, seed=2, names=TEST)
    os.remove(tmp_path / TEST[0])
    write(tmp_path / TEST[0], idx_bytes(test_images), gz=True)
    assert len(MNIST(tmp_path, train=True)) == 4
    test = MNIST(tmp_path, train=False)
    np.testing.assert_array_equal(test.data.numpy(), test_images)
    np.testing.assert_array_equal(test.targets.numpy(), test_labels)
    assert "Split: Test" in repr(test) and f"Root location: {tmp_path}" in repr(test)


def test_fashion_mnist(tmp_path):
    images, labels = make_mnist(tmp_path / "FashionMNIST" / "raw", gz=True)
    ds = FashionMNIST(tmp_path, transform=lambda x: x - 0.5,
                      target_transform=lambda y: ds.classes[y])
    assert ds.classes[9] == "Ankle boot" and ds.class_to_idx["Trouser"] == 1
    image, name = ds[2]
    np.testing.assert_allclose(image.numpy()[0], images[2] / np.float32(255) - 0.5)
    assert name == FashionMNIST.classes[labels[2]]
    assert ds.raw_folder == os.path.join(str(tmp_path), "FashionMNIST", "raw")
    assert MNIST(tmp_path / "FashionMNIST" / "raw").classes[0] == "0 - zero"


def test_dataloader_and_indices(tmp_path):
    images, labels = make_mnist(tmp_path, n=7)
    ds = MNIST(tmp_path)
    batches = list(DataLoader(ds, batch_size=3))
    assert [b[0].shape for b in batches] == [(3, 1, 28, 28), (3, 1, 28, 28), (1, 1, 28, 28)]
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), labels)
    np.testing.assert_array_equal(ds[-1][0].numpy()[0], images[6] / np.float32(255))
    with pytest.raises(IndexError, match="MNIST: index 7 is out of range for 7 samples"):
        ds[7]


@pytest.mark.parametrize("dtype", list(CODES))
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_every_type(tmp_path, dtype, gz):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    path = write(tmp_path / "a.idx", idx_bytes(array), gz)
    out = read_idx(path)
    assert out.dtype == array.dtype and out.dtype.isnative and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, array)


def test_read_idx_zero_dimensional_and_empty(tmp_path):
    np.testing.assert_array_equal(read_idx(write(tmp_path / "s", idx_bytes(np.uint8(7)))), 7)
    assert read_idx(write(tmp_path / "e", idx_bytes(np.zeros((0, 3), np.int32)))).shape == (0, 3)


# ---- errors ----------------------------------------------------------------------------

def test_missing_files_are_named_with_where_searched_and_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path)
    message = str(info.value)
    assert f"files not found: {TRAIN[0]}, {TRAIN[1]}" in message
    assert f"{tmp_path / 'MNIST' / 'raw'}  (does not exist)" in message
    assert f"    {tmp_path}\n" in message
    assert "ember does not download datasets" in message
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/" in message
    assert "t10k-labels-idx1-ubyte.gz" in message


def test_missing_labels_only(tmp_path):
    make_mnist(tmp_path)
    os.remove(tmp_path / TRAIN[1])
    with pytest.raises(FileNotFoundError, match=f"file not found: {TRAIN[1]} ") as info:
        MNIST(tmp_path)
    assert TRAIN[0] + "," not in str(info.value)


def test_fashion_missing_points_at_its_own_mirror(tmp_path):
    with pytest.raises(FileNotFoundError, match="fashion-mnist.s3-website") as info:
        FashionMNIST(tmp_path)
    assert "FashionMNIST" in str(info.value)


def test_download_true_reads_present_files_and_never_downloads(tmp_path):
    make_mnist(tmp_path)
    assert len(MNIST(tmp_path, download=True)) == len(MNIST(tmp_path))
    with pytest.raises(FileNotFoundError, match="ember does not download datasets"):
        MNIST(tmp_path / "empty", download=True)


def write_images(tmp_path, content, gz=False):
    """A valid labels file beside the given images file content."""
    write(tmp_path / TRAIN[1], idx_bytes(np.zeros(2, np.uint8)))
    return write(tmp_path / TRAIN[0], content, gz)


def good_images(n=2, size=28):
    return idx_bytes(np.zeros((n, size, size), np.uint8))


@pytest.mark.parametrize("content, message", [
    (b"<html>404 Not Found</html>", (r"not an IDX file: it begins with bytes 3c 68 74 6d, "
                                     r"not 00 00 \(an HTML page\? a failed download\?\)")),
    (b"\x00\x00", "not an IDX file: it holds only 2 bytes"),
    (idx_bytes(np.zeros(2, np.uint8)), (r"IDX magic number 0x00000801 \(uint8, 1 dimension\); "
                                        r"MNIST images need 0x00000803 \(uint8, 3 dimensions\)")),
    (idx_bytes(np.zeros((2, 28, 28), np.int32)), r"magic number 0x00000C03 \(int32, 3 dim"),
    (good_images()[:-10], (r"the header declares uint8 values of shape \(2, 28, 28\), 1584 "
                           r"bytes with the header, but the file holds 1574 bytes \(it is cut")),
    (good_images() + b"\x00", r"holds 1585 bytes \(extra bytes follow the data\)"),
    (good_images()[:10], (r"the file ends inside its header \(10 bytes; a 3-dimensional IDX "
                          r"header takes 16\)")),
    (good_images(size=20), "images of 20×20 pixels; MNIST images are 28×28"),
    (good_images(n=3), r"3 images in .* but 2 labels in"),
])
@pytest.mark.parametrize("gz", [False, True])
def test_bad_images_file(tmp_path, content, message, gz):
    path = write_images(tmp_path, content, gz)
    with pytest.raises(ValueError, match=message) as info:
        MNIST(tmp_path)
    assert path in str(info.value)


def test_bad_labels(tmp_path):
    write(tmp_path / TRAIN[0], good_images(n=3))
    path = write(tmp_path / TRAIN[1], idx_bytes(np.array([1, 10, 2], np.uint8)))
    with pytest.raises(ValueError, match=f"{path}: label 10 at index 1; MNIST labels are 0..9"):
        MNIST(tmp_path)
    write(tmp_path / TRAIN[1], idx_bytes(np.zeros((3, 1), np.uint8)))
    with pytest.raises(ValueError, match="MNIST labels need 0x00000801"):
        MNIST(tmp_path)


def test_truncated_gzip_stream(tmp_path):
    compressed = gzip.compress(good_images())
    path = tmp_path / (TRAIN[0] + ".gz")
    write_images(tmp_path, b"")
    os.remove(tmp_path / TRAIN[0])
    path.write_bytes(compressed[:-20])
    with pytest.raises(ValueError, match="gzip stream is damaged or cut short") as info:
        MNIST(tmp_path)
    assert str(path) in str(info.value)


def test_read_idx_unknown_type_code(tmp_path):
    path = write(tmp_path / "a.idx", idx_bytes(np.zeros(3, np.uint8), code=0x07))
    with pytest.raises(ValueError, match=r"unknown IDX type code 0x07; known: 0x08 \(uint8\)"):
        read_idx(path)
