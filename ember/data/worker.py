"""The worker process side of the DataLoader: seeding, the fetch loop, and how failures
and tensors travel back. The rules are in NOTE [DataLoader workers] (pool.py)."""

import dataclasses
import os
import queue
import random
import sys
import traceback

import numpy as np

from ember import random as _random
from ember.data.fetch import ITERABLE, create_fetcher
from ember.tensor import Tensor

__all__ = ["WorkerInfo", "get_worker_info"]

# Seconds a worker waits for a task before checking that its parent is still alive.
STATUS_CHECK_INTERVAL = 1.0


@dataclasses.dataclass(frozen=True)
class WorkerInfo:
    """What a worker process knows about itself.

    Attributes:
        id: this worker's id, ``0 .. num_workers - 1``.
        num_workers: how many workers the DataLoader runs.
        seed: the seed of this worker's ember default generator (and Python's ``random``).
        dataset: this process's copy of the dataset.
    """

    id: int
    num_workers: int
    seed: int
    dataset: object


_worker_info = None


def get_worker_info():
    """The ``WorkerInfo`` of the current DataLoader worker, or None in the main process.

    An ``IterableDataset`` calls it in ``__iter__`` to yield only its worker's share.
    """
    return _worker_info


@dataclasses.dataclass(frozen=True)
class _IterableEnd:
    """A worker's iterable dataset is exhausted."""

    worker_id: int


@dataclasses.dataclass(frozen=True)
class _Resume:
    """Start a new epoch with persistent workers (reply: the same object, then batches)."""


class WorkerFailure:
    """An exception raised in a worker, carried to the main process as text.

    The exception type travels too when it can be sent (builtin and importable types),
    so the main process re-raises the same type; otherwise a RuntimeError.
    """

    def __init__(self, exc, stage=None):
        self.exc_type = type(exc) if _sendable(type(exc)) else None
        self.type_name = type(exc).__name__
        self.message = str(exc)
        self.traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.stage = stage

    def error(self, prefix):
        """The exception to raise in the main process: ``prefix: Type: message\\ntraceback``."""
        text = f"{prefix}: {self.type_name}: {self.message}\n{self.traceback}"
        if self.exc_type is KeyError:
            return KeyError(_VerbatimMessage(text))
        try:
            return self.exc_type(text) if self.exc_type is not None else RuntimeError(text)
        except Exception:  # noqa: BLE001 - a type whose constructor takes other arguments
            return RuntimeError(text)


class _VerbatimMessage(str):
    """KeyError prints ``repr`` of its argument; this keeps the traceback's line breaks."""

    def __repr__(self):
        return str(self)


def _sendable(exc_type):
    """Whether the class can be named in another process (module-level and importable)."""
    module = sys.modules.get(exc_type.__module__)
    return getattr(module, exc_type.__qualname__, None) is exc_type


# ---- tensors between processes ------------------------------------------------------

def share_tensors_as_arrays():
    """Make multiprocessing send an ember Tensor as its NumPy array (no autograd state).

    Registered with multiprocessing's own pickler only, which serves the queues, pipes
    and process arguments of the DataLoader's workers; calling it again does nothing.
    """
    from multiprocessing.reduction import ForkingPickler

    ForkingPickler.register(Tensor, _reduce_tensor)


def _reduce_tensor(t):
    if t.requires_grad and not t.is_leaf:
        raise RuntimeError("a tensor that requires grad and is not a leaf cannot be sent to "
                           "another process (autograd graphs do not cross processes); "
                           "send tensor.detach() instead")
    return _rebuild_tensor, (t._data, t.requires_grad)


def _rebuild_tensor(array, requires_grad):
    t = Tensor._make(array)
    return t.requires_grad_(True) if requires_grad else t


# ---- seeding --------------------------------------------------------------------------

def seed_worker(base_seed, worker_id):
    """Seed this process's generators as PyTorch does for its workers; returns the seed.

    ember's default generator and Python's ``random`` get ``base_seed + worker_id``;
    NumPy's legacy global ``np.random`` gets PyTorch's hash of both, so its streams
    differ between workers and between epochs (PyTorch's ``_generate_state``).
    """
    seed = base_seed + worker_id
    random.seed(seed)
    _random.manual_seed(seed)
    np.random.seed(_generate_state(base_seed, worker_id))
    return seed


_MASK32 = 0xFFFFFFFF


def _hash_stream(init, mult):
    """PyTorch's seed-sequence style hash: each call mixes in the next hash constant."""
    const = init

    def hash32(value):
        nonlocal const
        value = (value ^ const) & _MASK32
        const = (const * mult) & _MASK32
        value = (value * const) & _MASK32
        return (value ^ (value >> 16)) & _MASK32
    return hash32


def _mix(x, y):
    result = ((0xCA01F9DD * x) - (0x4973F715 * y)) & _MASK32
    return (result ^ (result >> 16)) & _MASK32


def _generate_state(base_seed, worker_id):
    """Four 32-bit words for ``np.random.seed``: PyTorch's ``_generate_state``, the
    algorithm of NumPy's ``SeedSequence`` on the entropy ``[worker_id, base_seed]``."""
    entropy = [worker_id, base_seed & _MASK32, base_seed >> 32, 0]
    hash_a = _hash_stream(0x43B0D7E5, 0x931E8875)
    pool = [hash_a(e) for e in entropy]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = _mix(pool[dst], hash_a(pool[src]))
    hash_b = _hash_stream(0x8B51F9DD, 0x58F38DED)
    return [hash_b(p) for p in pool]


# ---- the worker loop ------------------------------------------------------------------

class _Worker:
    """One worker process: take ``(task_id, index)`` from the index queue, fetch, send
    ``(task_id, batch)`` back on the result pipe, until told to stop (``None``)."""

    def __init__(self, kind, dataset, loader_args, init_fn, worker_id):
        self.kind, self.dataset, self.loader_args = kind, dataset, loader_args
        self.worker_id = worker_id
        self.parent = os.getppid()
        self.iteration_end = False
        self.fetcher, self.failure = None, None  # a setup failure is the first task's reply
        try:
            if init_fn is not None:
                init_fn(worker_id)
        except Exception as exc:  # noqa: BLE001 - reported through the first task
            self.failure = WorkerFailure(exc, stage="worker_init_fn")
            return
        self.restart()

    def restart(self):
        """A fresh fetcher (for an iterable dataset: a fresh ``iter(dataset)``)."""
        self.iteration_end = False
        try:
            self.fetcher = create_fetcher(self.kind, self.dataset, *self.loader_args)
        except Exception as exc:  # noqa: BLE001
            self.failure = WorkerFailure(exc, stage="iter(dataset)")

    def next_task(self, index_queue):
        """The next message from the main process; None when told to stop or orphaned."""
        while os.getppid() == self.parent:
            try:
                return index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                continue
        return None

    def handle(self, task):
        """The reply to one task."""
        if isinstance(task, _Resume):
            self.restart()
            return task, None
        task_id, index = task
        if self.failure is not None:
            failure, self.failure = self.failure, None
            return task_id, failure
        try:
            return task_id, self.fetcher.fetch(index)
        except StopIteration as exc:
            if self.kind != ITERABLE:
                return task_id, WorkerFailure(exc)
            self.iteration_end = True
            return task_id, _IterableEnd(self.worker_id)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the main process
            return task_id, WorkerFailure(exc)


def worker_loop(kind, dataset, index_queue, result_conn, done_event, loader_args, base_seed,
                init_fn, worker_id, num_workers):
    """The body of a worker process (see NOTE [DataLoader workers] in pool.py).

    ``loader_args`` are the fetcher's ``(auto_collation, collate_fn, drop_last)``.
    """
    global _worker_info
    try:
        share_tensors_as_arrays()
        seed = seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
        worker = _Worker(kind, dataset, loader_args, init_fn, worker_id)
        while (task := worker.next_task(index_queue)) is not None:
            if done_event.is_set() or (worker.iteration_end and not isinstance(task, _Resume)):
                continue  # shutting down, or nothing left to fetch: drop the task
            if not _send(result_conn, worker.handle(task)):
                break
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole process group; the main process handles it
    finally:
        result_conn.close()


def _send(conn, message):
    """Send ``(task_id, payload)``; a payload that cannot be sent becomes a failure.
    Returns False when the main process has gone away."""
    try:
        conn.send(message)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        return False
    except Exception as exc:  # noqa: BLE001 - e.g. an object that cannot be pickled
        try:
            conn.send((message[0], WorkerFailure(exc, stage="send")))
        except (BrokenPipeError, ConnectionResetError, EOFError):
            return False
    return True
