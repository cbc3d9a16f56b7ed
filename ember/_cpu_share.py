"""Fewer threads while other processes hold cores, and all of them back when they leave.

ember computes on ``ember.get_num_threads()`` threads: its own pool's pieces in training,
OpenBLAS's threads for inference products (ember/_threads.py). OpenBLAS's threads
spin-wait for each other: a two-thread product is cut in two halves that must both
finish, and when another process holds one of the two cores, the half whose thread lost
its core waits for the scheduler's next time slice while the other thread spins. Measured
on a 2-core machine with one other process spinning, the ``mlp`` training step took 257 ms
at two BLAS threads against 14.5 ms at one (2.5 ms idle); PyTorch's OpenMP threads
collapse the same way. The pool's threads yield rather than spin, yet a piece handed to a
thread without a core still waits for it. WORKLOADS.md asks for a framework that degrades
gracefully under contention, so ember adapts, the way ``OMP_DYNAMIC`` lets an OpenMP
runtime choose fewer threads than it was given:

- a daemon thread wakes every ``PERIOD`` seconds and measures how many cores *other*
  processes kept busy (all CPUs' busy time from /proc/stat minus this process's own CPU
  time), and from that how many cores this process can have (``cores_left``);
- at safe points (the start of a backward pass, an optimizer step, a module call) the
  thread that computes applies the change, so the thread count never changes under an op
  that is running: the count ``ember.set_num_threads`` asked for (or one per core) when
  the machine is free, fewer while it is not.

The daemon starts at the first safe point (``import ember`` starts no thread) and again
in a forked child. ``set_adaptive_threads(False)`` pins the count that
``ember.set_num_threads`` set. Where /proc/stat cannot be read (not Linux), nothing adapts.
"""

import math
import os
import threading
import time

from ember import _threads

__all__ = [
    "adaptive_threads_enabled",
    "cores_left",
    "poll",
    "set_adaptive_threads",
    "set_num_threads",
]

PERIOD = 0.25  # seconds between samples
DROP_AT = 0.3  # other processes' cores above a whole number of cores that costs us one
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class _State:
    enabled = True
    started = False
    limit = None  # cores this process can have, from the latest samples; None: no limit
    applied = None  # the limit the thread count was last set for
    requested = None  # the thread count to use when nothing limits it
    count_set = None  # the thread count this module last set (to notice a user's change)


def set_num_threads(n):
    """Use up to ``n`` threads for ember's heavy ops (products, convolutions): all ``n``
    while the machine has the cores free, fewer while other processes hold them (see
    ``set_adaptive_threads``)."""
    _threads.set_num_threads(n)
    _State.requested = _State.count_set = int(n)
    _State.applied = None  # the next safe point applies the current limit to ``n``


def set_adaptive_threads(enabled):
    """Adapt the thread count to the cores other processes leave free (default), or
    keep exactly what ``ember.set_num_threads`` set (``False``)."""
    _State.enabled = bool(enabled)
    if not enabled and _State.requested is not None:
        _threads.set_thread_count(_State.requested)  # what the user asked for, restored
        _State.applied = _State.count_set = None


def adaptive_threads_enabled():
    """Whether the thread count follows the cores other processes leave free."""
    return _State.enabled


def cores_left(other_cores, cores):
    """How many of ``cores`` this process can use while others keep ``other_cores`` busy.

    A process using a fraction of a core still takes a thread's core for whole time
    slices, so anything above ``DROP_AT`` counts as one core; never fewer than one.
    """
    taken = max(0, math.ceil(other_cores - DROP_AT))
    return max(1, cores - taken)


def poll():
    """A safe point: start the sampler if it is not running; apply a changed limit. Cheap
    (two attribute reads) when nothing changed: every module call makes one."""
    state = _State
    if state.limit != state.applied or not state.started:
        _changed()


def _changed():
    if not _State.started:
        _start()
    if _State.enabled and _State.limit != _State.applied:
        _apply(_State.limit)


def _apply(limit):
    current = _threads.get_num_threads()
    if _State.requested is None or current != _State.count_set:
        _State.requested = current  # the user's (or OpenBLAS's) count, set since our last
    wanted = _State.requested if limit is None else min(_State.requested, limit)
    if wanted != current:
        _threads.set_thread_count(wanted)
    _State.applied, _State.count_set = limit, wanted


def _start():
    _State.started = True
    if not os.path.exists("/proc/stat"):
        return
    threading.Thread(target=_sample_forever, name="ember-cpu-share", daemon=True).start()


def _machine_busy_seconds():
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq = (
            int(v) for v in f.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / _TICK


def _own_seconds():
    t = os.times()
    return t.user + t.system


def _sample_forever():
    cores = os.cpu_count() or 1
    before = (time.monotonic(), _machine_busy_seconds(), _own_seconds())
    previous = 0.0
    while True:
        time.sleep(PERIOD)
        now = (time.monotonic(), _machine_busy_seconds(), _own_seconds())
        wall, busy, own = (b - a for a, b in zip(before, now))
        before = now
        others = max(busy - own, 0.0) / max(wall, 1e-6)
        # Drop at once on one busy sample; come back only after two quiet ones.
        _State.limit = _limit(cores_left(max(others, previous), cores), cores)
        previous = others


def _limit(left, cores):
    return None if left >= cores else left


def _after_fork():
    # The sampler thread does not survive a fork; the child starts its own at its first
    # safe point, and its BLAS count is whatever it inherited.
    _State.started = False
    _State.limit = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
