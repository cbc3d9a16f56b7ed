"""Hashable keys of node params, so that equal params compare equal as dict keys.

Two call nodes compute the same thing when they have the same target, the same inputs
and equal params. Params hold numbers, tuples, arrays, dtypes, small ember objects and
subgraphs; ``params_key`` turns them into nested tuples that hash. Types are part of the
key (``1``, ``1.0`` and ``True`` hash alike in Python, but an op may treat them apart);
arrays compare by dtype, shape and bytes; subgraphs by identity.
"""

import numpy as np

from ember.jit.graph import Graph

__all__ = ["params_key", "Unkeyable"]


class Unkeyable(TypeError):
    """A param that cannot be compared: the node is treated as unique."""


def params_key(params):
    """A hashable key equal for equal ``params`` dicts; raises ``Unkeyable``."""
    return _key(params)


def _key(obj):
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.dtype.str, obj.shape, obj.tobytes())
    if isinstance(obj, Graph):
        return ("graph", id(obj))
    if isinstance(obj, dict):
        return ("dict", tuple(sorted((str(k), _key(v)) for k, v in obj.items())))
    if isinstance(obj, (tuple, list)):
        return (type(obj).__qualname__, tuple(_key(x) for x in obj))
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, np.dtype, type)):
        return (type(obj).__qualname__, obj)
    if isinstance(obj, np.generic):
        return ("scalar", obj.dtype.str, obj.tobytes())
    fields = _fields(obj)
    if fields is None:
        raise Unkeyable(type(obj).__qualname__)
    return (type(obj).__module__, type(obj).__qualname__,
            tuple((f, _key(getattr(obj, f, None))) for f in fields))


def _fields(obj):
    if hasattr(obj, "__dict__"):
        return sorted(vars(obj))
    slots = getattr(type(obj), "__slots__", None)
    return list(slots) if slots else None
