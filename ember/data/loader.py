"""DataLoader: batches from a dataset, in the main process or in worker processes.

The concurrency rules of worker processes are written down once, in
NOTE [DataLoader workers] at the top of pool.py.
"""

import math
import os
import warnings

from ember.data.collate import default_collate, default_convert
from ember.data.dataset import IterableDataset
from ember.data.fetch import ITERABLE, MAP
from ember.data.sampler import (
    BatchSampler, RandomSampler, Sampler, SequentialSampler,
)
from ember.data.worker import get_worker_info

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
           "persistent_workers")


class _InfiniteConstantSampler(Sampler):
    """``None`` forever: an iterable dataset's "indices" only count samples per batch."""

    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Iterate over a dataset in batches, optionally shuffled, optionally loaded by worker
    processes.

    Args:
        dataset: a map-style ``Dataset`` (``__getitem__``, ``__len__``) or an
            ``IterableDataset``.
        batch_size: samples per batch; None turns automatic batching off (each item is
            one sample, passed through ``collate_fn``, by default ``default_convert``).
        shuffle: a new random order every epoch (map-style datasets only).
        sampler: an iterable of indices (excludes ``shuffle``).
        batch_sampler: an iterable of lists of indices (excludes ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``).
        num_workers: worker processes; 0 loads in the main process.
        collate_fn: list of samples -> batch; default ``default_collate``.
        pin_memory: accepted for compatibility; ember runs on the CPU, so it warns and
            does nothing (``pin_memory_device`` is accepted and ignored).
        drop_last: drop the last batch when it is short.
        timeout: seconds to wait for one batch from the workers before raising (0: wait
            as long as the workers live).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after
            seeding and before loading.
        multiprocessing_context: a start method name ('fork', 'spawn', 'forkserver') or
            a multiprocessing context; default 'fork' on Linux. With 'spawn' the
            dataset, ``collate_fn`` and ``worker_init_fn`` must be importable.
        generator: the ``ember.Generator`` for shuffling and for the workers' base seed.
        prefetch_factor: batches in flight per worker (default 2 with workers).
        persistent_workers: keep the workers (and their dataset copies) across epochs.
        in_order: hand batches out in sampler order; False hands each out as it arrives.

    Example:
        >>> import ember
        >>> from ember.data import TensorDataset
        >>> ds = TensorDataset(ember.arange(10.0), ember.arange(10))
        >>> [y.tolist() for _, y in DataLoader(ds, batch_size=4)]
        [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    """

    __initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False,
                 timeout=0, worker_init_fn=None, multiprocessing_context=None, generator=None,
                 *, prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        prefetch_factor = _check_workers(num_workers, timeout, prefetch_factor,
                                         persistent_workers)
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order
        self._dataset_kind = ITERABLE if isinstance(dataset, IterableDataset) else MAP
        if self._dataset_kind == ITERABLE:
            _check_iterable_options(shuffle, sampler, batch_sampler)
        shuffle = bool(shuffle)
        _check_batching(batch_size, shuffle, sampler, batch_sampler, drop_last)
        if batch_sampler is not None:
            batch_size, drop_last = None, False
        if sampler is None:
            sampler = _default_sampler(self._dataset_kind, dataset, shuffle, generator)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._IterableDataset_len_called = None
        self._iterator = None
        self.__initialized = True
        self.check_worker_number_rationality()

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context):
        if context is not None:
            context = _as_context(context, self.num_workers)
        self.__multiprocessing_context = context

    def __setattr__(self, attr, value):
        if self.__initialized and attr in _FROZEN:
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(attr, value)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self):
        if not (self.persistent_workers and self.num_workers > 0):
            return self._get_iterator()
        if self._iterator is None or self._iterator._pool.closed:
            self._iterator = self._get_iterator()
        else:
            self._iterator._reset(self)
        return self._iterator

    def _get_iterator(self):
        # Imported here: the iterators bring in multiprocessing, which `import ember` skips.
        from ember.data import iterators

        if self.num_workers == 0:
            return iterators._SingleProcessIter(self)
        self.check_worker_number_rationality()
        return iterators._MultiProcessIter(self)

    def __len__(self):
        if self._dataset_kind == MAP:
            return len(self._index_sampler)
        length = self._IterableDataset_len_called = len(self.dataset)
        if self.batch_size is None:
            return length
        if self.drop_last:
            return length // self.batch_size
        return math.ceil(length / self.batch_size)

    def check_worker_number_rationality(self):
        """Warn when there are more workers than CPUs this process may use."""
        if not self.num_workers:
            return
        affinity = hasattr(os, "sched_getaffinity")
        cpus = len(os.sched_getaffinity(0)) if affinity else os.cpu_count()
        if cpus is None or self.num_workers > cpus:
            warnings.warn(
                f"This DataLoader will create {self.num_workers} worker processes in total, "
                f"but this process may use only {cpus} CPUs"
                f"{'' if affinity else ' (cpuset is not taken into account)'}; too many "
                "workers can make loading slow or even freeze it, so consider fewer.",
                stacklevel=3)


def _check_workers(num_workers, timeout, prefetch_factor, persistent_workers):
    """Validate the worker options as PyTorch does; returns the prefetch factor."""
    if num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                         "disable multiprocessing.")
    if timeout < 0:
        raise ValueError("timeout option should be non-negative")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                         "let num_workers > 0 to enable multiprocessing, otherwise set "
                         "prefetch_factor to None.")
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError("prefetch_factor option should be non-negative")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")
    return 2 if num_workers > 0 and prefetch_factor is None else prefetch_factor


def _check_iterable_options(shuffle, sampler, batch_sampler):
    if shuffle not in {False, None}:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                         f"option, but got shuffle={shuffle}")
    if sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                         f"option, but got sampler={sampler}")
    if batch_sampler is not None:
        raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                         f"batch_sampler option, but got batch_sampler={batch_sampler}")


def _check_batching(batch_size, shuffle, sampler, batch_sampler, drop_last):
    if sampler is not None and shuffle:
        raise ValueError("sampler option is mutually exclusive with shuffle")
    if batch_sampler is not None:
        if batch_size != 1 or shuffle or sampler is not None or drop_last:
            raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                             "shuffle, sampler, and drop_last")
    elif batch_size is None and drop_last:
        raise ValueError("batch_size=None option disables auto-batching and is mutually "
                         "exclusive with drop_last")


def _default_sampler(kind, dataset, shuffle, generator):
    if kind == ITERABLE:
        return _InfiniteConstantSampler()
    if shuffle:
        return RandomSampler(dataset, generator=generator)
    return SequentialSampler(dataset)


def _as_context(context, num_workers):
    """A multiprocessing context from a start method name or a context."""
    import multiprocessing
    import multiprocessing.context

    if num_workers == 0:
        raise ValueError(f"multiprocessing_context can only be used with multi-process "
                         f"loading (num_workers > 0), but got num_workers={num_workers}")
    if isinstance(context, str):
        methods = multiprocessing.get_all_start_methods()
        if context not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start "
                             f"method in {methods!r}, but got "
                             f"multiprocessing_context={context!r}")
        context = multiprocessing.get_context(context)
    if not isinstance(context, multiprocessing.context.BaseContext):
        raise TypeError(f"multiprocessing_context option should be a valid context object or "
                        f"a string specifying the start method, but got "
                        f"multiprocessing_context={context}")
    return context
