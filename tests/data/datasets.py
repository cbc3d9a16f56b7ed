"""Datasets for the worker tests, in an importable module (no torch) so that workers
started with 'spawn' can rebuild them."""

import os
import random
import signal
import time

import numpy as np

import ember
from ember.data import Dataset, IterableDataset, get_worker_info


class Squares(Dataset):
    """Sample ``i`` is ``(tensor([i, i*i]), i)``."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return ember.tensor([float(i), float(i * i)]), i


class Augmented(Dataset):
    """Sample ``i`` carries draws from every generator a worker seeds."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"i": i, "ember": ember.rand(2), "numpy": np.random.rand(2),
                "python": random.random()}


class WhoAmI(Dataset):
    """Sample ``i`` is what ``get_worker_info`` says in the process that loads it."""

    def __init__(self, n):
        self.n = n
        self.tag = "original"

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        if info is None:
            return {"i": i, "id": -1, "pid": os.getpid()}
        return {"i": i, "id": info.id, "num_workers": info.num_workers, "seed": info.seed,
                "pid": os.getpid(), "same_dataset": info.dataset is self, "tag": self.tag}


class Faulty(Dataset):
    """Fails at index ``bad`` in the way ``mode`` says."""

    def __init__(self, mode, bad=5, n=16):
        self.mode, self.bad, self.n = mode, bad, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.bad:
            _fail(self.mode)
        return ember.tensor([float(i)])


def _fail(mode):
    if mode == "raise":
        raise ValueError("bad sample")
    if mode == "keyerror":
        raise KeyError("missing")
    if mode == "exit":
        os._exit(1)
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "hang":
        time.sleep(3600)
    if mode == "unpicklable":
        return lambda: None
    raise AssertionError(mode)


class Unpicklable(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {"x": i, "f": lambda: i}


class ShardedRange(IterableDataset):
    """``range(start, end)``, split into contiguous shards, one per worker."""

    def __init__(self, start, end, with_len=False):
        self.start, self.end, self.with_len = start, end, with_len

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.start, self.end))
        per = -(-(self.end - self.start) // info.num_workers)
        lo = self.start + info.id * per
        return iter(range(lo, min(lo + per, self.end)))

    def __len__(self):
        if not self.with_len:
            raise TypeError("no len")
        return self.end - self.start


class Unsharded(IterableDataset):
    """``range(n)`` in every worker (the classic mistake the length warning is about)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


class Slow(Dataset):
    """Index 0 is slow, so later batches arrive first."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 0:
            time.sleep(0.5)
        return i


def tag_worker(worker_id):
    """A worker_init_fn that changes this worker's copy of the dataset."""
    get_worker_info().dataset.tag = f"init {worker_id}"


def failing_init(worker_id):
    if worker_id == 1:
        raise RuntimeError("init failed")


def tag_second_part(worker_id):
    """A worker_init_fn for ``StackDataset(..., WhoAmI)``: tags the WhoAmI part."""
    get_worker_info().dataset.datasets[1].tag = f"init {worker_id}"
