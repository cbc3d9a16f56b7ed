"""Small models and Digits loaders shared by the ember.train tests."""

import numpy as np

import ember
from ember import nn
from ember.data import DataLoader, TensorDataset
from ember.datasets import Digits


def digits_loaders(batch_size=64, shuffle=True, generator=None, flatten=True):
    """The Digits train split (shuffled) and test split (in order)."""
    train = DataLoader(Digits(flatten=flatten), batch_size=batch_size, shuffle=shuffle,
                       generator=generator)
    test = DataLoader(Digits(train=False, flatten=flatten), batch_size=128)
    return train, test


def mlp(dropout=0.2):
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, 10))


def small_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 10))


def toy_loader(n=32, batch_size=8, seed=0):
    """A tiny regression set: y = x @ w + noise, in 4 batches."""
    g = ember.Generator().manual_seed(seed)
    x = ember.randn(n, 3, generator=g)
    y = x @ ember.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * ember.randn(n, 1, generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def weights(model):
    """The model's state dict as NumPy arrays (copies)."""
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def assert_same_weights(a, b):
    """Bit for bit: the same names, dtypes and values (models or ``weights()`` dicts)."""
    wa = a if isinstance(a, dict) else weights(a)
    wb = b if isinstance(b, dict) else weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert wa[k].dtype == wb[k].dtype and np.array_equal(wa[k], wb[k]), k
