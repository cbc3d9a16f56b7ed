"""Whether splitting an op over ember's threads still pays, measured on the splits themselves.

The virtual machines ember is measured on have phases, minutes long, in which a second
thread adds little or nothing: one thread computes at its usual speed, but two threads
together get far less than twice as much done, and no other process in the machine is
busy (so ``ember._cpu_share`` sees nothing to adapt to). Measured on the ``mlp`` step in one
process, alternating every 30 steps: 255 steps/s at one thread throughout, 390 at two in
the fast phase and 205-220 at two in the slow one, where splitting costs a fifth of the
speed (PyTorch's two threads dropped from 370 to 270 in the same phase).

So every split measures what it gained. The calling thread times the pieces it ran itself
and knows what share of the work they were; at its speed, the whole op would have taken
``busy / share`` on one thread, and that against the split's wall time is its gain. A
window of splits (at least ``WINDOW`` seconds and ``SPLITS`` splits) is judged by its
median gain, so that a split that waited for something else (a kernel compiled or loaded
on first use) does not count for more than one. Below ``MIN_GAIN`` the pool stops
splitting for a pause, ``PAUSE`` seconds doubling while windows keep not paying, up to
``LONGEST_PAUSE``, and then measures again. In the fast phase the median gain is 1.5-1.9
and nothing changes. When the two threads merely share one core's arithmetic, the
calling thread's own pieces run slower too, the estimate stays high and splitting goes
on, which is right: it still gains a little.

NOTE [one judge of splits]: in a training loop the step tuner (``ember.backend.step_tuner``)
times whole steps in each way of using the threads, one thread (``serial``) among them,
and its judgement wins: while it times a loop, a pause here does not stop the splits. The
two judges disagreed: a window measured during the tuner's ``blas`` trial (the pool's
pieces beside OpenBLAS's spinning threads) paused the splits into the next mode, so the
trial timed ``split`` steps run on one thread, and the loop then ran slower than its
chosen mode had measured, started a full trial again, and so on (traced on the compiled
``resnet8`` step: three trials of every mode within 1.1 seconds).

It follows ``ember.set_adaptive_threads``: with adaptation off, splits always run.
"""

from time import perf_counter

from ember._cpu_share import adaptive_threads_enabled

__all__ = ["observe", "paying"]

WINDOW = 0.05  # seconds of split wall time judged at once
SPLITS = 16  # and at least this many splits
MIN_GAIN = 1.15  # below this, two threads barely beat one (pieces cost some efficiency)
PAUSE = 0.25  # seconds without splits after a window that did not pay
LONGEST_PAUSE = 4.0  # the pause doubles up to this while windows keep not paying


class _Window:
    gains = []  # the window's splits' gains  # noqa: RUF012 - one process-wide window
    wall = 0.0  # and their wall time
    pause = PAUSE  # the next pause
    paused_until = None  # perf_counter() time to split again; None while splitting


def paying():
    """False while splits are paused because the last window of them did not pay."""
    until = _Window.paused_until
    if until is None:
        return True
    if perf_counter() < until and adaptive_threads_enabled():
        return False
    _Window.paused_until = None
    return True


def observe(wall, busy, share):
    """Record one split: ``wall`` seconds in all, of which the calling thread spent
    ``busy`` running pieces that were ``share`` (0-1] of the op's work."""
    if share <= 0 or wall <= 0 or not adaptive_threads_enabled():
        return
    window = _Window
    window.gains.append(busy / share / wall)
    window.wall += wall
    if window.wall >= WINDOW and len(window.gains) >= SPLITS:
        gains = sorted(window.gains)
        if gains[len(gains) // 2] < MIN_GAIN:
            window.paused_until = perf_counter() + window.pause
            window.pause = min(2 * window.pause, LONGEST_PAUSE)
        else:
            window.pause = PAUSE
        window.gains, window.wall = [], 0.0


def reset():
    """Forget the current window and any pause (tests)."""
    _Window.gains, _Window.wall = [], 0.0
    _Window.pause, _Window.paused_until = PAUSE, None
