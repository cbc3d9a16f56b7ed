"""CIFAR-10 from small binary batches written here, its class names, and every error
(including the refusal of the pickled Python version)."""

import gzip
import os

import numpy as np
import pytest
import torch

import ember
from ember.datasets.cifar import CIFAR10

TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]
NAMES = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def batch_bytes(labels, images):
    """Records of 1 label byte + 3072 pixel bytes (channel, row, column), one per image."""
    records = [bytes([label]) + image.tobytes() for label, image in zip(labels, images)]
    return b"".join(records)


def write(path, content, gz=False):
    path = str(path) + (".gz" if gz else "")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(content)
    return path


def make_cifar(directory, n=2, seed=0, gz=False):
    """Write every batch with ``n`` random records; return the training and test parts as
    ``(labels, images)`` with images of shape (N, 3, 32, 32)."""
    rng = np.random.default_rng(seed)
    parts = {}
    for name in TRAIN + ["test_batch.bin"]:
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
        write(os.path.join(directory, name), batch_bytes(labels, images), gz)
        parts[name] = labels, images
    train = [np.concatenate([parts[f][k] for f in TRAIN]) for k in (0, 1)]
    return train, parts["test_batch.bin"]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("folder", ["cifar-10-batches-bin", ""])
def test_reads_training_batches_in_order(tmp_path, gz, folder):
    (labels, images), _ = make_cifar(tmp_path / folder, gz=gz)
    ds = CIFAR10(tmp_path)
    assert len(ds) == 10
    assert isinstance(ds.data, np.ndarray) and ds.data.shape == (10, 32, 32, 3)
    np.testing.assert_array_equal(ds.data, images.transpose(0, 2, 3, 1))
    assert ds.targets == labels.tolist() and all(type(t) is int for t in ds.targets)
    for i in range(len(ds)):
        image, label = ds[i]
        assert image.shape == (3, 32, 32) and image.dtype == ember.float32
        # What torchvision gives for the same image: ToTensor of the HWC uint8 pixels.
        hwc = torch.from_numpy(images[i].transpose(1, 2, 0).copy())
        np.testing.assert_array_equal(image.numpy(), hwc.permute(2, 0, 1).float().div(255))
        assert type(label) is int and label == labels[i]


def test_test_split_root_is_the_binary_folder(tmp_path):
    _, (labels, images) = make_cifar(tmp_path / "cifar-10-batches-bin", n=3)
    ds = CIFAR10(tmp_path / "cifar-10-batches-bin", train=False,
                 transform=lambda x: x.mean(), target_transform=lambda y: -y)
    assert ds.targets == labels.tolist()
    value, target = ds[1]
    np.testing.assert_allclose(value.item(), images[1].mean() / 255, rtol=1e-6)
    assert target == -int(labels[1])
    assert "Split: Test" in repr(ds) and "transform: <function" in repr(ds)


def test_classes_from_meta_file_or_default(tmp_path):
    make_cifar(tmp_path)
    assert CIFAR10(tmp_path).classes == CIFAR10.classes
    assert CIFAR10.classes[0] == "airplane"
    write(tmp_path / "batches.meta.txt", ("\n".join(NAMES) + "\n\n\n").encode())
    ds = CIFAR10(tmp_path)
    assert ds.classes == NAMES and ds.class_to_idx["car"] == 1
    write(tmp_path / "batches.meta.txt", b"a\nb\n")
    with pytest.raises(ValueError, match="batches.meta.txt: 2 class names; CIFAR-10 has 10"):
        CIFAR10(tmp_path)


def test_missing_files(tmp_path):
    make_cifar(tmp_path)
    os.remove(tmp_path / "data_batch_3.bin")
    os.remove(tmp_path / "data_batch_5.bin")
    assert len(CIFAR10(tmp_path, train=False)) == 2  # the test split needs only its file
    with pytest.raises(FileNotFoundError) as info:
        CIFAR10(tmp_path)
    message = str(info.value)
    assert "files not found: data_batch_3.bin, data_batch_5.bin (" in message
    assert f"{tmp_path / 'cifar-10-batches-bin'}  (does not exist)" in message
    assert "ember does not download datasets" in message
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" in message


def test_download_true_reads_present_files_and_never_downloads(tmp_path):
    make_cifar(tmp_path)
    assert len(CIFAR10(tmp_path, download=True)) == len(CIFAR10(tmp_path))
    with pytest.raises(FileNotFoundError, match="ember does not download datasets"):
        CIFAR10(tmp_path / "empty", download=True)


@pytest.mark.parametrize("size, message", [
    # No CIFAR-100 hint here: the user's line follows the message directly.
    (3073 * 2 + 5, (r"6151 bytes is not a whole number of 3073-byte records \(1 label byte "
                    r"\+ 3072 pixel bytes\) \(")),
    (3074 * 2, "3074-byte records .* are CIFAR-100's binary version"),
    (0, "0 bytes is not a whole number"),
])
def test_wrong_sizes(tmp_path, size, message):
    make_cifar(tmp_path)
    path = write(tmp_path / "data_batch_2.bin", bytes(size))
    with pytest.raises(ValueError, match=message) as info:
        CIFAR10(tmp_path)
    assert path in str(info.value)


def test_truncated_gzipped_batch(tmp_path):
    make_cifar(tmp_path)
    os.remove(tmp_path / "test_batch.bin")
    content = gzip.compress(bytes(3073 * 2))
    (tmp_path / "test_batch.bin.gz").write_bytes(content[:-12])
    with pytest.raises(ValueError, match="test_batch.bin.gz: the gzip stream is damaged"):
        CIFAR10(tmp_path, train=False)


def test_label_out_of_range(tmp_path):
    make_cifar(tmp_path)
    images = np.zeros((3, 3, 32, 32), np.uint8)
    path = write(tmp_path / "test_batch.bin", batch_bytes([1, 2, 10], images))
    with pytest.raises(ValueError, match=f"{path}: record 2 has label 10; CIFAR-10 labels "
                                         "are 0..9"):
        CIFAR10(tmp_path, train=False)


@pytest.mark.parametrize("root_is_python_folder", [False, True])
def test_python_version_is_refused(tmp_path, root_is_python_folder):
    python = tmp_path / "cifar-10-batches-py"
    python.mkdir()
    (python / "data_batch_1").write_bytes(b"\x80\x04 a pickle")
    root = python if root_is_python_folder else tmp_path
    with pytest.raises(FileNotFoundError, match="holds the Python version of CIFAR-10") as info:
        CIFAR10(root)
    message = str(info.value)
    assert str(python) in message and "pickles" in message
    assert "cifar-10-binary.tar.gz" in message


def test_python_files_directly_in_root_are_refused(tmp_path):
    (tmp_path / "batches.meta").write_bytes(b"\x80\x04")
    with pytest.raises(FileNotFoundError, match="Python version"):
        CIFAR10(tmp_path, train=False)


def test_binary_version_is_used_beside_the_python_one(tmp_path):
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"\x80\x04")
    make_cifar(tmp_path / "cifar-10-batches-bin")
    assert len(CIFAR10(tmp_path, train=False)) == 2
