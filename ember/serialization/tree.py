"""Nested Python values <-> a JSON manifest plus named arrays.

``flatten`` walks the object a user saves and returns the manifest (a JSON string) and the
arrays it references by name; ``unflatten`` rebuilds the object, checking every node.
A manifest node is one of::

    "text", 3, 2.5, true, false, null        the value itself
    [node, ...]                              a list
    {"tuple": [node, ...]}                   a tuple
    {"dict": [[key, node], ...]}             a dict, in order; keys are nodes too, so int,
    {"odict": [[key, node], ...]}            float, bool, None and tuple keys survive
    {"tensor": "name"}                       a Tensor, stored under "name"
    {"ndarray": "name"}                      a NumPy array ("scalar": true for a NumPy scalar)
    {"float": "nan" | "inf" | "-inf"}        floats JSON cannot spell
    {"dtype": "float32"}, {"size": [2, 3]}, {"device": "cpu"}

A tensor found twice, or two tensors that view the very same memory (as the
``detach()``-ed tensors of tied weights in a state dict do), is stored once and comes back
as one tensor. Other sharing (a list referenced twice, tensors that partly overlap) is
not kept: each place gets its own copy.
"""

import json
import math
from collections import OrderedDict

import numpy as np

from ember._dtype import ALL, dtype
from ember.serialization.format import CheckpointError
from ember.tensor import Size, Tensor, device

__all__ = ["VERSION", "flatten", "unflatten"]

VERSION = 1
_SCALARS = (str, bool, int)
_NP_DTYPES = {d.np for d in ALL}
_DTYPES_BY_NAME = {d.name: d for d in ALL}


def flatten(obj):
    """Split ``obj`` into a manifest and the arrays it names.

    Returns:
        ``(manifest, arrays)``: a JSON string, and a dict name -> C-contiguous ndarray.

    Raises:
        TypeError: ``obj`` holds something ember does not save; the message gives its
            key path. Nothing has been written at that point.
    """
    flat = _Flattener()
    tree = flat.node(obj, ())
    manifest = json.dumps({"version": VERSION, "tree": tree}, allow_nan=False,
                          separators=(",", ":"))
    return manifest, flat.arrays


def unflatten(manifest, tensors, where):
    """Rebuild the saved object from its manifest and the file's tensors (name -> Tensor).

    Raises:
        CheckpointError: the manifest is malformed or names arrays the file lacks.
    """
    try:
        doc = json.loads(manifest)
    except (ValueError, RecursionError) as e:
        raise _corrupt(where, (), f"it is not valid JSON ({e})") from None
    if not (isinstance(doc, dict) and "tree" in doc and type(doc.get("version")) is int):
        raise _corrupt(where, (), "it lacks its version or tree")
    if doc["version"] > VERSION:
        raise CheckpointError(f"load: {where}: written by a newer ember (checkpoint format "
                              f"version {doc['version']}; this ember reads up to {VERSION})")
    try:
        return _Unflattener(tensors, where).node(doc["tree"], ())
    except RecursionError:
        raise _corrupt(where, (), "it is nested too deeply") from None


def key_path(path):
    """``['model']['fc.weight']``, as messages show where in the object something is."""
    return "at key path " + "".join(f"[{k!r}]" for k in path) if path else "at the top level"


# ---- saving --------------------------------------------------------------------------

class _Flattener:
    def __init__(self):
        self.arrays = {}
        self._by_memory = {}  # (address, shape, strides, dtype) -> (name, array)
        self._on_path = set()  # ids of the containers being walked, to catch cycles

    def node(self, obj, path):
        kind = type(obj)
        if obj is None or kind in _SCALARS:
            return obj
        if kind is float:
            return obj if math.isfinite(obj) else {"float": repr(obj)}
        if isinstance(obj, Tensor):
            return {"tensor": self._array(obj._data, path)}
        if kind in (list, tuple, dict, OrderedDict):
            return self._container(obj, path)
        if kind is Size:
            return {"size": list(obj)}
        if kind is dtype:
            return {"dtype": obj.name}
        if kind is device:
            return {"device": str(obj)}
        if kind is np.ndarray or isinstance(obj, np.generic):
            return self._numpy(obj, path)
        raise _unsupported(obj, path)

    def _container(self, obj, path):
        if id(obj) in self._on_path:
            raise TypeError(f"save: cannot save the {type(obj).__name__} {key_path(path)}: "
                            f"it contains itself")
        self._on_path.add(id(obj))
        try:
            if isinstance(obj, dict):
                pairs = [[self._key(k, path), self.node(v, path + (k,))] for k, v in obj.items()]
                return {"odict" if type(obj) is OrderedDict else "dict": pairs}
            items = [self.node(v, path + (i,)) for i, v in enumerate(obj)]
            return items if type(obj) is list else {"tuple": items}
        finally:
            self._on_path.discard(id(obj))

    def _key(self, key, path):
        kind = type(key)
        if key is None or kind in _SCALARS or kind is float:
            return self.node(key, path)
        if kind is tuple:
            return {"tuple": [self._key(k, path) for k in key]}
        raise TypeError(f"save: cannot save a dict key of type {kind.__name__} "
                        f"{key_path(path)}: keys must be str, int, float, bool, None or "
                        f"tuples of these")

    def _numpy(self, obj, path):
        kind, array = type(obj), np.asarray(obj)
        if array.dtype.newbyteorder("=") not in _NP_DTYPES:
            raise _unsupported(obj, path)
        name = self._array(array.astype(array.dtype.newbyteorder("="), copy=False), path)
        return {"ndarray": name, "scalar": True} if kind is not np.ndarray else {"ndarray": name}

    def _array(self, array, path):
        memory = (array.__array_interface__["data"][0], array.shape, array.strides,
                  array.dtype.str)
        if memory in self._by_memory:
            return self._by_memory[memory][0]
        name = self._name(path)
        # Not np.ascontiguousarray: it turns 0-dim arrays into 1-dim ones.
        self.arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")
        # Holding the array keeps its address from being reused by a later temporary.
        self._by_memory[memory] = (name, array)
        return name

    def _name(self, path):
        """The key path joined by '/': a flat state dict's tensors keep their own names, so
        other tools reading the file see ``fc.weight``."""
        base = "/".join(map(str, path)) or "tensor"
        base = base.encode("utf-8", "backslashreplace").decode("utf-8")
        name, n = base, 1
        while name in self.arrays or name == "__metadata__":
            n += 1
            name = f"{base}~{n}"
        return name


def _unsupported(obj, path):
    return TypeError(f"save: cannot save object of type {type(obj).__name__} "
                     f"{key_path(path)}: {_hint(obj)}")


def _hint(obj):
    if callable(getattr(obj, "state_dict", None)):
        return ("save its state_dict() instead; ember checkpoints hold data, never objects "
                "or code")
    if isinstance(obj, np.ndarray) and type(obj) is not np.ndarray:
        return "save np.asarray(x) instead (a plain NumPy array)"
    if isinstance(obj, (np.ndarray, np.generic)):
        return (f"NumPy dtype {obj.dtype} is not one of ember's dtypes ("
                + ", ".join(d.name for d in ALL) + ")")
    if callable(obj):
        return "functions and classes are code, and ember checkpoints hold data only"
    if isinstance(obj, (set, frozenset)):
        return "save a list instead (sorted(x) keeps the order stable)"
    for base, fix in ((tuple, "tuple(x), or x._asdict() to keep field names"),
                      (dict, "dict(x)"), (list, "list(x)"), (bytes, "a uint8 tensor")):
        if isinstance(obj, base):
            return f"save {fix} instead"
    return ("ember.save stores tensors, NumPy arrays, dicts, lists, tuples, str, int, float, "
            "bool, None, dtypes, ember.Size and devices, and never pickles anything else")


# ---- loading -------------------------------------------------------------------------

class _Unflattener:
    def __init__(self, tensors, where):
        self.tensors, self.where = tensors, where

    def node(self, node, path):
        kind = type(node)
        if node is None or kind in _SCALARS or kind is float:
            return node
        if kind is list:
            return [self.node(v, path + (i,)) for i, v in enumerate(node)]
        tag = next(iter(node), None) if kind is dict else None
        decode = _DECODERS.get(tag)
        if decode is None or not set(node) <= ({tag, "scalar"} if tag == "ndarray" else {tag}):
            raise _corrupt(self.where, path, f"unknown node {_short(node)}")
        return decode(self, node[tag], node, path)

    def _items(self, payload, path):
        if type(payload) is not list:
            raise _corrupt(self.where, path, f"expected a list, got {_short(payload)}")
        return [self.node(v, path + (i,)) for i, v in enumerate(payload)]

    def _dict(self, payload, node, path):
        if type(payload) is not list or not all(
                type(p) is list and len(p) == 2 for p in payload):
            raise _corrupt(self.where, path, "a dict is not a list of [key, value] pairs")
        out = OrderedDict() if "odict" in node else {}
        for key, value in payload:
            key = self.node(key, path)
            try:
                hash(key)
            except TypeError:
                raise _corrupt(self.where, path, f"dict key {_short(key)} is unhashable") \
                    from None
            out[key] = self.node(value, path + (key,))
        return out

    def _named(self, name, path):
        if type(name) is not str or name not in self.tensors:
            raise _corrupt(self.where, path, f"it references tensor {_short(name)}, which the "
                           f"file does not hold")
        return self.tensors[name]

    def _tensor(self, name, node, path):
        return self._named(name, path)

    def _ndarray(self, name, node, path):
        array = self._named(name, path)._data
        if node.get("scalar") is True and array.ndim == 0:
            return array[()]
        if "scalar" in node:
            raise _corrupt(self.where, path, f"NumPy scalar {name!r} is not 0-dimensional")
        return array

    def _constant(self, value, node, path):
        tag = next(iter(node))
        try:
            if tag == "float" and value in ("nan", "inf", "-inf"):
                return float(value)
            if tag == "dtype":
                return _DTYPES_BY_NAME[value]
            if tag == "size" and all(type(s) is int and s >= 0 for s in value):
                return Size(value)
            if tag == "device":
                return device(value)
        except (KeyError, TypeError, RuntimeError):
            pass
        raise _corrupt(self.where, path, f"invalid {tag} {_short(value)}")


_DECODERS = {
    "tuple": lambda self, p, node, path: tuple(self._items(p, path)),
    "dict": _Unflattener._dict, "odict": _Unflattener._dict,
    "tensor": _Unflattener._tensor, "ndarray": _Unflattener._ndarray,
    "float": _Unflattener._constant, "dtype": _Unflattener._constant,
    "size": _Unflattener._constant, "device": _Unflattener._constant,
}


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _corrupt(where, path, what):
    return CheckpointError(f"load: {where}: the ember manifest in the file's metadata is "
                           f"corrupted {key_path(path)}: {what}")
