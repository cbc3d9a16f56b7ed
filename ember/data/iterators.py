"""The iterators behind ``iter(DataLoader)``: in the main process, or over worker
processes (NOTE [DataLoader workers] in pool.py)."""

import itertools
import warnings
import weakref

from ember.data import pool
from ember.data.fetch import ITERABLE, MAP, create_fetcher
from ember.data.sampler import draw_seed
from ember.data.worker import WorkerFailure, _IterableEnd, _Resume


class _BaseIter:
    """What the in-process and the multi-process iterators share: the sampler, the base
    seed (drawn in both, see NOTE [DataLoader workers] rule 4) and the length check."""

    def __init__(self, loader):
        self._dataset = loader.dataset
        self._kind = loader._dataset_kind
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._persistent = loader.persistent_workers
        if loader.pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=3)
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = draw_seed(loader.generator)
        self._num_yielded = 0
        self._len_reported = loader._IterableDataset_len_called

    def __iter__(self):
        return self

    def _reset(self, loader):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._len_reported = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        if self._kind == ITERABLE and self._len_reported is not None \
                and self._num_yielded > self._len_reported:
            warnings.warn(self._length_warning(), stacklevel=2)
        return data

    def _length_warning(self):
        message = (f"Length of IterableDataset {self._dataset} was reported to be "
                   f"{self._len_reported} (when accessing len(dataloader)), but "
                   f"{self._num_yielded} samples have been fetched. ")
        if self._num_workers > 0:
            message += ("With worker processes, this is usually an IterableDataset that does "
                        "not split its samples between workers (see get_worker_info()).")
        return message

    def __len__(self):
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{type(self).__name__} cannot be pickled")


class _SingleProcessIter(_BaseIter):
    def __init__(self, loader):
        super().__init__(loader)
        if self._timeout != 0:
            raise ValueError(f"timeout={self._timeout} applies to worker processes only; use "
                             "num_workers > 0 or timeout=0")
        self._fetcher = create_fetcher(self._kind, self._dataset, self._auto_collation,
                                       self._collate_fn, self._drop_last)

    def _next_data(self):
        return self._fetcher.fetch(self._next_index())


class _Task:
    """One batch: the worker it went to, its indices and, once back, its data."""

    __slots__ = ("worker_id", "index", "data")
    PENDING = object()

    def __init__(self, worker_id, index):
        self.worker_id, self.index, self.data = worker_id, index, _Task.PENDING


class _MultiProcessIter(_BaseIter):
    """Iterates a DataLoader with worker processes (NOTE [DataLoader workers])."""

    def __init__(self, loader):
        super().__init__(loader)
        if not loader.prefetch_factor or loader.prefetch_factor <= 0:
            raise ValueError(f"prefetch_factor must be greater than 0 for multi-process "
                             f"loading, but got prefetch_factor={loader.prefetch_factor}")
        self._prefetch = loader.prefetch_factor
        self._in_order = loader.in_order
        ctx = loader.multiprocessing_context or pool.default_context()
        loader_args = (self._auto_collation, self._collate_fn, self._drop_last)
        self._pool = pool.WorkerPool(ctx, self._kind, self._dataset, loader_args,
                                     self._base_seed, loader.worker_init_fn, self._num_workers)
        self._finalizer = weakref.finalize(self, self._pool.shutdown)
        self._reset(loader, first=True)

    @property
    def worker_pids(self):
        """The pids of this iterator's worker processes."""
        return list(self._pool.pids)

    def _reset(self, loader, first=False):
        super()._reset(loader)
        n = self._num_workers
        self._send_idx = self._rcvd_idx = 0
        self._tasks = {}
        self._active = [True] * n
        self._num_tasks = [0] * n
        self._cycle = itertools.cycle(range(n))
        if not first:
            self._resume_workers()
        for _ in range(self._prefetch * n):
            self._try_put_index()

    def _resume_workers(self):
        """Start a new epoch on persistent workers; older replies are dropped."""
        for w in range(self._num_workers):
            self._pool.put(w, _Resume())
        waiting = self._num_workers
        while waiting:
            task_id, _ = self._get_data()
            waiting -= isinstance(task_id, _Resume)

    def _next_data(self):
        while True:
            if self._pool.closed:
                raise StopIteration
            task_id = self._next_in_order()
            if task_id is None:
                if not self._persistent:
                    self._shutdown()
                raise StopIteration
            if self._tasks[task_id].data is not _Task.PENDING:
                return self._hand_out(task_id)
            task_id, data = self._get_data()
            if isinstance(data, _IterableEnd):
                self._retire(data.worker_id)
                self._try_put_index()
                continue
            self._tasks[task_id].data = data
            if task_id == self._rcvd_idx or not self._in_order:
                return self._hand_out(task_id)

    def _next_in_order(self):
        """The id of the next batch to hand out, skipping batches given to workers
        whose iterable dataset ended; None when the epoch is over."""
        while self._rcvd_idx < self._send_idx:
            task = self._tasks.get(self._rcvd_idx)
            if task is not None:
                if task.data is not _Task.PENDING or self._active[task.worker_id]:
                    return self._rcvd_idx
                del self._tasks[self._rcvd_idx]
            self._rcvd_idx += 1
        return None

    def _hand_out(self, task_id):
        task = self._tasks.pop(task_id)
        if task_id == self._rcvd_idx:
            self._rcvd_idx += 1
        self._num_tasks[task.worker_id] -= 1
        self._try_put_index()
        if isinstance(task.data, WorkerFailure):
            self._fail(self._failure_error(task))
        return task.data

    def _try_put_index(self):
        max_tasks = self._prefetch * self._num_workers
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            w = next(self._cycle)
            if self._active[w] and (self._in_order or
                                    self._num_tasks[w] < max_tasks // sum(self._active)):
                break
        else:
            return
        self._pool.put(w, (self._send_idx, index))
        self._tasks[self._send_idx] = _Task(w, index)
        self._num_tasks[w] += 1
        self._send_idx += 1

    def _retire(self, worker_id):
        """A worker's iterable dataset is exhausted: stop it (unless persistent)."""
        self._active[worker_id] = False
        if not self._persistent:
            self._pool.put(worker_id, None)

    def _get_data(self):
        active = [w for w, on in enumerate(self._active) if on]
        try:
            message = self._pool.receive(active, self._timeout or None)
        except pool.WorkerDied as died:
            self._fail(RuntimeError(
                f"DataLoader worker {died.worker_id} (pid {died.pid}) exited unexpectedly "
                f"{pool.describe_exit(died.exitcode)} while loading "
                f"{self._pending_of(died.worker_id)}"))
        if message is None:
            task = self._oldest_pending()
            what = f"{self._describe(task)} from worker {task.worker_id}" if task else "workers"
            self._fail(RuntimeError(
                f"DataLoader timed out after {self._timeout} seconds waiting for {what}"))
        return message

    def _oldest_pending(self):
        return next((t for _, t in sorted(self._tasks.items()) if t.data is _Task.PENDING),
                    None)

    def _pending_of(self, worker_id):
        tasks = [t for _, t in sorted(self._tasks.items())
                 if t.worker_id == worker_id and t.data is _Task.PENDING]
        return self._describe(tasks[0]) if tasks else "nothing (it was idle)"

    def _describe(self, task):
        if self._kind == ITERABLE:
            return "the next batch of its IterableDataset"
        if self._kind == MAP and self._auto_collation:
            return f"batch indices {list(task.index)}"
        return f"index {task.index!r}"

    def _failure_error(self, task):
        failure, what = task.data, self._describe(task)
        if failure.stage is None:
            how = f"on {what}"
        elif failure.stage == "send":
            how = f"to send {what} to the main process"
        else:
            how = f"in {failure.stage} (before {what})"
        return failure.error(f"DataLoader worker {task.worker_id} failed {how}")

    def _fail(self, error):
        self._shutdown(grace=0.5)
        raise error

    def _shutdown(self, grace=pool.SHUTDOWN_GRACE):
        self._finalizer.detach()
        self._pool.shutdown(grace)
