"""Errors that read like sentences: the op, what was wrong, and the user's own line.

The "user's line" is the first stack frame outside the ember package, so a shape
mismatch deep inside a layer still points at the line of the training script.
Looking it up walks the stack, so it is done only when an error is being raised.
"""

import os
import sys

_EMBER_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_frame(skip_prefixes=()):
    """The innermost frame outside ember (and outside ``skip_prefixes``), or None."""
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith(_EMBER_DIR) and not name.startswith(skip_prefixes):
            if not (name.startswith("<frozen") or "importlib" in name):
                return frame
        frame = frame.f_back
    return None


def user_line():
    """``"train.py:42"`` for the user's innermost frame, or ``""`` when there is none."""
    frame = user_frame()
    if frame is None:
        return ""
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


def _with_line(message):
    where = user_line()
    return f"{message} ({where})" if where else message


class ShapeError(RuntimeError, ValueError):
    """Shapes that do not fit an op. A RuntimeError, as in PyTorch, and a ValueError."""

    ember = True


def mark(exc):
    """Tag an exception as already phrased by ember, so no layer rewraps it."""
    exc.ember = True
    return exc


def shape_error(op, message):
    """``ShapeError("op: message (file.py:line)")``."""
    return ShapeError(_with_line(f"{op}: {message}"))


def type_error(op, message):
    """``TypeError("op: message (file.py:line)")`` for wrong dtypes or argument types."""
    return mark(TypeError(_with_line(f"{op}: {message}")))


def index_error(op, message):
    """``IndexError("op: message (file.py:line)")`` for indices out of range."""
    return mark(IndexError(_with_line(f"{op}: {message}")))


def value_error(op, message):
    """``ValueError("op: message (file.py:line)")`` for bad argument values."""
    return mark(ValueError(_with_line(f"{op}: {message}")))


def runtime_error(op, message):
    """``RuntimeError("op: message (file.py:line)")`` for misuse of autograd and the like."""
    return mark(RuntimeError(_with_line(f"{op}: {message}")))


def fmt_shape(shape):
    """``(64, 100)`` for a shape, ``()`` for a scalar: the notation used in every message."""
    shape = tuple(shape)
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
