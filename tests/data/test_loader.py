"""DataLoader in the main process: batches, lengths and argument checks against torch's
DataLoader on the same Python and NumPy datasets."""

import multiprocessing

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import ember
import ember.utils.data
from ember.data import DataLoader, Dataset, IterableDataset
from tests.data.compare import epoch


class Records(Dataset):
    """Sample ``i``: a dict of a NumPy image, an int label, a float and a string."""

    def __init__(self, n=10):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"image": np.full((2, 2), i, np.float32), "label": i, "weight": i / 2,
                "name": f"s{i}", "pair": (i, np.int16(-i))}


class Batched(Records):
    """Loads a batch at once; the loader must use it."""

    def __getitems__(self, indices):
        return [{"batched": True, **self[i]} for i in indices]


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(np.arange(self.n, dtype=np.int32))

    def __len__(self):
        return self.n


class TorchStream(Stream, tud.IterableDataset):
    """The same stream, as torch's IterableDataset (torch tells the kinds apart by class)."""


def both(dataset, **kwargs):
    """The same loader in ember and in torch."""
    theirs = TorchStream(dataset.n) if isinstance(dataset, Stream) else dataset
    return DataLoader(dataset, **kwargs), tud.DataLoader(theirs, **kwargs)


CONFIGS = [
    {}, {"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": 4},
    {"batch_size": None}, {"batch_size": 2, "sampler": [9, 0, 4, 4, 1]},
    {"batch_sampler": [[3, 1], [0], [9, 8, 7]]}, {"batch_size": None, "sampler": [2, 5]},
    {"batch_size": 3, "collate_fn": lambda b: [s["label"] for s in b]},
]


@pytest.mark.parametrize("config", CONFIGS)
def test_map_style_batches_like_torch(config):
    ours, theirs = both(Records(), **config)
    assert epoch(ours) == epoch(theirs)
    assert len(ours) == len(theirs)


def test_getitems_is_used_like_torch():
    ours, theirs = both(Batched(), batch_size=4)
    assert epoch(ours) == epoch(theirs)
    assert next(iter(ours))["batched"].tolist() == [True] * 4


@pytest.mark.parametrize("config", [
    {}, {"batch_size": 3}, {"batch_size": 3, "drop_last": True}, {"batch_size": None},
    {"batch_size": 5},
])
def test_iterable_batches_and_len_like_torch(config):
    ours, theirs = both(Stream(7), **config)
    assert epoch(ours) == epoch(theirs)
    assert len(ours) == len(theirs)


def test_every_iteration_is_an_epoch():
    loader = DataLoader(Records(4), batch_size=2)
    assert epoch(loader) == epoch(loader)
    it = iter(loader)
    assert len(it) == 2 and iter(it) is it


def test_shuffle_covers_the_dataset_and_is_reproducible():
    def labels(generator=None, seed=0):
        ember.manual_seed(seed)
        loader = DataLoader(Records(10), batch_size=3, shuffle=True, generator=generator)
        return [b["label"].tolist() for b in loader] + [b["label"].tolist() for b in loader]

    run = labels()
    assert sorted(sum(run[:4], [])) == list(range(10))
    assert run == labels() != labels(seed=1)
    assert labels(ember.Generator().manual_seed(2)) == \
        labels(ember.Generator().manual_seed(2), seed=5)


# ---- argument checks, message for message ----------------------------------------------

SAMPLER = [0, 1]
ERRORS = [
    ({"num_workers": -1}, ValueError),
    ({"timeout": -1}, ValueError),
    ({"prefetch_factor": 2}, ValueError),
    ({"num_workers": 1, "prefetch_factor": -1}, ValueError),
    ({"persistent_workers": True}, ValueError),
    ({"sampler": SAMPLER, "shuffle": True}, ValueError),
    ({"batch_sampler": [SAMPLER], "batch_size": 2}, ValueError),
    ({"batch_sampler": [SAMPLER], "shuffle": True}, ValueError),
    ({"batch_sampler": [SAMPLER], "sampler": SAMPLER}, ValueError),
    ({"batch_sampler": [SAMPLER], "drop_last": True}, ValueError),
    ({"batch_size": None, "drop_last": True}, ValueError),
    ({"batch_size": 0}, ValueError),
    ({"drop_last": 1}, ValueError),
    ({"multiprocessing_context": "spawn"}, ValueError),
    ({"num_workers": 1, "multiprocessing_context": "bogus"}, ValueError),
    ({"num_workers": 1, "multiprocessing_context": 5}, TypeError),
]


@pytest.mark.parametrize("kwargs, exc", ERRORS)
def test_argument_errors_like_torch(kwargs, exc):
    with pytest.raises(exc) as theirs:
        tud.DataLoader(Records(), **kwargs)
    with pytest.raises(exc) as ours:
        DataLoader(Records(), **kwargs)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize("kwargs", [
    {"shuffle": True}, {"sampler": SAMPLER}, {"batch_sampler": [SAMPLER]},
])
def test_iterable_dataset_argument_errors_like_torch(kwargs):
    with pytest.raises(ValueError) as theirs:
        tud.DataLoader(TorchStream(3), **kwargs)
    with pytest.raises(ValueError) as ours:
        DataLoader(Stream(3), **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_frozen_attributes_like_torch():
    for loader in both(Records(), batch_size=2):
        for attr in ("batch_size", "sampler", "dataset", "drop_last"):
            with pytest.raises(ValueError, match=f"^{attr} attribute should not be set after "
                                                 f"DataLoader is initialized$"):
                setattr(loader, attr, None)
        loader.num_workers = 0  # other attributes stay settable


def test_context_objects_are_accepted():
    loader = DataLoader(Records(), num_workers=1,
                        multiprocessing_context=multiprocessing.get_context("spawn"))
    assert loader.multiprocessing_context.get_start_method() == "spawn"
    assert DataLoader(Records(), num_workers=1, multiprocessing_context="fork") \
        .multiprocessing_context.get_start_method() == "fork"


def test_pin_memory_warns_like_torch_on_cpu():
    for loader in both(Records(2), pin_memory=True):
        with pytest.warns(UserWarning, match="'pin_memory' argument is set as true but no "
                                             "accelerator is found"):
            iter(loader)


def test_timeout_needs_workers():
    with pytest.raises(ValueError, match=r"timeout=2 applies to worker processes only"):
        iter(DataLoader(Records(), timeout=2))


def test_default_prefetch_factor_like_torch():
    for kwargs in ({}, {"num_workers": 1}):
        ours, theirs = both(Records(), **kwargs)
        assert ours.prefetch_factor == theirs.prefetch_factor


# ---- the torch.utils.data path ---------------------------------------------------------

def test_utils_data_is_ember_data():
    from ember.utils.data import DataLoader as Loader
    from ember.utils.data.dataloader import default_collate, get_worker_info
    from ember.utils.data.dataset import TensorDataset
    from ember.utils.data.sampler import RandomSampler

    assert Loader is DataLoader and TensorDataset is ember.data.TensorDataset
    assert RandomSampler is ember.data.RandomSampler
    assert default_collate is ember.data.default_collate
    assert get_worker_info is ember.data.get_worker_info
    assert ember.utils.data.random_split is ember.data.random_split
    assert set(ember.utils.data.__all__) == set(ember.data.__all__)
    assert set(ember.data.__all__) <= set(tud.__all__) | {"WorkerInfo"}
    assert hasattr(torch.utils.data, "get_worker_info")
