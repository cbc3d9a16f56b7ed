"""Every test here is bounded: a DataLoader that hangs fails its test instead of CI."""

import signal

import pytest

LIMIT = 30  # seconds; the slowest test here takes a few


@pytest.fixture(autouse=True)
def _bounded_time():
    def fail(signum, frame):
        raise TimeoutError(f"test still running after {LIMIT} s: a DataLoader hang?")

    previous = signal.signal(signal.SIGALRM, fail)
    signal.alarm(LIMIT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)
