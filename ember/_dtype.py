"""dtypes: ember's names for NumPy's element types, and PyTorch's promotion rules.

PyTorch promotes by *category* (bool < integer < floating) before size, and lets
0-dim tensors and Python scalars take part in promotion only when they raise the
category. NumPy's own rules differ (int64 * 2.5 gives float64 there, float32 in
PyTorch), so every op that mixes dtypes asks :func:`result_type` here.
"""

import builtins

import numpy as np

__all__ = [
    "dtype", "float16", "float32", "float64", "half", "float", "double",
    "uint8", "int8", "int16", "int32", "int64", "short", "int", "long", "bool",
    "get_default_dtype", "set_default_dtype", "promote_types", "result_type",
    "is_floating_point", "finfo", "iinfo",
]


class dtype:
    """An element type. Compare with ``is``/``==``; ``.is_floating_point`` tells the kind."""

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_signed", "_category")

    def __init__(self, name, np_type):
        self.name = name
        self.np = np.dtype(np_type)
        self.itemsize = self.np.itemsize
        self.is_floating_point = self.np.kind == "f"
        self.is_signed = self.np.kind in "fi"
        self._category = {"b": 0, "u": 1, "i": 1, "f": 2}[self.np.kind]

    def __repr__(self):
        return f"ember.{self.name}"

    def __reduce__(self):
        return self.name

    def to_complex(self):
        raise NotImplementedError("ember has no complex dtypes")


float16 = half = dtype("float16", np.float16)
float32 = float = dtype("float32", np.float32)  # noqa: A001 - PyTorch's alias
float64 = double = dtype("float64", np.float64)
uint8 = dtype("uint8", np.uint8)
int8 = dtype("int8", np.int8)
int16 = short = dtype("int16", np.int16)
int32 = int = dtype("int32", np.int32)  # noqa: A001 - PyTorch's alias
int64 = long = dtype("int64", np.int64)
bool = dtype("bool", np.bool_)  # noqa: A001 - PyTorch's alias

ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool)
_FROM_NUMPY = {d.np: d for d in ALL}


class _Defaults:
    float_dtype = float32


def get_default_dtype():
    """The dtype that Python floats and ``ember.rand``-style factories produce."""
    return _Defaults.float_dtype


def set_default_dtype(d):
    """Set the default floating dtype (float32 unless changed); float16/32/64 only."""
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {d}")
    _Defaults.float_dtype = d


def from_numpy_dtype(np_dtype):
    """The ember dtype of a NumPy dtype; a clear TypeError for ones ember lacks."""
    try:
        return _FROM_NUMPY[np_dtype]
    except KeyError:
        pass
    try:
        return _FROM_NUMPY[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(
            f"ember has no dtype for NumPy's {np_dtype}; supported: "
            + ", ".join(d.name for d in ALL)
        ) from None


def as_dtype(d):
    """Accept an ember dtype, a NumPy dtype, a Python type or a name; return an ember dtype."""
    if isinstance(d, dtype):
        return d
    if d is builtins.float:
        return get_default_dtype()
    if isinstance(d, str):
        found = globals().get(d)
        if isinstance(found, dtype):
            return found
    return from_numpy_dtype(d)


def promote_types(a, b):
    """The smallest dtype that holds both, by category first (bool < int < float)."""
    if a is b:
        return a
    if a._category != b._category:
        return a if a._category > b._category else b
    return _FROM_NUMPY[np.promote_types(a.np, b.np)]


def scalar_dtype(value):
    """The dtype a Python scalar takes when it alone decides (PyTorch's wrapped numbers)."""
    if isinstance(value, (np.generic, np.ndarray)):
        return from_numpy_dtype(value.dtype)
    if value is True or value is False:
        return bool
    if isinstance(value, builtins.int):
        return int64
    return get_default_dtype()


def result_type(*operands):
    """PyTorch's result dtype for tensors (with ``.dtype`` and ``.ndim``) and Python scalars.

    Dimensioned tensors decide; 0-dim tensors, then scalars, count only when their
    category is higher than what was decided so far.
    """
    dims = zero = scal = None
    for x in operands:
        if hasattr(x, "_data"):
            d = x.dtype
            if x._data.ndim:
                dims = d if dims is None else promote_types(dims, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        else:
            d = scalar_dtype(x)
            scal = d if scal is None else promote_types(scal, d)
    out = dims
    if zero is not None and (out is None or zero._category > out._category):
        out = zero
    if scal is not None and (out is None or scal._category > out._category):
        out = scal if out is None else _category_default(scal)
    return out


def _category_default(d):
    return (bool, int64, get_default_dtype())[d._category]


def is_floating_point(t):
    """True when the tensor's dtype is a floating type."""
    return t.dtype.is_floating_point


class finfo:
    """Machine limits of a floating dtype (``eps``, ``max``, ``min``, ``tiny``)."""

    def __init__(self, d=None):
        info = np.finfo(as_dtype(d or get_default_dtype()).np)
        self.bits, self.eps, self.max = info.bits, info.eps.item(), info.max.item()
        self.min, self.tiny = info.min.item(), info.tiny.item()
        self.resolution = info.resolution.item()
        self.smallest_normal = self.tiny
        self.dtype = str(info.dtype)


class iinfo:
    """Limits of an integer dtype (``min``, ``max``, ``bits``)."""

    def __init__(self, d):
        info = np.iinfo(as_dtype(d).np)
        self.bits, self.min, self.max, self.dtype = info.bits, info.min, info.max, str(info.dtype)
