"""The graph's op table: every name a ``call`` node may target, and what it runs.

Two kinds of entry, both keyed by the name the tracer records:

- an ``Op`` subclass, by its class name (``Linear``, ``Relu``, ``Conv``): applied to the
  input tensors with the node's params, ``cls.apply(*tensors, **params)``;
- a ``@traceable`` function (``embedding``, ``cross_entropy``, ``getitem``): called with
  the node's recorded arguments, the input tensors put back in their places.

Tables in other layers (ONNX export, the compiled executor) are keyed by the same names;
their coverage tests compare against ``op_names()``.
"""

import ember.nn
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.autograd.traceable import TRACEABLE

__all__ = ["CONTROL_FLOW", "assign", "is_function", "lookup", "op_names", "set_grad_enabled"]

# Call targets whose params hold subgraphs (``control_flow.py``): ember.cond, while_loop.
CONTROL_FLOW = ("cond", "while_loop")


def assign(target, value):
    """The ``assign`` node: ``target`` (a named tensor, e.g. a buffer) overwritten in place.

    Capture records one when an in-place op changes a module's buffer or a captured
    tensor (``num_batches_tracked += 1``), so that replaying the graph changes it too.
    """
    target._data[...] = value._data
    target._vbox[0] += 1


def set_grad_enabled(enabled):
    """The ``set_grad_enabled`` node: the traced code switched gradient mode here
    (``with ember.no_grad():``); the nodes after it run in that mode."""
    GradMode.enabled = bool(enabled)

_CLASSES = {}


def _collect(cls):
    for sub in cls.__subclasses__():
        if sub.__module__.startswith("ember."):
            _CLASSES.setdefault(sub.__name__, sub)
        _collect(sub)


def _classes():
    # Rebuilt when new Op subclasses appeared since (a lazily imported module defines some).
    if not _CLASSES or len(_CLASSES) < _count(Op):
        _CLASSES.clear()
        _collect(Op)
    return _CLASSES


def _count(cls):
    return sum(1 + _count(s) for s in cls.__subclasses__() if s.__module__.startswith("ember."))


def lookup(name):
    """The Op class or traceable function a call node named ``name`` runs."""
    cls = _CLASSES.get(name)
    if cls is not None:
        return cls
    fn = TRACEABLE.get(name)
    if fn is not None:
        return fn
    if name == "assign":
        return assign
    if name == "set_grad_enabled":
        return set_grad_enabled
    if name in CONTROL_FLOW:  # nodes holding subgraphs; the interpreter runs them itself
        from ember.jit import control_flow

        return getattr(control_flow, name)
    cls = _classes().get(name)
    if cls is None:
        raise KeyError(f"ember.jit: no op named {name!r}; this graph was made by a newer "
                       "ember or names an op defined outside ember")
    return cls


def is_function(name):
    return name in TRACEABLE


def op_names():
    """Every name a call node can target: Op class names and traceable function names."""
    return sorted(set(_classes()) | set(TRACEABLE) | set(CONTROL_FLOW)
                  | {"assign", "set_grad_enabled"})
