"""``Parameter``: a tensor that a Module registers as one of its learnable weights."""

import numpy as np

from ember import _dtype
from ember.tensor import Tensor, _init

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A Tensor that, assigned as a Module attribute, is listed by ``parameters()``.

    Shares memory with ``data``; requires grad unless told otherwise.

    Example:
        >>> import ember
        >>> w = Parameter(ember.zeros(2, 3))
        >>> w.requires_grad, w.is_leaf
        (True, True)
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            array = np.empty((0,), dtype=_dtype.get_default_dtype().np)
        elif isinstance(data, Tensor):
            array = data._data
        else:
            array = np.asarray(data)
        t = _init(object.__new__(cls), array)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def __init__(self, data=None, requires_grad=True):
        pass

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def _new_like(self, data):
        return Parameter(Tensor._make(data), self._requires_grad)

    def __reduce_ex__(self, protocol):
        raise TypeError("ember never pickles tensors; use ember.save (safetensors + JSON)")


class Buffer(Tensor):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute."""

    def __new__(cls, data=None, *, persistent=True):
        array = data._data if isinstance(data, Tensor) else np.asarray(
            [] if data is None else data, dtype=_dtype.get_default_dtype().np)
        t = _init(object.__new__(cls), array)
        t.persistent = persistent
        return t

    def __init__(self, data=None, *, persistent=True):
        pass
