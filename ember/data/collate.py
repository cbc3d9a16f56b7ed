"""Collate: turn a list of samples into one batch, structure by structure.

``default_collate`` follows PyTorch's rules and dtypes: tensors are stacked, NumPy
arrays and NumPy scalars become tensors of their own dtype, Python ints give int64,
floats float64 and bools bool, strings and bytes stay as they are, and dicts, lists,
tuples and namedtuples are collated field by field. Errors say where in the sample the
offending item sits, written as the expression that reaches it (``batch[0]['image']``).
"""

import collections.abc
import copy
import types

import numpy as np

from ember import _dtype
from ember._errors import ShapeError, fmt_shape, mark
from ember.creation import as_tensor, tensor
from ember.ops.join import stack
from ember.tensor import Tensor

__all__ = ["collate", "default_collate", "default_convert", "default_collate_fn_map"]

_UNSUPPORTED = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                "lists; found {}")


def _is_text_array(arr):
    """Arrays of strings, bytes or Python objects: these have no tensor dtype."""
    return arr.dtype.kind in "SaUO"


def _is_namedtuple(obj):
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def _at(i, where):
    """The expression that reaches a field of entry ``i``: ``batch[2]['image'][0]``."""
    return f"batch[{i}]{where}"


def _check_all(batch, kind, where):
    """Every entry must be a ``kind``, like entry 0 (mixed types have no batch form)."""
    for i, item in enumerate(batch):
        if not isinstance(item, kind):
            raise mark(TypeError(
                f"default_collate: {_at(0, where)} is {type(batch[0]).__name__} but "
                f"{_at(i, where)} is {type(item).__name__}; every entry needs the same type"))


def collate_tensor_fn(batch, *, collate_fn_map=None, where=""):
    _check_all(batch, Tensor, where)
    first = batch[0].shape
    for i, t in enumerate(batch):
        if t.shape != first:
            field = f" (field {where} of each sample)" if where else ""
            raise mark(ShapeError(
                f"default_collate: stack expects each tensor to be equal size, but got "
                f"{fmt_shape(first)} at entry 0 and {fmt_shape(t.shape)} at entry {i}{field}"))
    return stack(list(batch), 0)


def collate_numpy_array_fn(batch, *, collate_fn_map=None, where=""):
    _check_all(batch, np.ndarray, where)
    if _is_text_array(batch[0]):
        raise _unsupported(batch[0].dtype, where)
    return collate_tensor_fn([as_tensor(b) for b in batch], where=where)


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None, where=""):
    _check_all(batch, (np.generic, int, float), where)
    return as_tensor(np.asarray(batch))


def collate_float_fn(batch, *, collate_fn_map=None, where=""):
    _check_all(batch, (int, float, np.number, np.bool_), where)
    return tensor(list(batch), dtype=_dtype.float64)


def collate_int_fn(batch, *, collate_fn_map=None, where=""):
    _check_all(batch, (int, float, np.number, np.bool_), where)
    return tensor(list(batch))


def collate_str_fn(batch, *, collate_fn_map=None, where=""):
    return batch


def _unsupported(kind, where):
    return mark(TypeError(_UNSUPPORTED.format(kind) + f" at {_at(0, where)}"))


# Read-only: extend by building a new map, ``{**default_collate_fn_map, MyType: fn}``, and
# passing it to ``collate``; there is no global registry to mutate.
default_collate_fn_map = types.MappingProxyType({
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,
    (np.bool_, np.number): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
})
# Ember's own collate functions also take ``where``, the field path for error messages.
_TAKES_WHERE = frozenset(default_collate_fn_map.values())


def collate(batch, *, collate_fn_map=None, where=""):
    """Collate ``batch`` (a list of samples) with the functions in ``collate_fn_map``.

    Args:
        batch: list of samples of one structure.
        collate_fn_map: maps a type (or tuple of types) to ``fn(batch, *, collate_fn_map)``;
            the exact type of entry 0 is looked up first, then ``isinstance`` in order.
            Containers (mappings, namedtuples, sequences) are opened and each field is
            collated on its own.
        where: the path of this field inside a sample (``"['image'][0]"``), for errors.

    Returns:
        the collated batch.
    """
    elem = batch[0]
    fn = _lookup(elem, collate_fn_map or {})
    if fn is not None:
        if fn in _TAKES_WHERE:
            return fn(batch, collate_fn_map=collate_fn_map, where=where)
        return fn(batch, collate_fn_map=collate_fn_map)
    if isinstance(elem, collections.abc.Mapping):
        return _collate_mapping(batch, collate_fn_map, where)
    if _is_namedtuple(elem):
        _check_lengths(batch, where)
        return type(elem)(*(collate(f, collate_fn_map=collate_fn_map,
                                    where=f"{where}.{name}")
                            for name, f in zip(elem._fields, zip(*batch))))
    if isinstance(elem, collections.abc.Sequence) and not isinstance(elem, (str, bytes)):
        _check_lengths(batch, where)
        fields = [collate(f, collate_fn_map=collate_fn_map, where=f"{where}[{k}]")
                  for k, f in enumerate(zip(*batch))]
        if isinstance(elem, tuple):
            return fields  # a list, as PyTorch returns for tuples
        return _rebuild_sequence(elem, fields)
    raise _unsupported(type(elem), where)


def _lookup(elem, collate_fn_map):
    if type(elem) in collate_fn_map:
        return collate_fn_map[type(elem)]
    for key, fn in collate_fn_map.items():
        if isinstance(elem, key):
            return fn
    return None


def _collate_mapping(batch, collate_fn_map, where):
    elem = batch[0]
    out = {}
    for key in elem:
        path = f"{where}[{key!r}]"
        for i, d in enumerate(batch):
            if key not in d:
                raise KeyError(f"default_collate: {_at(0, path)} exists but {_at(i, where)} "
                               f"has no key {key!r}")
        out[key] = collate([d[key] for d in batch], collate_fn_map=collate_fn_map, where=path)
    try:
        if isinstance(elem, collections.abc.MutableMapping):
            clone = copy.copy(elem)
            clone.update(out)
            return clone
        return type(elem)(out)
    except TypeError:  # a mapping type that cannot be built from a dict
        return out


def _check_lengths(batch, where):
    for i, sample in enumerate(batch):
        if len(sample) != len(batch[0]):
            raise mark(RuntimeError(
                f"each element in list of batch should be of equal size: {_at(0, where)} "
                f"has {len(batch[0])} fields but {_at(i, where)} has {len(sample)}"))


def default_collate(batch):
    """Stack a list of samples into a batch, recursing into dicts, lists and tuples.

    ``Tensor -> Tensor`` with a new leading batch dimension; NumPy arrays and scalars
    -> tensors of their dtype; ``int -> int64``, ``float -> float64``, ``bool -> bool``
    tensors; ``str``/``bytes`` unchanged; ``Mapping``, namedtuple and ``Sequence`` ->
    the same structure with each field collated (plain tuples come back as lists).

    Args:
        batch: list of samples, each of the same structure.

    Returns:
        the batch.

    Example:
        >>> default_collate([(1, "a"), (2, "b")])
        [tensor([1, 2]), ('a', 'b')]
    """
    return collate(batch, collate_fn_map=default_collate_fn_map)


def default_convert(data):
    """Turn NumPy arrays (and NumPy scalars) inside ``data`` into tensors, leaving the rest.

    The collate function used when automatic batching is off (``batch_size=None``).
    Tuples come back as lists, as in PyTorch.

    Example:
        >>> default_convert({"x": np.array([1, 2])})
        {'x': tensor([1, 2])}
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.bool_, np.number)):
        return data if isinstance(data, np.ndarray) and _is_text_array(data) \
            else as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(data[key]) for key in data}
        try:
            if isinstance(data, collections.abc.MutableMapping):
                clone = copy.copy(data)
                clone.update(converted)
                return clone
            return type(data)(converted)
        except TypeError:
            return converted
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild_sequence(data, [default_convert(d) for d in data])
    return data


def _rebuild_sequence(data, items):
    """``items`` in a sequence of ``data``'s type (a list when that type cannot be built)."""
    try:
        if isinstance(data, collections.abc.MutableSequence):
            clone = copy.copy(data)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(data)(items)
    except TypeError:
        return items
