"""Choose how a training loop's steps use the threads, by timing the steps themselves.

With two threads ember can run a step three ways (``MODES``):

- ``"split"`` (the default): OpenBLAS at one thread, and every op whose work splits
  (large products, convolutions, ...) runs in pieces on ember's pool
  (``ember.backend.threads``);
- ``"blas"``: products run whole on OpenBLAS's own threads, which share one packed copy
  of each operand between them; the other ops still split on the pool;
- ``"serial"``: one thread, nothing split.

Which is fastest depends on the model and on the machine's phase, and no cost model of
a single op sees it. Measured on these 2-core virtual machines, wall time per step, one
process per figure (PyTorch's step beside it):

================  ==========  ==========  ==========  ===========
phase, workload   split       blas        serial      PyTorch
================  ==========  ==========  ==========  ===========
fast, ``mlp``     2.50 ms     2.29 ms     3.9 ms      2.38 ms
slow, ``mlp``     4.45 ms     4.25 ms     3.9 ms      3.7 ms
fast, ``lenet``   4.0 ms      6.1 ms
fast, ``lstm``    31.7 ms     60 ms       56 ms
================  ==========  ==========  ==========  ===========

In ``blas`` mode OpenBLAS's threads spin for a while after every product and take the
core that the pool's pieces need, which costs the models whose steps are mostly other
ops. In the slow phase (one thread computes at its usual speed but two get little more
done than one, as if they shared one core) splitting costs time; the splits' own
measure (``split_gain``) cannot see that, because the calling thread's pieces slow down
as much as the other thread's.

So ``tick``, called where an optimizer steps (``Optimizer.step``, a captured step's
update), times the steps between one optimizer's calls and runs a trial: a few blocks of
``BLOCK`` steps in each mode, the first step of each block not counted (it still carries
the previous mode's state), each mode judged by the median of its steps. A mode leaves
the trial once ``CONFIRM`` of its steps took more than ``GIVE_UP`` times the best mode's
median (NOTE [one slow step]), so a bad mode costs a block: one trial on ``mlp`` is about
20 steps, ~50 ms. The loop then runs in the fastest mode (``serial`` only when it wins by
``SERIAL_MARGIN``). The modes that came within ``GIVE_UP`` of it, and ``split`` always,
are tried again ``RETRY`` seconds later (the wait doubling up to ``LONGEST_RETRY`` while
a threaded choice holds, and staying ``RETRY`` while ``serial`` does, NOTE [leaving
serial soon]); every mode is tried every ``FULL_EVERY`` seconds, and at once when the
steps become ``DRIFT`` times slower than the trial measured or the thread count changes.
No retry, full or drift trial starts in the quiet time after a trial, so that trials
take at most ``TRIAL_SHARE`` of the loop's time, which matters on long steps (NOTE [long
steps]); a change of the thread count still starts the tuning over.

It follows ``ember.set_adaptive_threads``: with adaptation off (as in the tests), or at
one thread, steps always run ``"split"``.
"""

import weakref
from time import perf_counter

from ember import _threads
from ember._cpu_share import adaptive_threads_enabled

__all__ = ["MODES", "current_mode", "governs", "last_trial", "reset", "serial", "tick"]

MODES = ("split", "blas", "serial")
WARM_STEPS = 3  # steps before the first trial (caches, compiled kernels, first allocations)
BLOCK = 3  # steps in a row in one mode during a trial; the first of them is not counted
BLOCKS = 2  # blocks of each mode in one trial
GIVE_UP = 1.3  # a mode this many times slower than the best leaves the trial
CONFIRM = 2  # after this many of its counted steps were that slow (NOTE [one slow step])
RETRY = 0.25  # seconds to the next trial of the close modes, doubling up to LONGEST_RETRY
LONGEST_RETRY = 32.0  # while the choice holds
FULL_EVERY = 60.0  # seconds between trials of every mode
DRIFT = 1.25  # steps this many times slower than the trial measured start a trial
RECENT = 16  # steps whose median is compared with the trial's
PAUSE = 10.0  # a step this many times the chosen mode's median is a pause (NOTE [pauses])
TRIAL_SHARE = 0.25  # at most this share of the loop's time goes to trials (NOTE [long steps])
HANDOVER = 2.0  # seconds without a step of the timed optimizer before another one is timed
# "serial" is chosen only when its median beats the best threaded mode's by this factor.
# The risks are not even: one thread leaves a core idle, so when the machine's phase turns
# back (within seconds, on these machines) serial runs up to 2x slower than the threaded
# modes until the next trial, while a threaded mode in the slow phase loses ~1.1x (the
# table above). Seen in a benchmark run: a trial chose serial on ``mlp``, and the step
# then ran at 0.55-0.66x of PyTorch's rate measured in the same round.
SERIAL_MARGIN = 1.1

# NOTE [one slow step]
# A mode that leaves a trial early is, if it is not ``split``, left out of the retries
# until the next full trial (``FULL_EVERY``), so one step taken at a bad moment must not
# send it away: OpenBLAS's threads, started again for the first ``blas`` block, or the
# machine's phase, can make a single step several times slower. Seen in a benchmark
# process, ``mlp``: ``blas``'s one counted step took 5.12 ms against split's 2.63 ms, and
# the loop ran split (2.78 ms per step) for the rest of its life where ``blas`` took 2.44
# ms (1 process in 6). Two slow steps cost one more step in a mode that is really slow
# (``lstm``'s ``blas``: ~30 ms, once per full trial).

# NOTE [pauses]
# A loop that pauses (evaluation, a checkpoint, waiting for data) comes back to cold
# caches, sleeping threads and cores lent to others, and its first steps run slower. A
# trial that came due during the pause timed those steps, and the mode the loop ran in
# leads the trial, so the pause counted against it. Traced on ``mlp`` stepped in bursts
# of 40 a second apart: 32 of 59 bursts began with a trial. So a step that took ``PAUSE``
# times the chosen mode's median ends any trial under way, and the next ``WARM_STEPS``
# steps neither count nor start one (then 1 burst in 90 began with one). In that harness
# the loop's step went from 0.949 to 0.933 of PyTorch's, within noise; in the phases where
# OpenBLAS's threads run slow, the trials after the warm steps still timed split (4.3-5.5
# ms) as slow as blas (4.0-5.1) where split took 2.9-3.2 in a process of its own.

# NOTE [long steps]
# A trial is a number of steps (up to ``BLOCKS * len(MODES) * BLOCK``), so it lasts as
# long as they do: ~50 ms on ``mlp``, ~1 s on ``resnet8``. The waits between trials are
# seconds, set for steps like mlp's. On ``resnet8``, with its modes measured within
# ``GIVE_UP`` of each other (as noisy phases make them), the retries came 0.25-1 s apart
# and each ran two thirds of its steps in blas and serial: a traced process spent 5 of its
# first 9 s in trials, and the processes whose trials chose blas on noise ran 21-22
# steps/s against 25-34 for the others. So a trial of ``d`` seconds is followed by
# ``d * (1 / TRIAL_SHARE - 1)`` seconds in which no trial starts, retry, full or drift.
# On mlp's steps (a trial of 45-80 ms) the quiet time is shorter than ``RETRY``, so only a
# drift within ~0.2 s of a trial waits; on resnet8's it is ~3 s. Fresh processes of the
# benchmark's protocol (10 + 150 steps), alternating with and without the rule, median
# steps/s: ``resnet8`` 31.2 against 28.7 (12 pairs, paired ratio 1.067, with a share of
# 0.2) and 28.9 against 29.0 (12 pairs, 1.02, this share); of those 24 processes without
# the rule, 7 ran below 26 steps/s (the slowest 24.0), and 1 with it (25.5). ``lstm``,
# whose other modes are far and not retried: 33.8 against 35.2 (10 pairs, 1.011). ``mlp``:
# 348 against 381 (12 pairs, paired 1.03), its usual noise.

# NOTE [leaving serial soon]
# The slow phase comes and goes within seconds: ``mlp`` run continuously for 8 s in one
# process, ms per step in 0.5 s windows: blas 2.4-2.7, then 3.6-4.5 for 2 s, then 2.3-2.8
# again; PyTorch's two threads 2.5-2.9, then 3.2-4.6 for 3.5 s; serial 3.7-4.1 throughout.
# A trial in the slow phase rightly picks serial, but with the wait doubling while serial
# held (up to ``LONGEST_RETRY``), a long slow phase could leave the loop on one thread
# for up to that long after it ended, at ~1.6x the threaded step. So while serial holds,
# the threaded modes are tried every ``RETRY`` seconds: in the slow phase a retry's dozen
# threaded steps run ~15% slower than serial's (mlp: ~7 ms lost per 0.25 s, ~3%); after
# it, the loop leaves serial within ``RETRY``. It bounds the worst case, not the usual
# one: 16 rounds of fresh processes, ``mlp``, median step 2.61 ms against 2.65 before
# (PyTorch 2.61).


class _State:
    owner = None  # weakref to the optimizer whose steps are timed
    last = None  # perf_counter() of its last step
    mode = "split"  # the mode steps run in now
    warm = 0  # steps seen since (re)starting
    resume = 0  # steps still to run after a pause before the steps are timed again
    threads = None  # the thread count the current choice is for
    schedule = []  # the trial's remaining modes, one per step  # noqa: RUF012 - process-wide
    samples = None  # {mode: [seconds per counted step]} during a trial
    counted = False  # whether the step now running counts (not a block's first)
    chosen = None  # (mode, its median step) once a trial ended
    medians = None  # {mode: median step} of the last trial
    recent = []  # noqa: RUF012 - the last RECENT steps since the trial ended
    retry_at = 0.0  # perf_counter() time of the next trial
    retry = RETRY  # the wait before the trial after next
    full_at = 0.0  # perf_counter() time of the next trial of every mode
    slowness = {}  # noqa: RUF012 - {mode: its median / the best's} when last measured
    began = 0.0  # perf_counter() time the trial under way began
    quiet_until = 0.0  # no trial starts before this perf_counter() time (NOTE [long steps])


def serial():
    """True while the tuner runs steps on one thread (``pieces`` then cuts nothing)."""
    return _State.mode == "serial"


def governs():
    """True while a training loop's steps are timed (its optimizer stepped within the last
    ``HANDOVER`` seconds): the trials then decide whether splitting pays, by the steps'
    own times, and ``split_gain``'s pauses are not applied (NOTE [one judge of splits])."""
    return _State.last is not None and perf_counter() - _State.last < HANDOVER


def current_mode():
    """The mode steps run in now (one of ``MODES``)."""
    return _State.mode


def last_trial():
    """``{mode: median seconds per step}`` measured by the last trial (None before one)."""
    return _State.medians


def tick(owner):
    """One optimizer step of ``owner`` is starting: time the last one, maybe change mode.

    Called at a safe point (no op running). Cheap when the loop is settled: a clock read
    and a few attribute reads."""
    state = _State
    threads = _threads.get_num_threads()
    if not adaptive_threads_enabled() or threads < 2:
        if state.mode != "split" or state.owner is not None:
            reset()
        return
    now = perf_counter()
    tracked = state.owner() if state.owner is not None else None
    if tracked is not owner:
        # Another optimizer: a second one in the same loop is ignored; one that takes
        # over (a new model, or the old one gone) is timed from scratch.
        if tracked is not None and now - state.last < HANDOVER:
            return
        reset()
        state.owner, state.last, state.threads = weakref.ref(owner), now, threads
        return
    seconds, state.last = now - state.last, now
    if threads != state.threads:
        _restart(threads)
    elif state.chosen is not None and seconds > PAUSE * state.chosen[1]:
        _paused()
    elif state.resume:
        state.resume -= 1
    elif state.schedule or state.samples is not None:
        _trial_step(seconds, now)
    elif state.chosen is None:
        state.warm += 1
        if state.warm >= WARM_STEPS:
            _start_trial(now, full=True)
    else:
        _settled_step(seconds, now)


def _paused():
    """The loop paused (NOTE [pauses]): drop the trial under way, if any, back to the
    chosen mode, and let ``WARM_STEPS`` steps run untimed."""
    state = _State
    if state.schedule or state.samples is not None:
        state.schedule, state.samples = [], None
        _apply(state.chosen[0])
    state.resume, state.recent = WARM_STEPS, []


def _restart(threads):
    _State.threads, _State.warm, _State.chosen, _State.resume = threads, 0, None, 0
    _State.schedule, _State.samples, _State.recent = [], None, []
    _State.retry, _State.slowness, _State.quiet_until = RETRY, {}, 0.0
    _apply("split")


def _start_trial(now, full):
    """A trial of every mode (``full``), or of the modes the last trials found within
    ``GIVE_UP`` of the best; with fewer than two of those, only the next trial is set."""
    modes = [m for m in MODES if m != "blas" or _threads.blas_found()]
    if not full:
        # "split", the default, is always among them: one trial's few steps, on a
        # machine whose speed changes within a second, can make it look far slower than
        # it is (a benchmark run: ``transformer`` trial split 46.9 ms, blas 30.5, then
        # blas steps at 33-34 ms for the rest of the run, where split takes 28-30).
        modes = [m for m in modes
                 if m == "split" or _State.slowness.get(m, GIVE_UP) < GIVE_UP]
    if full:
        _State.full_at = now + FULL_EVERY
    if len(modes) < 2:
        _State.retry = min(2 * _State.retry, LONGEST_RETRY)
        _State.retry_at = now + _State.retry
        return
    modes.sort(key=lambda m: m != _State.mode)  # the current mode first: no switch
    _State.schedule = [m for _ in range(BLOCKS) for m in modes for _ in range(BLOCK)]
    _State.samples, _State.began = {m: [] for m in modes}, now
    _next_trial_step()


def _next_trial_step():
    """Switch to the schedule's next mode; the step it runs is counted unless it is the
    first of a block."""
    mode = _State.schedule.pop(0)
    _State.counted = mode == _State.mode
    _apply(mode)


def _trial_step(seconds, now):
    state = _State
    if state.counted:
        samples = state.samples[state.mode]
        samples.append(seconds)
        best = min((_median(s) for m, s in state.samples.items() if s and m != state.mode),
                   default=None)
        if best is not None and sum(s > GIVE_UP * best for s in samples) >= CONFIRM:
            state.schedule = [m for m in state.schedule if m != state.mode]
    if state.schedule:
        _next_trial_step()
        return
    medians = state.medians = {m: _median(s) for m, s in state.samples.items() if s}
    mode = _fastest(medians)
    state.slowness.update({m: t / medians[mode] for m, t in medians.items()})
    previous = state.chosen[0] if state.chosen else None
    # NOTE [leaving serial soon]
    held = mode == previous and mode != "serial"
    state.retry = min(2 * state.retry, LONGEST_RETRY) if held else RETRY
    state.chosen, state.samples, state.recent = (mode, medians[mode]), None, []
    state.retry_at = now + state.retry
    state.quiet_until = now + (now - state.began) * (1 / TRIAL_SHARE - 1)
    _apply(mode)


def _fastest(medians):
    """The mode with the least median step, serial only by ``SERIAL_MARGIN``."""
    threaded = [m for m in medians if m != "serial"]
    best = min(threaded or medians, key=medians.get)
    if "serial" in medians and medians["serial"] * SERIAL_MARGIN < medians[best]:
        return "serial"
    return best


def _settled_step(seconds, now):
    state = _State
    state.recent.append(seconds)
    if len(state.recent) > RECENT:
        del state.recent[0]
    if now < state.quiet_until:
        return
    if len(state.recent) == RECENT and _median(state.recent) > DRIFT * state.chosen[1]:
        state.retry = RETRY
        _start_trial(now, full=True)
    elif now >= state.full_at:
        _start_trial(now, full=True)
    elif now >= state.retry_at:
        _start_trial(now, full=False)


def _apply(mode):
    _State.mode = mode
    _threads.set_blas_products(mode == "blas")


def _median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def reset():
    """Forget the timed optimizer and any choice; steps run ``"split"`` (tests)."""
    _State.owner, _State.last = None, None
    _restart(None)
