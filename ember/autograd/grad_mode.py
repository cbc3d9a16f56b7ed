"""Gradient mode: whether ops record the graph. One of ember's two global modes.

The mode is process-wide, not per thread: ember runs one training loop per process
(data workers and distributed ranks are processes), and a plain class attribute is
the cheapest thing an op can read on every call.
"""

import functools

__all__ = [
    "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "is_grad_enabled", "is_inference_mode_enabled",
]


class GradMode:
    """The switches every op reads: ``enabled`` (record the graph), ``inference``."""

    enabled = True
    inference = False


def is_grad_enabled():
    """True when ops record the graph for backward."""
    return GradMode.enabled


def is_inference_mode_enabled():
    """True inside ``inference_mode()``."""
    return GradMode.inference


class _ModeContext:
    """A context manager that is also a decorator, restoring the previous mode on exit."""

    _target = True

    def __enter__(self):
        self._prev = (GradMode.enabled, GradMode.inference)
        self._apply()

    def _apply(self):
        GradMode.enabled = self._target

    def __exit__(self, *exc):
        GradMode.enabled, GradMode.inference = self._prev
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self._fresh():
                return func(*args, **kwargs)
        return wrapper

    def _fresh(self):
        # A new context per call, so recursive or concurrent calls each keep their own _prev.
        return type(self)()


class no_grad(_ModeContext):
    """Ops inside record nothing: ``with ember.no_grad(): ...`` or ``@ember.no_grad()``."""

    _target = False


class enable_grad(_ModeContext):
    """Record the graph again inside a ``no_grad`` block."""

    _target = True


class set_grad_enabled(_ModeContext):
    """``set_grad_enabled(False)`` switches recording off now, or for a ``with`` block."""

    def __init__(self, mode):
        self._target = bool(mode)
        self._prev = (GradMode.enabled, GradMode.inference)
        GradMode.enabled = self._target

    def __enter__(self):
        pass

    def _fresh(self):
        return _SetGradContext(self._target)


class _SetGradContext(_ModeContext):
    def __init__(self, mode):
        self._target = mode


class inference_mode(_ModeContext):
    """Like ``no_grad``, for code that will never need gradients of what it computes."""

    def __init__(self, mode=True):
        self._mode = bool(mode)

    def _fresh(self):
        return inference_mode(self._mode)

    def _apply(self):
        if self._mode:
            GradMode.enabled, GradMode.inference = False, True
