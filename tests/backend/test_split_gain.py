"""``ember.backend.split_gain``: the pool stops splitting while a second thread does not
pay, starts again after a pause, and always splits with adaptation off."""

import threading
import time

import pytest

import ember
from ember.backend import split_gain, threads


@pytest.fixture
def measuring(split_everything, monkeypatch):
    """Two threads, adaptation on (so splits are judged), every split judged at once."""
    monkeypatch.setattr(split_gain, "WINDOW", 0.0)
    monkeypatch.setattr(split_gain, "SPLITS", 1)
    threads.split(lambda lo, hi: hi, 2, 2)  # the pool's start-up (threads, spin kernel)
    split_gain.reset()
    ember.set_adaptive_threads(True)
    try:
        yield
    finally:
        ember.set_adaptive_threads(False)
        split_gain.reset()


def _one_piece_each(worker_seconds, caller_seconds):
    """A split into two ranges that the calling thread and a worker run one each."""
    both = threading.Barrier(2, timeout=10)

    def piece(lo, hi):
        both.wait()
        on_worker = threading.current_thread().name.startswith("ember-worker")
        time.sleep(worker_seconds if on_worker else caller_seconds)
        return hi

    threads.split(piece, 2, 2, per_thread=1)


def test_a_slow_second_thread_pauses_splits_until_the_pause_ends(measuring, monkeypatch):
    monkeypatch.setattr(split_gain, "PAUSE", 0.5)
    split_gain.reset()
    assert threads.pieces(100, 10, 1) == 2
    _one_piece_each(worker_seconds=0.1, caller_seconds=0.001)  # one thread: ~0.002 s
    assert threads.pieces(100, 10, 1) == 1
    time.sleep(0.6)
    assert threads.pieces(100, 10, 1) == 2


def test_the_pause_doubles_while_splits_keep_not_paying_and_resets_when_they_pay(measuring):
    split_gain.reset()
    for seconds in (split_gain.PAUSE, 2 * split_gain.PAUSE):
        before = time.perf_counter()
        split_gain.observe(1.0, 0.1, 0.5)  # gain 0.2
        until = split_gain._Window.paused_until
        assert until is not None and until - before >= seconds >= until - time.perf_counter()
        split_gain._Window.paused_until = None
    split_gain.observe(1.0, 0.9, 0.5)  # gain 1.8
    assert split_gain._Window.paused_until is None
    assert split_gain._Window.pause == split_gain.PAUSE


def test_a_window_is_judged_by_its_median_split(measuring, monkeypatch):
    """One split that waited (a kernel compiled on first use) does not pause the rest."""
    monkeypatch.setattr(split_gain, "SPLITS", 5)
    split_gain.reset()
    split_gain.observe(0.5, 0.001, 0.5)  # gain 0.004
    for _ in range(4):
        split_gain.observe(0.001, 0.0009, 0.5)  # gain 1.8
    assert split_gain._Window.paused_until is None
    assert split_gain._Window.gains == []  # judged: a new window


def test_balanced_pieces_keep_splitting(measuring):
    _one_piece_each(worker_seconds=0.03, caller_seconds=0.03)  # one thread: ~0.06 s
    assert threads.pieces(100, 10, 1) == 2


def test_without_adaptation_splits_never_pause(measuring):
    _one_piece_each(worker_seconds=0.1, caller_seconds=0.001)
    assert threads.pieces(100, 10, 1) == 1
    ember.set_adaptive_threads(False)
    assert threads.pieces(100, 10, 1) == 2


def test_a_timed_training_loop_leaves_the_choice_to_the_step_tuner(measuring, monkeypatch):
    from ember.backend import step_tuner

    now = [100.0]
    monkeypatch.setattr(step_tuner, "perf_counter", lambda: now[0])
    owner = object.__new__(ember.optim.SGD)  # only its identity is used
    step_tuner.reset()
    try:
        step_tuner.tick(owner)  # a loop's first step: its steps are timed from now on
        _one_piece_each(worker_seconds=0.1, caller_seconds=0.001)
        assert not split_gain.paying()
        assert threads.pieces(100, 10, 1) == 2  # the tuner's trials judge the splits
        now[0] += step_tuner.HANDOVER + 1  # the loop stopped stepping
        assert threads.pieces(100, 10, 1) == 1
    finally:
        step_tuner.reset()


def test_weights_give_the_callers_share(measuring, monkeypatch):
    seen = []
    monkeypatch.setattr(split_gain, "observe", lambda wall, busy, share: seen.append(share))
    # One range per thread, the calling thread's item weighing 3 of 4 or 1 of 4.
    both = threading.Barrier(2, timeout=10)
    ranges = []

    def piece(lo, hi):
        both.wait()
        if not threading.current_thread().name.startswith("ember-worker"):
            ranges.append(lo)
        return hi

    threads.split(piece, 2, 2, per_thread=1, weights=[3, 1])
    assert seen == [0.75 if ranges == [0] else 0.25]
