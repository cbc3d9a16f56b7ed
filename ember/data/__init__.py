"""Data loading: ``Dataset``, samplers, collate and ``DataLoader`` with worker processes
(also importable as ``ember.utils.data``, PyTorch's path).

    >>> import ember
    >>> from ember.data import DataLoader, TensorDataset
    >>> ds = TensorDataset(ember.arange(6.0).reshape(3, 2), ember.tensor([0, 1, 0]))
    >>> x, y = next(iter(DataLoader(ds, batch_size=2)))
    >>> x.shape, y
    (ember.Size([2, 2]), tensor([0, 1]))
"""

from ember.data.collate import default_collate, default_convert
from ember.data.dataset import (
    ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, TensorDataset,
    random_split,
)
from ember.data.loader import DataLoader
from ember.data.sampler import (
    BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
    WeightedRandomSampler,
)
from ember.data.worker import WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
    "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset",
    "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "WorkerInfo",
    "default_collate", "default_convert", "get_worker_info", "random_split",
]
