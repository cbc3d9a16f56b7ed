"""Datasets and random_split, against torch.utils.data where the result does not depend
on the random stream."""

import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import ember
from ember.data import (
    ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset,
    random_split,
)


class Range(Dataset):
    def __init__(self, n, offset=0):
        self.n, self.offset = n, offset

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.offset + i


class Stream(IterableDataset):
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


def test_base_classes():
    with pytest.raises(NotImplementedError, match="should implement __getitem__"):
        Dataset()[0]
    assert isinstance(Range(2) + Range(3), ConcatDataset)
    assert isinstance(Stream([1]) + Stream([2]), ChainDataset)
    assert list(Stream([1]) + Stream([2, 3])) == [1, 2, 3]


def test_tensor_dataset():
    x, y = np.arange(12.0).reshape(4, 3), np.arange(4)
    ours = TensorDataset(ember.tensor(x), ember.tensor(y))
    theirs = tud.TensorDataset(torch.tensor(x), torch.tensor(y))
    assert len(ours) == len(theirs) == 4
    for i in (0, 3, -1):
        assert [t.tolist() for t in ours[i]] == [t.tolist() for t in theirs[i]]
    assert [t.tolist() for t in ours[1:3]] == [t.tolist() for t in theirs[1:3]]
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(ember.zeros(3), ember.zeros(4))


def test_concat_dataset_like_torch():
    parts = [(3, 0), (0, 100), (4, 10)]
    ours = ConcatDataset([Range(n, o) for n, o in parts])
    theirs = tud.ConcatDataset([Range(n, o) for n, o in parts])
    assert ours.cumulative_sizes == theirs.cumulative_sizes == [3, 3, 7]
    assert [ours[i] for i in range(-7, 7)] == [theirs[i] for i in range(-7, 7)]
    with pytest.raises(ValueError, match="absolute value of index"):
        ours[-8]
    with pytest.raises(AssertionError, match="should not be an empty iterable"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        ConcatDataset([Stream([1])])


def test_chain_dataset():
    chain = ChainDataset([Stream([1, 2]), Stream([3])])
    assert list(chain) == [1, 2, 3] and len(chain) == 3
    with pytest.raises(AssertionError, match="only supports IterableDataset"):
        list(ChainDataset([Range(2)]))


def test_subset():
    sub = Subset(Range(10), [7, 2, 5])
    assert len(sub) == 3 and [sub[i] for i in range(3)] == [7, 2, 5]
    assert sub.__getitems__([2, 0]) == [5, 7]

    class Batched(Range):
        def __getitems__(self, indices):
            return [("batched", i) for i in indices]

    assert Subset(Batched(10), [4, 1]).__getitems__([1]) == [("batched", 1)]

    class Override(Subset):
        def __getitem__(self, idx):
            return 0

    with pytest.raises(NotImplementedError, match="overrides __getitem__ but not __getitems__"):
        Override(Range(3), [0])


def test_stack_dataset_like_torch():
    a, b = Range(3), Range(3, 10)
    for args, kwargs in [((a, b), {}), ((), {"a": a, "b": b})]:
        ours, theirs = StackDataset(*args, **kwargs), tud.StackDataset(*args, **kwargs)
        assert len(ours) == len(theirs) == 3
        assert ours[1] == theirs[1]
        assert ours.__getitems__([2, 0]) == theirs.__getitems__([2, 0])
    with pytest.raises(ValueError, match="Size mismatch between datasets"):
        StackDataset(Range(2), Range(3))
    with pytest.raises(ValueError, match="At least one dataset"):
        StackDataset()
    with pytest.raises(ValueError, match="both types are given"):
        StackDataset(a, b=b)


# ---- random_split ----------------------------------------------------------------------

@pytest.mark.parametrize("n, fractions", [
    (10, [0.7, 0.3]), (11, [0.5, 0.5]), (7, [1 / 3] * 3), (5, [0.25, 0.25, 0.25, 0.25]),
    (3, [0.1, 0.1, 0.8]), (100, [0.333, 0.333, 0.334]),
])
def test_random_split_fraction_lengths_match_torch(n, fractions):
    with warnings.catch_warnings(record=True) as ours_warned:
        warnings.simplefilter("always")
        ours = random_split(Range(n), fractions, generator=ember.Generator().manual_seed(0))
    with warnings.catch_warnings(record=True) as theirs_warned:
        warnings.simplefilter("always")
        theirs = tud.random_split(Range(n), fractions,
                                  generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert [str(w.message) for w in ours_warned] == [str(w.message) for w in theirs_warned]
    assert sorted(i for s in ours for i in s.indices) == list(range(n))


def test_random_split_is_reproducible():
    def split(seed):
        parts = random_split(Range(20), [5, 15], generator=ember.Generator().manual_seed(seed))
        return [list(p.indices) for p in parts]

    assert split(1) == split(1)
    assert split(1) != split(2)
    first, second = split(1)
    assert len(first) == 5 and len(second) == 15
    assert sorted(first + second) == list(range(20))
    ember.manual_seed(3)
    a = [list(p.indices) for p in random_split(Range(20), [10, 10])]
    ember.manual_seed(3)
    assert a == [list(p.indices) for p in random_split(Range(20), [10, 10])]


def test_random_split_errors_and_warnings_like_torch():
    for lengths in ([3, 3], [0.5, 0.6]):
        with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
            tud.random_split(Range(5), lengths)
        with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
            random_split(Range(5), lengths)
    for lib in (tud, ember.data):
        with pytest.raises(ValueError, match="Fraction at index 1 is not between 0 and 1"):
            lib.random_split(Range(5), [0.5, -0.5, 1.0])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(Range(2), [0.9, 0.1])
