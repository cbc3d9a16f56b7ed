"""Layer arguments given as an int or a tuple, expanded to one value per dimension."""

from collections.abc import Iterable
from itertools import repeat


def _ntuple(n, name):
    def parse(x):
        if isinstance(x, Iterable):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")


def _reverse_repeat_tuple(t, n):
    """``(a, b)`` with ``n=2`` -> ``(b, b, a, a)``: per-dimension padding in ``F.pad`` order
    (last dimension first)."""
    return tuple(x for x in reversed(t) for _ in range(n))
