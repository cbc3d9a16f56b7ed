"""Making tensors: from data, filled with a value, ranges, and random draws.

Factories take PyTorch's keywords (``dtype``, ``requires_grad``, ``device``,
``generator``); sizes may be given as ``f(2, 3)`` or ``f((2, 3))``. Without a dtype,
Python floats give the default float dtype, ints give int64 and bools give bool.
"""

import math

import numpy as np

from ember import _dtype
from ember._errors import type_error, value_error
from ember.random import numpy_generator
from ember.tensor import Tensor, _sizes, device as _device

__all__ = [
    "tensor", "as_tensor", "from_numpy", "from_dlpack", "asarray",
    "zeros", "ones", "full", "empty", "zeros_like", "ones_like", "full_like", "empty_like",
    "arange", "linspace", "logspace", "eye",
    "rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like",
    "normal", "bernoulli", "multinomial",
]

_make = Tensor._make


def _finish(arr, requires_grad, device=None):
    if device is not None:
        _device(device)
    t = _make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _np_dtype(dtype, default=None):
    if dtype is None:
        return (default or _dtype.get_default_dtype()).np
    return _dtype.as_dtype(dtype).np


def _unwrap(data):
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_unwrap(x) for x in data]
    return data


def _infer(data):
    """An array from nested data, with PyTorch's choice of dtype."""
    if isinstance(data, np.ndarray):
        _dtype.from_numpy_dtype(data.dtype)
        return data
    arr = np.array(_unwrap(data))
    if arr.dtype.kind == "f" and not isinstance(data, np.generic):
        return arr.astype(_dtype.get_default_dtype().np, copy=False) \
            if _all_python(data) else arr
    if arr.dtype.kind in "iu" and arr.dtype != np.int64 and _all_python(data):
        return arr.astype(np.int64)
    if arr.dtype.kind in "US" or arr.dtype == object:
        raise type_error("tensor", "could not infer a numeric dtype from "
                                   f"{type(data).__name__} data")
    _dtype.from_numpy_dtype(arr.dtype)
    return arr


def _all_python(data):
    if isinstance(data, (list, tuple)):
        return all(_all_python(x) for x in data)
    return isinstance(data, (int, float, bool))


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of ``data`` (nested lists, numbers, arrays or tensors)."""
    arr = _infer(data) if dtype is None else np.array(_unwrap(data), dtype=_np_dtype(dtype))
    return _finish(np.array(arr, copy=True), requires_grad, device)


def as_tensor(data, dtype=None, device=None):
    """Like ``tensor``, but shares memory with a Tensor or ndarray of the right dtype."""
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype is _dtype.as_dtype(dtype) else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == _np_dtype(dtype)):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray):
    """A tensor that shares memory with ``ndarray`` (no copy)."""
    if not isinstance(ndarray, np.ndarray):
        raise type_error("from_numpy", f"expected np.ndarray, got {type(ndarray).__name__}")
    _dtype.from_numpy_dtype(ndarray.dtype)
    return _make(ndarray)


def from_dlpack(ext_tensor):
    """A tensor sharing memory with any object that speaks DLPack (NumPy, PyTorch, JAX...)."""
    return from_numpy(np.from_dlpack(ext_tensor))


def _fill(size, fill, dtype, requires_grad, device, default=None):
    arr = np.full(_sizes(size), fill, dtype=_np_dtype(dtype, default))
    return _finish(arr, requires_grad, device)


def zeros(*size, dtype=None, device=None, requires_grad=False, **_):
    return _fill(size, 0, dtype, requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False, **_):
    return _fill(size, 1, dtype, requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad=False, **_):
    return _finish(np.empty(_sizes(size), _np_dtype(dtype)), requires_grad, device)


def full(size, fill_value, dtype=None, device=None, requires_grad=False, **_):
    default = _dtype.scalar_dtype(fill_value.item() if isinstance(fill_value, Tensor)
                                  else fill_value)
    return _fill((size,), fill_value, dtype, requires_grad, device, default)


def _like(t, dtype):
    return t.dtype if dtype is None else dtype


def zeros_like(input, dtype=None, device=None, requires_grad=False, **_):  # noqa: A002
    return zeros(input.shape, dtype=_like(input, dtype), requires_grad=requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False, **_):  # noqa: A002
    return ones(input.shape, dtype=_like(input, dtype), requires_grad=requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False, **_):  # noqa: A002
    return empty(input.shape, dtype=_like(input, dtype), requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False, **_):  # noqa: A002
    return full(input.shape, fill_value, dtype=_like(input, dtype), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False, **_):
    """Values from ``start`` up to (not including) ``end`` every ``step``."""
    if end is None:
        start, end = 0, start
    start, end, step = (x.item() if isinstance(x, Tensor) else x for x in (start, end, step))
    if step == 0:
        raise value_error("arange", "step must be nonzero")
    if (end - start) * step < 0:
        raise value_error("arange", f"upper bound {end} and lower bound {start} are "
                                    f"inconsistent with step sign {step}")
    integral = all(isinstance(x, int) for x in (start, end, step))
    n = math.ceil((end - start) / step)
    arr = start + step * np.arange(n, dtype=np.int64 if integral else np.float64)
    default = _dtype.int64 if integral else None
    return _finish(arr.astype(_np_dtype(dtype, default)), requires_grad, device)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False, **_):
    arr = np.linspace(float(start), float(end), int(steps))
    return _finish(arr.astype(_np_dtype(dtype)), requires_grad, device)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False, **_):
    arr = np.logspace(float(start), float(end), int(steps), base=base)
    return _finish(arr.astype(_np_dtype(dtype)), requires_grad, device)


def eye(n, m=None, dtype=None, device=None, requires_grad=False, **_):
    return _finish(np.eye(n, n if m is None else m, dtype=_np_dtype(dtype)), requires_grad, device)


# ---- random ---------------------------------------------------------------------------

def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, **_):
    """Uniform on [0, 1)."""
    d = _np_dtype(dtype)
    return _finish(numpy_generator(generator).random(_sizes(size)).astype(d), requires_grad,
                   device)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, **_):
    """Standard normal."""
    arr = numpy_generator(generator).standard_normal(_sizes(size)).astype(_np_dtype(dtype))
    return _finish(arr, requires_grad, device)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False, **_):
    """Integers uniform on [low, high): ``randint(10, (3,))`` or ``randint(2, 10, (3,))``."""
    if size is None:
        low, high, size = 0, low, high
    if high is None or size is None:
        raise type_error("randint", "expected randint(high, size) or randint(low, high, size)")
    arr = numpy_generator(generator).integers(low, high, _sizes((size,)))
    return _finish(arr.astype(_np_dtype(dtype, _dtype.int64)), requires_grad, device)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, **_):
    """A random permutation of ``0 .. n-1``."""
    arr = numpy_generator(generator).permutation(int(n))
    return _finish(arr.astype(_np_dtype(dtype, _dtype.int64)), requires_grad, device)


def rand_like(input, dtype=None, generator=None, **kw):  # noqa: A002
    return rand(input.shape, dtype=_like(input, dtype), generator=generator, **kw)


def randn_like(input, dtype=None, generator=None, **kw):  # noqa: A002
    return randn(input.shape, dtype=_like(input, dtype), generator=generator, **kw)


def randint_like(input, low, high=None, dtype=None, **kw):  # noqa: A002
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, dtype=_like(input, dtype), **kw)


def normal(mean, std=1.0, size=None, *, generator=None, dtype=None, requires_grad=False, **_):
    """Normal draws with the given mean and std (numbers or tensors, broadcast)."""
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    shape = _sizes((size,)) if size is not None else np.broadcast_shapes(np.shape(m), np.shape(s))
    arr = numpy_generator(generator).normal(m, s, shape)
    ref = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    d = ref.dtype if ref is not None and dtype is None else dtype
    return _finish(arr.astype(_np_dtype(d)), requires_grad)


def bernoulli(input, p=None, *, generator=None):  # noqa: A002
    """1 with probability ``input`` (or ``p``) elementwise, else 0; same dtype as input."""
    prob = input._data if p is None else p
    arr = numpy_generator(generator).random(input.shape) < prob
    return _make(arr.astype(input._data.dtype))


def multinomial(input, num_samples, replacement=False, *, generator=None):  # noqa: A002
    """Indices drawn by the (unnormalized) weights in each row of ``input``."""
    probs = np.asarray(input._data, dtype=np.float64)
    rows = probs.reshape(-1, probs.shape[-1])
    rng = numpy_generator(generator)
    if not replacement and num_samples > rows.shape[1]:
        raise value_error("multinomial", f"cannot sample {num_samples} > {rows.shape[1]} "
                                         "categories without replacement")
    out = np.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum())
                    for r in rows])
    return _make(out.reshape(probs.shape[:-1] + (num_samples,)).astype(np.int64))

