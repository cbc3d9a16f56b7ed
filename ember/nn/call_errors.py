"""Errors raised inside a module call name the module: its path, configuration and input.

``Module.__call__`` catches what ``forward`` raises and hands it to ``add_module_context``
before re-raising the same exception object, so the type (RuntimeError, ShapeError,
ValueError, ...) and the traceback stay as they were. The message becomes::

    in DigitsNet.classifier.2 (Linear(in_features=400, out_features=120, bias=True)),
    called with input of shape (64, 256): linear: ... (train.py:42)

The innermost module that failed sees the exception first and records itself and its
inputs on it; each enclosing module, as the exception passes through it, rewrites the
message with the failing module's path relative to itself, so the outermost module
called has the last word. A layer called on its own (no enclosing module) leaves the
message as it was, which keeps it identical to PyTorch's. All of this runs only when
something was raised: the success path pays for a ``try`` block, which costs nothing in
Python 3.11.
"""

from ember._errors import fmt_shape
from ember.tensor import Tensor

__all__ = ["add_module_context"]

# Exceptions that steer control flow rather than report a failure keep their text.
_UNTOUCHED = (StopIteration, StopAsyncIteration)


class _Context:
    """What the exception carries: the failing module, its inputs, and the original text."""

    __slots__ = ("module", "inputs", "message", "root", "path", "note")

    def __init__(self, module, inputs, message):
        self.module, self.inputs, self.message = module, inputs, message
        self.root, self.path, self.note = module, "", None


def add_module_context(exc, module, args, kwargs):
    """Name ``module`` (or the submodule that failed inside it) in ``exc``'s message."""
    if isinstance(exc, _UNTOUCHED):
        return
    ctx = getattr(exc, "_ember_module_context", None)
    try:
        if ctx is None:
            exc._ember_module_context = _Context(module, _describe_inputs(args, kwargs),
                                                 _own_text(exc))
        elif ctx.root is not module and _climb(ctx, module):
            _rewrite(exc, ctx)
    except (AttributeError, TypeError):  # an exception type that takes no attributes
        pass


def _climb(ctx, module):
    """Make ``module`` the root, the failing module's path relative to it; False if not in it."""
    path = _path_of(module, ctx.module)
    if path is None:
        below = _path_of(module, ctx.root)
        if below is None:  # called from outside the tree (e.g. kept in a plain list)
            return False
        path = ".".join(p for p in (below, ctx.path) if p)
    ctx.root, ctx.path = module, path
    return True


def _path_of(root, target):
    for name, m in root.named_modules():
        if m is target:
            return name
    return None


def _own_text(exc):
    """The exception's text when it is a plain message (else None: it gets a note)."""
    args = exc.args
    if type(exc).__str__ is BaseException.__str__ and len(args) == 1 \
            and isinstance(args[0], str):
        return args[0]
    return None


def _rewrite(exc, ctx):
    where = _where(ctx)
    if ctx.message is not None:
        exc.args = (f"{where}: {ctx.message}",)
    elif hasattr(exc, "add_note"):  # Python 3.11+: a note, for messages that are not text
        notes = getattr(exc, "__notes__", None)
        if ctx.note is not None and notes is not None and ctx.note < len(notes):
            notes[ctx.note] = where
        else:
            exc.add_note(where)
            ctx.note = len(exc.__notes__) - 1


def _where(ctx):
    """``in Net.features.0 (Conv2d(1, 6, kernel_size=(5, 5))), called with input ...``."""
    config = _config(ctx.module)
    if ctx.path:
        place = f"in {ctx.root._get_name()}.{ctx.path} ({config})"
    else:
        place = f"in {config}"
    return f"{place}, called with {ctx.inputs}"


def _config(module):
    extra = module.extra_repr().replace("\n", ", ")
    return f"{module._get_name()}({extra})" if extra else module._get_name()


def _describe_inputs(args, kwargs):
    if not args and not kwargs:
        return "no input"
    if len(args) == 1 and not kwargs and isinstance(args[0], Tensor):
        return f"input of shape {fmt_shape(args[0].shape)}"
    items = [_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()]
    text = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    shaped = any(isinstance(a, Tensor) for a in (*args, *kwargs.values()))
    return ("inputs of shape " if shaped else "inputs ") + text


def _describe(value):
    if isinstance(value, Tensor):
        return fmt_shape(value.shape)
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, Tensor) for v in value):
        return f"{type(value).__name__}[" + ", ".join(fmt_shape(v.shape) for v in value) + "]"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    return type(value).__name__
