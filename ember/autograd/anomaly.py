"""Anomaly mode: find the forward op behind a NaN gradient.

Inside ``detect_anomaly()`` every recorded op remembers the user's line that called
it, and the engine checks each gradient a node returns; the first NaN raises an error
naming the op and that line. It costs a stack walk per op, so it is for debugging only.
"""

from ember.autograd.node import Anomaly

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


def is_anomaly_enabled():
    return Anomaly.enabled


class detect_anomaly:
    """Context manager (and decorator) that turns anomaly detection on for its block."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = Anomaly.enabled
        Anomaly.enabled = self.check_nan

    def __exit__(self, *exc):
        Anomaly.enabled = self._prev
        return False

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return func(*args, **kwargs)
        return wrapper


class set_detect_anomaly(detect_anomaly):
    """``set_detect_anomaly(True)`` turns it on now, or for a ``with`` block."""

    def __init__(self, mode, check_nan=True):
        self.check_nan = bool(mode) and check_nan
        self._prev = Anomaly.enabled
        Anomaly.enabled = self.check_nan

    def __enter__(self):
        pass
