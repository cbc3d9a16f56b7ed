"""``ember.backend.threads.background``: work on the worker that nothing waits for until
``join_background``, and splits that do not wait for a worker kept busy by it."""

import threading

import numpy as np
import pytest

import ember
from ember.backend import threads


@pytest.fixture
def two_threads():
    previous = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        yield
    finally:
        threads.join_background()
        ember.set_num_threads(previous)


def test_background_runs_on_the_worker_and_join_waits_for_it(two_threads):
    ran, release = [], threading.Event()

    def work():
        assert release.wait(10)
        ran.append(threading.current_thread().name)

    assert threads.background(work)
    assert ran == []  # started, not waited for
    release.set()
    threads.join_background()
    assert ran == ["ember-worker-0"]


def test_a_split_does_not_wait_for_a_worker_busy_in_the_background(two_threads):
    release, late = threading.Event(), []

    def work():
        late.append(not release.wait(10))  # True: the split below waited for this

    assert threads.background(work)
    pieces = threads.split(lambda lo, hi: (lo, hi, threading.current_thread().name), 8, 2)
    assert [p[:2] for p in pieces] == [(0, 4), (4, 8)]
    assert {p[2] for p in pieces} == {threading.current_thread().name}  # ran them all
    release.set()
    threads.join_background()
    assert late == [False]
    # The worker is free again: a split's pieces can reach it.
    both = threading.Barrier(2, timeout=10)
    assert threads.split(lambda lo, hi: both.wait() is not None, 2, 2) == [True, True]


def test_join_raises_what_the_background_raised_once(two_threads):
    def work():
        raise ValueError("from the worker")

    assert threads.background(work)
    with pytest.raises(ValueError, match="from the worker"):
        threads.join_background()
    threads.join_background()  # reported once; the worker goes on
    done = []
    assert threads.background(lambda: done.append(1))
    threads.join_background()
    assert done == [1]


def test_without_a_worker_nothing_runs_in_the_background():
    previous = ember.get_num_threads()
    ember.set_num_threads(1)
    try:
        assert not threads.background(lambda: pytest.fail("ran"))
    finally:
        ember.set_num_threads(previous)
    ember.set_num_threads(2)
    try:  # nor inside a split: the worker may be running the split's other pieces
        found = threads.split(lambda lo, hi: threads.background(lambda: None), 2, 2)
        assert found == [False, False]
    finally:
        ember.set_num_threads(previous)


def test_a_background_product_equals_the_same_call_in_the_caller(two_threads):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((300, 200)), rng.standard_normal((200, 100))
    out = np.empty((300, 100))
    assert threads.background(lambda: np.matmul(a, b, out=out))
    threads.join_background()
    np.testing.assert_array_equal(out, np.matmul(a, b))


def test_a_split_inside_background_work_runs_in_the_worker(two_threads):
    found, finished = [], threading.Event()

    def work():
        pieces = threads.split(lambda lo, hi: (lo, hi, threading.current_thread().name), 8, 2)
        found.extend(pieces)
        finished.set()

    assert threads.background(work)
    # One piece, in the worker: a split there must not queue pieces for its own thread, nor
    # mark the pool busy while the calling thread may be in a split of its own.
    assert finished.wait(10), "a split inside background work waits for itself"
    threads.join_background()
    assert found == [(0, 8, "ember-worker-0")]
