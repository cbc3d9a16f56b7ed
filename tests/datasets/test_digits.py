"""The bundled digits: the data against facts about it (and scikit-learn's loader when it
is installed), the seeded stratified split, samples, transforms and the DataLoader."""

import csv
import gzip
import importlib.resources
import importlib.util

import numpy as np
import pytest
import torch

import ember
from ember.data import DataLoader
from ember.datasets.digits import Digits, load_digits

CLASS_COUNTS = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]  # documented by UCI


def raw_rows():
    """The bundled CSV parsed by the standard library, not by ember."""
    path = importlib.resources.files("ember.datasets").joinpath("data/digits.csv.gz")
    with path.open("rb") as raw, gzip.open(raw, "rt") as f:
        rows = np.array([[int(v) for v in row] for row in csv.reader(f)])
    return rows[:, :64], rows[:, 64]


def test_known_facts():
    X, y = load_digits(normalize=False)
    assert X.shape == (1797, 64) and X.dtype == ember.float32
    assert y.shape == (1797,) and y.dtype == ember.int64
    x = X.numpy()
    assert x.min() == 0 and x.max() == 16 and np.array_equal(x, np.round(x))
    assert np.bincount(y.numpy()).tolist() == CLASS_COUNTS


def test_parsed_like_the_standard_library_parses_it():
    pixels, labels = raw_rows()
    X, y = load_digits(normalize=False)
    np.testing.assert_array_equal(X.numpy(), pixels)
    np.testing.assert_array_equal(y.numpy(), labels)


def test_against_scikit_learn_when_installed():
    if importlib.util.find_spec("sklearn") is None:
        pytest.skip("scikit-learn is not installed (not a test dependency)")
    from sklearn.datasets import load_digits as sk_load_digits

    sk = sk_load_digits()
    X, y = load_digits(normalize=False)
    np.testing.assert_array_equal(X.numpy(), sk.data)
    np.testing.assert_array_equal(y.numpy(), sk.target)


def test_normalize_and_flatten_options():
    pixels, labels = raw_rows()
    X, y = load_digits(flatten=False)
    assert X.shape == (1797, 1, 8, 8) and X.dtype == ember.float32
    expected = torch.from_numpy(pixels.reshape(-1, 1, 8, 8)).float() / 16
    np.testing.assert_array_equal(X.numpy(), expected.numpy())
    np.testing.assert_array_equal(y.numpy(), labels)
    assert 0 <= X.numpy().min() and X.numpy().max() == 1


def test_split_sizes_are_complementary_and_stratified():
    train, test = Digits(), Digits(train=False)
    assert (len(train), len(test)) == (1437, 360)  # ceil(0.2 * 1797) test images
    per_class = np.bincount(test.targets.numpy(), minlength=10)
    assert per_class.sum() == 360
    assert np.all(np.abs(per_class - 0.2 * np.array(CLASS_COUNTS)) < 1)
    both = np.concatenate([np.asarray(d.data).reshape(-1, 64) for d in (train, test)])
    labels = np.concatenate([d.targets.numpy() for d in (train, test)])
    pixels, raw_labels = raw_rows()
    rows = np.column_stack([both, labels])
    expected = np.column_stack([pixels, raw_labels])
    np.testing.assert_array_equal(np.unique(rows, axis=0, return_counts=True)[1],
                                  np.unique(expected, axis=0, return_counts=True)[1])
    np.testing.assert_array_equal(np.unique(rows, axis=0), np.unique(expected, axis=0))


def test_split_depends_only_on_seed():
    a, b, c = Digits(seed=3), Digits(seed=3), Digits(seed=4)
    assert np.array_equal(a.data.numpy(), b.data.numpy())
    assert not np.array_equal(a.data.numpy(), c.data.numpy())


@pytest.mark.parametrize("test_size, n_test", [(100, 100), (0, 0), (0.0, 0), (1797, 1797),
                                               (0.5, 899), (np.int64(7), 7)])
def test_test_size(test_size, n_test):
    assert len(Digits(train=False, test_size=test_size)) == n_test
    assert len(Digits(test_size=test_size)) == 1797 - n_test


def test_samples():
    ds = Digits()
    image, label = ds[5]
    assert image.shape == (1, 8, 8) and image.dtype == ember.float32
    assert isinstance(label, int) and label == ds.targets[5].item()
    np.testing.assert_array_equal(image.numpy()[0], ds.data.numpy()[5] / np.float32(16))
    flat, _ = Digits(flatten=True)[5]
    assert flat.shape == (64,)
    np.testing.assert_array_equal(flat.numpy(), image.numpy().ravel())
    raw, _ = Digits(normalize=False)[5]
    np.testing.assert_array_equal(raw.numpy()[0], ds.data.numpy()[5])
    np.testing.assert_array_equal(ds[-1][0].numpy(), ds[len(ds) - 1][0].numpy())
    np.testing.assert_array_equal(ds[np.int64(2)][0].numpy(), ds[2][0].numpy())


def test_transforms():
    ds = Digits(transform=lambda x: x * 2 - 1, target_transform=lambda y: y + 10)
    image, label = ds[0]
    plain_image, plain_label = Digits()[0]
    np.testing.assert_array_equal(image.numpy(), plain_image.numpy() * 2 - 1)
    assert label == plain_label + 10


def test_changing_a_dataset_leaves_the_next_one_alone():
    ds = Digits()
    ds.data[0] = 0
    assert Digits().data.numpy()[0].any()


def test_bad_indices():
    ds = Digits(train=False)
    with pytest.raises(IndexError, match="index 360 is out of range for 360 samples"):
        ds[360]
    with pytest.raises(IndexError):
        ds[-361]
    with pytest.raises(TypeError, match="indices must be integers, not str"):
        ds["0"]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"test_size": 1.5}, ValueError, r"test_size=1.5 is not a fraction in \[0, 1\]"),
    ({"test_size": -0.1}, ValueError, "not a fraction"),
    ({"test_size": 1798}, ValueError, r"test_size=1798 is not a count in 0..1797"),
    ({"test_size": True}, ValueError, "not a count"),
    ({"test_size": "0.2"}, TypeError, "test_size must be a float fraction or an int count"),
    ({"seed": -1}, ValueError, "seed must be non-negative"),
    ({"seed": 1.0}, TypeError, "seed must be an int"),
])
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        Digits(**kwargs)


def test_dataloader_batches():
    ds = Digits(flatten=True)
    loader = DataLoader(ds, batch_size=100, shuffle=True,
                        generator=ember.Generator().manual_seed(0))
    seen = []
    for images, labels in loader:
        assert images.shape[1:] == (64,) and images.dtype == ember.float32
        assert labels.dtype == ember.int64 and images.shape[0] == labels.shape[0] <= 100
        seen.append(labels.numpy())
    assert sum(len(s) for s in seen) == len(ds)
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.sort(ds.targets.numpy()))


def test_repr_and_classes():
    ds = Digits(train=False, seed=2)
    assert repr(ds).splitlines() == ["Dataset Digits", "    Number of datapoints: 360",
                                     "    Split: Test (test_size=0.2, seed=2)"]
    assert ds.class_to_idx["7 - seven"] == 7 and len(ds.classes) == 10
