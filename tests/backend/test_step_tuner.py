"""``ember.backend.step_tuner`` on a fake clock: each simulated step takes the time its
mode is given, so what the tuner chooses, how long it spends in a bad mode and when it
tries again are checked exactly. The modes' effects on the ops (``pieces``, the products'
split, OpenBLAS's thread count) are checked on the real switches."""

import itertools

import numpy as np
import pytest

import ember
from ember import _threads
from ember.backend import step_tuner, threads
from ember.backend.step_tuner import (
    BLOCK,
    CONFIRM,
    GIVE_UP,
    MODES,
    PAUSE,
    RECENT,
    RETRY,
    SERIAL_MARGIN,
    TRIAL_SHARE,
    WARM_STEPS,
)
from ember.ops import linalg

needs_openblas = pytest.mark.skipif(not _threads.blas_found(),
                                    reason="NumPy's BLAS is not OpenBLAS")


class _Clock:
    now = 100.0

    def __call__(self):
        return self.now


class _Optimizer:
    """Stands for an optimizer: the tuner only keeps a weak reference to it."""


@pytest.fixture
def tuner(monkeypatch):
    """Two threads, adaptation on, a fake clock; ``run(owner, seconds, steps)`` ticks
    ``steps`` times, each step taking ``seconds[mode]`` (the mode it ran in), and returns
    the modes the steps ran in."""
    previous = ember.get_num_threads()
    ember.set_num_threads(2)
    clock = _Clock()
    monkeypatch.setattr(step_tuner, "perf_counter", clock)
    monkeypatch.setattr(step_tuner, "adaptive_threads_enabled", lambda: True)
    step_tuner.reset()

    def run(owner, seconds, steps):
        modes = []
        for _ in range(steps):
            step_tuner.tick(owner)
            mode = step_tuner.current_mode()
            modes.append(mode)
            clock.now += seconds[mode]
        return modes

    run.clock = clock
    try:
        yield run
    finally:
        step_tuner.reset()
        ember.set_num_threads(previous)


@needs_openblas
def test_the_fastest_mode_is_chosen(tuner):
    owner = _Optimizer()
    modes = tuner(owner, {"split": 2.5e-3, "blas": 2.3e-3, "serial": 3.9e-3}, 60)
    assert modes[:WARM_STEPS + 1] == ["split"] * (WARM_STEPS + 1)
    assert set(modes) == set(MODES)  # every mode was tried
    assert step_tuner.current_mode() == "blas"
    assert modes[-10:] == ["blas"] * 10
    trial = step_tuner.last_trial()
    assert trial == pytest.approx({"split": 2.5e-3, "blas": 2.3e-3, "serial": 3.9e-3})


@needs_openblas
def test_a_slow_mode_leaves_the_trial_after_two_slow_counted_steps(tuner):
    owner = _Optimizer()
    modes = tuner(owner, {"split": 30e-3, "blas": 60e-3, "serial": 56e-3}, 40)
    # each bad mode: the block's first step (not counted) and CONFIRM counted steps
    assert CONFIRM == 2 == BLOCK - 1
    assert modes.count("blas") == 1 + CONFIRM and modes.count("serial") == 1 + CONFIRM
    assert step_tuner.current_mode() == "split"
    assert step_tuner.last_trial()["blas"] > GIVE_UP * step_tuner.last_trial()["split"]


@needs_openblas
def test_one_slow_step_does_not_send_the_fastest_mode_away(tuner):
    """NOTE [one slow step]: blas's first counted step is 2x split's, its others are the
    fastest; it stays in the trial and is chosen."""
    owner = _Optimizer()
    seconds = {"split": 2.6e-3, "blas": 2.4e-3, "serial": 3.9e-3}
    counted_blas, modes = 0, []
    for _ in range(60):
        step_tuner.tick(owner)
        mode = step_tuner.current_mode()
        slow = mode == "blas" and step_tuner._State.counted and counted_blas == 0
        counted_blas += mode == "blas" and step_tuner._State.counted
        modes.append(mode)
        tuner.clock.now += 5.2e-3 if slow else seconds[mode]
    assert counted_blas >= 2 * (BLOCK - 1)  # both blocks of blas ran
    assert step_tuner.current_mode() == "blas" and modes[-10:] == ["blas"] * 10
    assert step_tuner.last_trial()["blas"] == pytest.approx(2.4e-3)


@needs_openblas
def test_slower_steps_start_a_new_trial(tuner):
    owner = _Optimizer()
    tuner(owner, {"split": 2.5e-3, "blas": 2.6e-3, "serial": 3.9e-3}, 40)
    assert step_tuner.current_mode() == "split"
    # the second core stops helping: split and blas slow down, serial does not
    modes = tuner(owner, {"split": 4.6e-3, "blas": 4.5e-3, "serial": 3.9e-3}, RECENT + 40)
    assert "serial" in modes[RECENT:]
    assert step_tuner.current_mode() == "serial"


@needs_openblas
def test_serial_must_win_by_the_margin(tuner):
    """One thread leaves a core idle, so it has to beat the threaded modes clearly."""
    owner = _Optimizer()
    slightly = 4.3e-3 / (0.5 * (1 + SERIAL_MARGIN))  # faster, but by less than the margin
    tuner(owner, {"split": 4.6e-3, "blas": 4.3e-3, "serial": slightly}, 60)
    assert step_tuner.last_trial()["serial"] < step_tuner.last_trial()["blas"]
    assert step_tuner.current_mode() == "blas"
    clearly = 4.3e-3 / (1.2 * SERIAL_MARGIN)
    tuner(owner, {"split": 4.6e-3, "blas": 4.3e-3, "serial": clearly}, 200)
    assert step_tuner.current_mode() == "serial"


@needs_openblas
def test_serial_is_left_soon_after_the_slow_phase_however_long_it_held(tuner):
    """While serial holds, the threaded modes are tried every RETRY seconds (no doubling):
    once the second core helps again, the loop goes back to two threads within about
    RETRY seconds, even after a slow phase of many retries."""
    owner = _Optimizer()
    slow = {"split": 4.6e-3, "blas": 4.5e-3, "serial": 3.8e-3}
    tuner(owner, slow, int(20.0 / 3.8e-3))  # 20 s of the slow phase
    assert step_tuner.current_mode() == "serial"
    assert step_tuner._State.retry == RETRY
    fast = {"split": 2.6e-3, "blas": 2.4e-3, "serial": 3.8e-3}
    start = tuner.clock.now
    modes = tuner(owner, fast, int(2 * RETRY / 2.4e-3))
    assert step_tuner.current_mode() == "blas"
    serial_time = sum(fast["serial"] for m in modes if m == "serial")
    assert serial_time < RETRY + 0.05
    assert tuner.clock.now - start > RETRY  # the check above covered a whole retry wait


@needs_openblas
def test_close_modes_are_tried_again_and_far_ones_wait_for_the_full_trial(tuner):
    owner = _Optimizer()
    seconds = {"split": 2.5e-3, "blas": 2.6e-3, "serial": 4e-3}
    tuner(owner, seconds, 40)
    assert step_tuner.current_mode() == "split"
    modes = tuner(owner, seconds, int(2 * RETRY / 2.5e-3))
    assert "blas" in modes  # within GIVE_UP of split: tried again after RETRY seconds
    assert "serial" not in modes  # 1.6x slower: left for the next full trial


@needs_openblas
def test_split_is_tried_again_even_after_one_trial_found_it_far_slower(tuner):
    """A trial of a few steps can catch a slow moment: the default mode then gets
    another trial after RETRY seconds, not only at the next full trial."""
    owner = _Optimizer()
    tuner(owner, {"split": 4.7e-3, "blas": 3e-3, "serial": 6e-3}, 40)
    assert step_tuner.current_mode() == "blas"
    assert step_tuner.last_trial()["split"] > GIVE_UP * step_tuner.last_trial()["blas"]
    modes = tuner(owner, {"split": 2.8e-3, "blas": 3e-3, "serial": 6e-3},
                  int(2 * RETRY / 3e-3))
    assert "serial" not in modes  # 2x slower: left for the next full trial
    trial = step_tuner.last_trial()
    assert set(trial) == {"split", "blas"} and min(trial, key=trial.get) == "split"
    assert modes[-30:].count("split") > 20  # the loop runs split again (retries aside)


@needs_openblas
def test_trials_of_long_steps_take_a_bounded_share_of_the_time(tuner):
    """NOTE [long steps]: steps of ~40 ms with every mode within GIVE_UP of the best make
    each trial ~0.75 s, and waits of RETRY doubling would put ~40% of the first 10 s in
    trials. After each trial no other starts for its length times 1 / TRIAL_SHARE - 1;
    the retries still come."""
    owner = _Optimizer()
    seconds = {"split": 40e-3, "blas": 44e-3, "serial": 48e-3}
    trials = []  # [start, end] clock times of each trial
    while tuner.clock.now < 110.0:
        step_tuner.tick(owner)
        if step_tuner._State.samples is not None:
            if not trials or trials[-1][1] is not None:
                trials.append([tuner.clock.now, None])
        elif trials and trials[-1][1] is None:
            trials[-1][1] = tuner.clock.now
        tuner.clock.now += seconds[step_tuner.current_mode()]
    assert len(trials) >= 3
    for (start, end), (following, _) in itertools.pairwise(trials):
        assert 0.6 < end - start < 0.9
        assert following - end >= (end - start) * (1 / TRIAL_SHARE - 1)
    assert step_tuner._State.chosen[0] == "split"  # each trial chose it


@needs_openblas
def test_a_pause_ends_the_trial_and_the_next_steps_are_not_timed(tuner):
    """NOTE [pauses]: a step PAUSE times the chosen median (the loop stopped for a while)
    drops the trial under way, back to the chosen mode; the next WARM_STEPS steps start
    no trial, though one is due, and then one starts."""
    owner = _Optimizer()
    seconds = {"split": 2.6e-3, "blas": 2.4e-3, "serial": 3.9e-3}
    tuner(owner, seconds, 60)
    assert step_tuner.current_mode() == "blas"
    for _ in range(int(2 * RETRY / 2.4e-3)):  # step until the retry's trial starts
        tuner(owner, seconds, 1)
        if step_tuner._State.schedule:
            break
    assert step_tuner._State.schedule  # the trial is under way
    tuner.clock.now += PAUSE * 2.4e-3 * 2  # the loop stops inside the trial
    modes = tuner(owner, seconds, WARM_STEPS + 1)
    assert modes == ["blas"] * (WARM_STEPS + 1)  # dropped, and no trial meanwhile
    modes = tuner(owner, seconds, 3 * BLOCK)
    assert "split" in modes  # then the due trial runs


@needs_openblas
def test_one_close_mode_is_not_a_trial(tuner):
    owner = _Optimizer()
    seconds = {"split": 1e-3, "blas": 2e-3, "serial": 2e-3}
    tuner(owner, seconds, 40)
    modes = tuner(owner, seconds, int(5 * RETRY / 1e-3))
    assert set(modes) == {"split"}


def test_a_second_optimizer_is_ignored_and_a_new_one_starts_over(tuner):
    first, second = _Optimizer(), _Optimizer()
    seconds = {"split": 1e-3, "blas": 3e-3, "serial": 3e-3}
    tuner(first, seconds, WARM_STEPS + BLOCK)
    tracked = step_tuner._State.owner()
    tuner(second, seconds, 5)  # its ticks come while the first one still steps
    assert step_tuner._State.owner() is tracked is first
    tuner.clock.now += 5.0  # the first one stopped stepping
    tuner(second, seconds, 1)
    assert step_tuner._State.owner() is second
    assert step_tuner.current_mode() == "split" and step_tuner._State.chosen is None


def test_nothing_changes_without_adaptation_or_at_one_thread(tuner, monkeypatch):
    owner = _Optimizer()
    seconds = {"split": 3e-3, "blas": 1e-3, "serial": 1e-3}
    ember.set_num_threads(1)
    assert set(tuner(owner, seconds, 40)) == {"split"}
    ember.set_num_threads(2)
    monkeypatch.setattr(step_tuner, "adaptive_threads_enabled", lambda: False)
    assert set(tuner(owner, seconds, 40)) == {"split"}


@needs_openblas
def test_the_modes_switch_the_ops(tuner):
    """serial: nothing splits; blas: products run whole on OpenBLAS's two threads; and
    back to split, OpenBLAS at one thread again."""
    big = linalg._SPLIT_WORK
    assert threads.pieces(8, 1 << 30, 1) == 2 and linalg.product_pieces(128, big) == 2
    step_tuner._apply("serial")
    assert threads.pieces(8, 1 << 30, 1) == 1
    step_tuner._apply("blas")
    assert threads.pieces(8, 1 << 30, 1) == 2 and linalg.product_pieces(128, big) == 1
    assert _threads.blas_library_threads() == 2
    a = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    np.testing.assert_allclose(a @ a, a.astype(np.float64) @ a, rtol=1e-4, atol=1e-3)
    step_tuner._apply("split")
    assert _threads.blas_library_threads() == 1
    assert linalg.product_pieces(128, big) == 2
    # OpenBLAS's threads were shut down (NOTE [stopping OpenBLAS's spinners]); its next
    # threaded product starts them again
    step_tuner._apply("blas")
    np.testing.assert_allclose(a @ a, a.astype(np.float64) @ a, rtol=1e-4, atol=1e-3)


def test_a_real_training_loop_reaches_a_choice(monkeypatch):
    """Through ``Optimizer.step``: a small model's loop on the real clock ends its trial
    in one of the modes, and its parameters train as usual."""
    previous = ember.get_num_threads()
    ember.set_num_threads(2)
    monkeypatch.setattr(step_tuner, "adaptive_threads_enabled", lambda: True)
    step_tuner.reset()
    try:
        net = ember.nn.Linear(64, 8)
        optimizer = ember.optim.SGD(net.parameters(), lr=0.1)
        x = ember.randn(256, 64)
        first = None
        for _ in range(WARM_STEPS + 3 * 2 * BLOCK + 5):
            optimizer.zero_grad()
            loss = (net(x) ** 2).mean()
            first = first if first is not None else loss.item()
            loss.backward()
            optimizer.step()
        assert step_tuner._State.chosen is not None
        assert step_tuner.current_mode() in MODES
        assert loss.item() < first
    finally:
        step_tuner.reset()
        ember.set_num_threads(previous)
