"""``split``: run the independent pieces of one op on all of ember's threads at once.

An op whose work splits into independent pieces (the samples of a convolution's batch,
the rows of a product) runs them on ``ember.get_num_threads()`` threads, each piece a
plain serial computation: NumPy copies and Numba kernels compiled with ``nogil=True``
release the GIL, and a product called with BLAS at one thread runs entirely in the
calling thread. The threads share no state and wait for each other only when the op
ends, and a worker waiting for work yields its core at every turn and soon sleeps, so
when another process holds a core the pieces take about what the serial op takes
(OpenBLAS's and Numba's spinning threads collapsed 4-1000x there).

The pool is ``get_num_threads() - 1`` persistent worker threads (started on first use)
plus the calling thread, which take pieces in turn. BLAS stays at one thread (see
``ember._threads``); if it was given more threads, it is set to one while pieces run (a
product called from two threads at once with BLAS at two is serialized by OpenBLAS's
lock) and restored afterwards.

``background`` hands the first worker work that nobody reads until ``join_background``
(a compiled step's weight gradients); a split meanwhile does not wait for that worker.
"""

import ctypes
import itertools
import os
import queue
import threading
from time import perf_counter
from typing import ClassVar

import numpy as np

from ember._threads import blas_library_threads, get_num_threads, set_library_threads
from ember.backend import split_gain, step_tuner
from ember.backend.compiled import kernel

__all__ = ["background", "join_background", "pieces", "split", "splitting"]


# Each thread takes pieces in turn, this many per thread by default. Two per thread let a
# thread whose core another process holds leave the rest of the pieces to the others,
# but each piece repeats its NumPy steps, which wait for the GIL (a convolution's pieces
# spent most of their time there), and while another process holds a core ember now runs
# on fewer threads (``ember._cpu_share``) or stops splitting (``split_gain``). Measured
# with one piece per thread against two (2 idle cores, whole training steps, medians of
# 6-8 interleaved rounds): lenet 0.98x the time (twice), lstm 0.98x and 1.00x, mlp,
# resnet8 and transformer 1.00x.
_PIECES_PER_THREAD = 1


# After a split a worker waits this many turns (roughly 0.3 ms) for the next task before it
# sleeps, yielding its core to any other thread at each turn. A training step's split ops
# come tens to hundreds of microseconds apart: a sleeping worker needs a wake-up, and the
# scheduler often wakes it on the core of the thread that posted the task, where the two
# then take turns (measured: a 1 ms product split in two took 1.1 ms, its pieces run one
# after the other). Staying awake keeps the worker on its own core; yielding, it costs
# little when the core is wanted elsewhere (another process, or our calling thread).
_SPIN_TURNS = 1000
_sched_yield = getattr(ctypes.CDLL(None), "sched_yield", None)
if _sched_yield is not None:
    _sched_yield.restype, _sched_yield.argtypes = ctypes.c_int, []


@kernel(cache=False)  # calls a C function by address: Numba cannot cache it on disk
def _spin(flag, turns, mark):
    """Set ``mark[0]`` to 1, then return once ``flag[0]`` is non-zero or after ``turns``
    turns (the GIL released throughout)."""
    mark[0] = 1
    for i in range(turns):
        if flag[0] != 0:
            return i
        _sched_yield()
    return turns


class _Pool:
    workers: ClassVar[list] = []  # the started threads' (task queue, wake-up flag)
    lock = threading.Lock()
    active = False  # True while a split runs (a nested split runs serially)


class _Spin:
    usable = _sched_yield is not None  # False once compiling or calling ``_spin`` failed
    unmarked = np.zeros(1, np.int64)  # the mark of waits that mark nothing


def _wait_awake(flag, mark=None):
    """Spin on ``flag`` for a while if the compiled ``_spin`` can (else return at once),
    having set ``mark[0]`` to 1 once the GIL is released (at once without ``_spin``)."""
    if _Spin.usable and _spin.ready():
        try:
            _spin(flag, _SPIN_TURNS, _Spin.unmarked if mark is None else mark)
            return
        except Exception:  # noqa: BLE001 - a worker must never die: it would hang a split
            _Spin.usable = False
    if mark is not None:
        mark[0] = 1


def _work(tasks, flag):
    mark = None  # the first wait marks nothing: no split waits on it yet
    while True:
        if tasks.empty():
            _wait_awake(flag, mark)
        elif mark is not None:
            mark[0] = 1  # another task is queued (after a background one): no wait to mark
        run, done, mark = tasks.get()
        flag[0] = 0  # a task posted while this one runs finds the queue not empty
        try:
            run()
        finally:
            done.release()
            # ``mark`` is set by the next wait, once this thread has let go of the GIL: the
            # caller, spinning on it, then takes the GIL at once instead of blocking on it
            # (a blocked thread's core sleeps, and waking it costs tens of us here).


def _forget_workers():
    """In a forked child: the parent's worker threads do not exist here."""
    _Pool.workers, _Pool.lock, _Pool.active = [], threading.Lock(), False
    _Background.pending, _Background.errors = [], []


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


def _workers(count):
    with _Pool.lock:
        if len(_Pool.workers) < count and not _Pool.workers:
            # Compile the spin-wait before the first split is timed (``split_gain``).
            _wait_awake(np.ones(1, np.int64))
        while len(_Pool.workers) < count:
            tasks, flag = queue.SimpleQueue(), np.zeros(1, np.int64)
            thread = threading.Thread(target=_work, args=(tasks, flag), daemon=True,
                                      name=f"ember-worker-{len(_Pool.workers)}")
            thread.start()
            _Pool.workers.append((tasks, flag))
    return _Pool.workers[:count]


def splitting():
    """True while a ``split`` runs (its pieces must not start parallel regions)."""
    return _Pool.active


def pieces(n, work, min_work):
    """How many pieces to cut ``n`` items into: 1 unless ``work`` is at least ``min_work``.

    ``work`` is the op's size in any unit the caller's threshold is measured in; the count
    is at most ``n`` and the number of threads ``ember.set_num_threads`` set; 1 while
    splits are paused because they stopped paying (``ember.backend.split_gain``; not in a
    training loop, NOTE [one judge of splits]) or the training loop's steps ran fastest on
    one thread (``ember.backend.step_tuner``).
    """
    if (n < 2 or work < min_work or _Pool.active or step_tuner.serial()
            or (not split_gain.paying() and not step_tuner.governs())):
        return 1
    return min(n, get_num_threads())


def split(fn, n, count, per_thread=_PIECES_PER_THREAD, weights=None):
    """``fn(lo, hi)`` over contiguous ranges covering ``range(n)``, on ``count`` threads.

    Returns the results in the ranges' order. ``fn`` must be safe to run in threads (its
    calls write disjoint outputs). With ``count == 1`` this is ``[fn(0, n)]`` in the
    calling thread; an exception in any range is raised here once every thread stopped.
    ``per_thread`` ranges per thread (1 where each range has a fixed cost, such as a
    product packing its shared operand: a (128, 784) @ (784, 512) product split by
    columns ran in 0.60 ms as 2 ranges, 0.62 as 4; by rows 0.63 and 0.77). ``weights``:
    each item's share of the work where the items differ (the pool measures what a split
    gains from the share the calling thread ran, see ``ember.backend.split_gain``).
    """
    if count <= 1 or _Background.running.active:
        return [fn(0, n)]
    total = min(n, count * per_thread)
    bounds = [n * i // total for i in range(total + 1)]
    results, errors = [None] * total, []
    order = itertools.count()  # next() on it is atomic under the GIL

    def drain(mine=None):
        for i in order:
            if i >= total or errors:
                return
            if mine is not None:
                mine.append(i)
            try:
                results[i] = fn(bounds[i], bounds[i + 1])
            except BaseException as error:  # noqa: BLE001 - re-raised in the caller
                errors.append(error)
                return

    library, dones, mine = blas_library_threads(), [], []
    behind = bool(_Background.pending)  # the first worker may be busy with that work
    if library > 1:
        set_library_threads(1)
    _Pool.active = True
    try:
        workers = _workers(count - 1)
        start = perf_counter()
        for tasks, flag in workers:
            dones.append(_post(tasks, flag, drain))
        began = perf_counter()
        drain(mine)
        busy = perf_counter() - began
    finally:
        # A worker that took no piece (the calling thread ran them all, as while the
        # worker runs background work) has nothing to wait for: its turn finds none left.
        if len(mine) < total:
            for done, mark in dones:
                # Spin (GIL released, yielding the core) for the worker's last piece before
                # blocking: waking from a blocked acquire costs ~10 us, a third of a split.
                _wait_awake(mark)
                done.acquire()
        _Pool.active = False
        if library > 1:
            set_library_threads(library)
    if errors:
        raise errors[0]
    if not behind:  # a worker kept busy on purpose says nothing about what splits gain
        split_gain.observe(perf_counter() - start, busy, _share(mine, bounds, n, weights))
    return results


def _post(tasks, flag, run):
    """Queue ``run`` for a worker; ``(done, mark)``: ``done`` (a held lock) is released when
    ``run`` returns, and ``mark[0]`` becomes 1 once the worker let go of the GIL after it."""
    done, mark = threading.Lock(), np.zeros(1, np.int64)
    done.acquire()
    tasks.put((run, done, mark))
    flag[0] = 1  # after the put: a spinning worker then finds the task queued
    return done, mark


def _share(mine, bounds, n, weights):
    """The share of the work in the ranges ``mine`` (indices into ``bounds``)."""
    if weights is None:
        return sum(bounds[i + 1] - bounds[i] for i in mine) / n
    total = sum(weights)
    return sum(sum(weights[bounds[i]:bounds[i + 1]]) for i in mine) / total if total else 0


class _Running(threading.local):
    active = False  # True in a worker thread while it runs a ``background`` task


class _Background:
    pending: ClassVar[list] = []  # (done, mark) of the tasks ``background`` posted, oldest first
    errors: ClassVar[list] = []  # what they raised
    running = _Running()


def background(fn):
    """Start ``fn()`` on ember's first worker thread and return True at once; False (and
    nothing run) where there is no worker to take it: one thread, or inside a split.

    For work whose result nobody reads until ``join_background()``: a compiled training
    step's weight gradients (NOTE [weight gradients in the background] in
    ``ember/jit/array_linear.py``). ``fn`` runs after the worker's queued tasks; splits
    started meanwhile do not wait for the busy worker (the calling thread runs their
    pieces until it is free), and a split inside ``fn`` runs its pieces in the worker, one
    after the other. ``fn`` should release the GIL for most of its time (a BLAS product, a
    compiled kernel), or it only takes turns with the caller.
    """
    if _Pool.active or get_num_threads() < 2:
        return False
    tasks, flag = _workers(1)[0]

    def run():
        _Background.running.active = True
        try:
            fn()
        except BaseException as error:  # noqa: BLE001 - re-raised by join_background
            _Background.errors.append(error)
        finally:
            _Background.running.active = False

    _Background.pending.append(_post(tasks, flag, run))
    return True


def join_background():
    """Wait until every task ``background`` started has returned; raise the first error
    one of them raised."""
    pending, _Background.pending = _Background.pending, []
    for done, mark in pending:
        _wait_awake(mark)
        done.acquire()
    if _Background.errors:
        error, _Background.errors = _Background.errors[0], []
        raise error
