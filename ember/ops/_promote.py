"""Turning op arguments into Tensors of one dtype, by PyTorch's promotion rules.

Python numbers become 0-dim tensors of the result dtype; a tensor of another dtype is
cast with the differentiable ``Cast`` op, so its gradient comes back in its own dtype.
"""

import numpy as np

from ember._dtype import result_type
from ember.autograd.broadcast import Cast
from ember.tensor import Tensor

_make = Tensor._make


def promote(a, b):
    """``(a, b)`` as Tensors of their common dtype; the fast path is two same-dtype tensors."""
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a._data.dtype == b._data.dtype:
        return a, b
    d = result_type(a, b).np
    return as_dtype(a, d), as_dtype(b, d)


def promote_all(*xs):
    """Every argument as a Tensor of their common dtype."""
    d = result_type(*xs).np
    return tuple(as_dtype(x, d) for x in xs)


def as_dtype(x, np_dtype):
    """A Tensor (or number) as a Tensor of ``np_dtype``."""
    if isinstance(x, Tensor):
        return x if x._data.dtype == np_dtype else Cast.apply(x, dtype=np_dtype)
    if isinstance(x, (list, tuple)):
        raise TypeError(f"expected a Tensor or a number, got {type(x).__name__}")
    return _make(np.asarray(x, dtype=np_dtype))


def as_tensor(x):
    """A Tensor as is; a number or array as a Tensor of its PyTorch dtype."""
    if isinstance(x, Tensor):
        return x
    return _make(np.asarray(x, dtype=result_type(x).np))


def float_dtype(t):
    """The dtype an op that needs floats computes in: the tensor's, or the default float."""
    from ember._dtype import get_default_dtype

    return t._data.dtype if t._data.dtype.kind == "f" else get_default_dtype().np
