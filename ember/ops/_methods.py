"""Building ``Tensor`` methods from op functions: reflected operators, in-place forms, ``out=``.

Each op family lists its methods in a ``METHODS`` dict; ``ember.ops`` attaches them all
to ``Tensor`` in one place.
"""

from ember.ops._inplace import apply_inplace


def reflected(fn):
    """``other OP self`` for ``__rOP__``: the op with its arguments swapped."""

    def method(self, other):
        return fn(other, self)

    method.__name__ = f"__r{fn.__name__}__"
    return method


def inplace(fn, name):
    """The in-place method ``name`` (e.g. ``add_``) that writes ``fn``'s result into self."""

    def method(self, *args, **kwargs):
        return apply_inplace(name, fn, self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"In-place form of ``{fn.__name__}``; returns self."
    return method


def inplace_all(table):
    """``{"add_": add, ...}`` -> ``{"add_": <in-place method>, ...}``."""
    return {name: inplace(fn, name) for name, fn in table.items()}


def write_out(result, out):
    """Support PyTorch's ``out=`` keyword: copy the result into ``out`` and return it."""
    if out is None:
        return result
    if out.shape != result.shape:
        out._data = result._data.astype(out._data.dtype, copy=True)
    else:
        out._data[...] = result._data
    out._vbox[0] += 1
    return out
