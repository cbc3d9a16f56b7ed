"""Graphs as JSON for the saved-model format (``saved.py``): nodes, values and params.

A graph is ``{"nodes": [...], "out_spec": VALUE}``; a node is ``{"kind", "target",
"inputs": [value names], "outputs": [[name, shape, dtype], ...], "params": {name:
VALUE}, "where", "scope"}`` (empty fields left out). Value names are local to their graph.

A VALUE is plain JSON for None, bool, int, str, finite floats and dicts with string keys,
a JSON array for a *tuple*, and otherwise a one-key object naming its kind:

=================================  ==================================================
``{"$list": [...]}``               a list (tuples are far more common in params)
``{"$float": "nan"}``              nan, inf, -inf
``{"$dict": [[key, value], ...]}`` a dict with other keys (or keys starting with "$")
``{"$in": i}``                     a traced function's i-th tensor argument
``{"$slice": [start, stop, step]}`` a slice; ``{"$ellipsis": null}`` is ``...``
``{"$dtype": "float32"}``          a NumPy dtype; ``{"$scalar": [dtype, value]}`` a scalar
``{"$array": name}``               an ndarray, stored as the file's tensor ``name``
``{"$numpy": "max"}``              a NumPy reduction or ufunc (ops take ``reduce=np.max``)
``{"$obj": ["mod:Class", {...}]}`` an ember object (a named tuple such as ``Geometry``,
                                   or a plain object such as ``StridedWindows``): its
                                   fields; rebuilt only for classes of ember's ops,
                                   nn, autograd and jit modules
``{"$graph": GRAPH}``              a subgraph (``cond``, ``while_loop``)
=================================  ==================================================

Nothing is evaluated or unpickled: decoding imports an ember module by name and sets the
fields of a new instance of a class found in it.
"""

import dataclasses
import importlib
import math
import re

import numpy as np

from ember.jit.graph import Graph, Node, Value
from ember.nn.module import Module
from ember.serialization.format import DTYPES
from ember.tensor import Tensor

__all__ = ["Decoder", "Encoder", "Malformed", "Unsupported", "storable"]

# Dtypes a safetensors file can hold (ember's own dtypes).
_STORABLE = {d.newbyteorder("=") for d in DTYPES.values()}
# NumPy functions an op may take as a param (``Extreme(reduce=np.max)``); ufuncs also.
_NUMPY_FUNCTIONS = frozenset({"min", "max", "amin", "amax", "any", "all", "sum", "prod",
                              "mean", "argmin", "argmax", "nanmin", "nanmax"})
_NAME = re.compile(r"^[A-Za-z_][\w.]*$")
# The layers whose ops take small objects as params; classes elsewhere are refused.
_OBJECT_MODULES = ("ember.ops.", "ember.nn.", "ember.autograd.", "ember.jit.")


class Unsupported(TypeError):
    """A param value that a saved graph cannot hold (``saved.save`` names op and param)."""


class Malformed(ValueError):
    """The graph JSON does not describe a graph (a corrupted or hand-edited file)."""


# ---- encoding ------------------------------------------------------------------------

class Encoder:
    """Turns graphs into JSON-able dicts; collects the arrays for the file's tensors."""

    def __init__(self, prefix="graph/"):
        self.prefix = prefix
        self.arrays = {}   # tensor name -> C-contiguous ndarray
        self._names = {}   # id(array) -> tensor name (an array shared by nodes is stored once)
        self._keep = []    # the arrays themselves, so that their ids stay theirs

    def graph(self, graph, on_error):
        """``graph`` as a dict; ``on_error(node, param, exc)`` handles ``Unsupported``."""
        nodes = [self._node(n, on_error) for n in graph.nodes]
        return {"nodes": nodes, "out_spec": self.value(graph.out_spec)}

    def _node(self, node, on_error):
        out = {"kind": node.kind}
        if node.target is not None:
            out["target"] = node.target
        if node.inputs:
            out["inputs"] = [v.name for v in node.inputs]
        if node.outputs:
            out["outputs"] = [[v.name, list(v.shape), v.dtype.name] for v in node.outputs]
        params = {}
        for key, p in node.params.items():
            try:
                params[key] = self.value(p, on_error)
            except Unsupported as exc:
                on_error(node, key, exc)
        if params:
            out["params"] = params
        if node.where:
            out["where"] = node.where
        if node.scope:
            out["scope"] = node.scope
        return out

    def value(self, p, on_error=None):
        """One param value as JSON (see the module docstring); ``Unsupported`` if it can't."""
        if p is None or type(p) in (bool, int, str):
            return p
        if type(p) is float:
            return p if math.isfinite(p) else {"$float": repr(p)}
        if type(p) is tuple:
            return [self.value(x, on_error) for x in p]
        if type(p) is list:
            return {"$list": [self.value(x, on_error) for x in p]}
        if isinstance(p, dict):
            return self._dict(p, on_error)
        if isinstance(p, Graph):
            return {"$graph": self.graph(p, on_error or _raise)}
        return self._special(p, on_error)

    def _dict(self, p, on_error):
        if set(p) == {"$in"} and type(p["$in"]) is int:
            return {"$in": p["$in"]}
        if all(type(k) is str and not k.startswith("$") for k in p):
            return {k: self.value(v, on_error) for k, v in p.items()}
        return {"$dict": [[self.value(k, on_error), self.value(v, on_error)]
                          for k, v in p.items()]}

    def _special(self, p, on_error):
        if isinstance(p, slice):
            return {"$slice": [self.value(x, on_error) for x in (p.start, p.stop, p.step)]}
        if p is Ellipsis:
            return {"$ellipsis": None}
        if isinstance(p, np.dtype):
            return {"$dtype": _dtype_name(p)}
        if isinstance(p, np.generic):
            return {"$scalar": [_dtype_name(p.dtype), self.value(p.item(), on_error)]}
        if isinstance(p, np.ndarray):
            return {"$array": self._array(p)}
        if _is_numpy_function(p):
            return {"$numpy": p.__name__}
        if _is_ember_object(p):
            return {"$obj": [_class_name(type(p)), {k: self.value(v, on_error)
                                                    for k, v in _fields(p).items()}]}
        raise Unsupported(f"a {type(p).__module__}.{type(p).__qualname__}")

    def _array(self, a):
        name = self._names.get(id(a))
        if name is not None:
            return name
        name = f"{self.prefix}{len(self.arrays)}"
        self.arrays[name] = storable(a)
        self._names[id(a)] = name
        self._keep.append(a)
        return name


def storable(a):
    """``a`` as a C-contiguous native-order array a safetensors file holds, or
    ``Unsupported`` for dtypes it cannot hold."""
    dtype = a.dtype.newbyteorder("=") if a.dtype.byteorder not in "=|" else a.dtype
    if dtype not in _STORABLE:
        raise Unsupported(f"an array of dtype {a.dtype} (a saved graph holds "
                          f"{', '.join(sorted(d.name for d in _STORABLE))})")
    return np.asarray(a, dtype=dtype, order="C")  # (ascontiguousarray makes 0-dim 1-dim)


def _raise(node, key, exc):
    raise exc


def _dtype_name(dtype):
    dtype = np.dtype(dtype)
    if dtype.newbyteorder("=") not in _STORABLE:
        raise Unsupported(f"the dtype {dtype}")
    return dtype.name


def _is_numpy_function(p):
    """A ufunc or one of ``_NUMPY_FUNCTIONS``, by its name in the numpy namespace."""
    name = getattr(p, "__name__", None)
    if not (isinstance(p, np.ufunc) or callable(p) and name in _NUMPY_FUNCTIONS):
        return False
    return getattr(np, name, None) is p


def _is_ember_object(p):
    cls = type(p)
    if not cls.__module__.startswith("ember.") or isinstance(p, (Tensor, Module, type)):
        return False
    try:
        return _find_class(_class_name(cls)) is cls  # it can be found again when loading
    except (Malformed, ImportError, AttributeError):
        return False


def _class_name(cls):
    return f"{cls.__module__}:{cls.__qualname__}"


def _fields(p):
    """A plain object's attributes (``__dict__`` and slots), or a named tuple's fields."""
    if isinstance(p, tuple):
        return dict(zip(type(p)._fields, p))
    fields = dict(getattr(p, "__dict__", {}))
    for klass in type(p).__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if slot not in ("__dict__", "__weakref__") and hasattr(p, slot):
                fields[slot] = getattr(p, slot)
    return fields


# ---- decoding ------------------------------------------------------------------------

class Decoder:
    """Rebuilds graphs from the dicts ``Encoder`` made, with the file's arrays."""

    def __init__(self, arrays):
        self.arrays = arrays

    def graph(self, data):
        _expect(isinstance(data, dict) and isinstance(data.get("nodes"), list),
                "a graph must be an object with a list of nodes")
        values, nodes = {}, []
        for item in data["nodes"]:
            nodes.append(self._node(item, values))
        return Graph(nodes, self.value(data.get("out_spec", 0)))

    def _node(self, item, values):
        _expect(isinstance(item, dict), "a node must be an object")
        try:
            inputs = [values[name] for name in item.get("inputs", [])]
        except (KeyError, TypeError):
            raise Malformed(f"a node reads a value that no earlier node makes: {item}") \
                from None
        outputs = [Value(*_value_type(v)) for v in item.get("outputs", [])]
        for v in outputs:
            _expect(v.name not in values, f"the value name {v.name!r} is used twice")
            values[v.name] = v
        params = item.get("params", {})
        _expect(isinstance(params, dict), "a node's params must be an object")
        try:
            return Node(item.get("kind"), item.get("target"), inputs,
                        {k: self.value(p) for k, p in params.items()}, outputs,
                        item.get("where", ""), item.get("scope", ""))
        except ValueError as exc:  # an unknown node kind
            raise Malformed(str(exc)) from None

    def value(self, p):
        if isinstance(p, list):
            return tuple(self.value(x) for x in p)
        if not isinstance(p, dict):
            return p
        if len(p) == 1:
            (tag, body), = p.items()
            if tag.startswith("$"):
                return self._tagged(tag, body)
        return {k: self.value(v) for k, v in p.items()}

    def _tagged(self, tag, body):
        if tag == "$list":
            return [self.value(x) for x in body]
        if tag == "$in":
            return {"$in": body}
        if tag == "$graph":
            return self.graph(body)
        if tag == "$dict":
            return {self.value(k): self.value(v) for k, v in body}
        if tag == "$array":
            _expect(body in self.arrays, f"the array {body!r} is not in the file")
            return self.arrays[body]
        decode = _SIMPLE.get(tag)
        if decode is None:
            raise Malformed(f"unknown value kind {tag!r}")
        return decode(self, body)

    def _obj(self, body):
        name, fields = body
        cls = _find_class(name)
        fields = {k: self.value(v) for k, v in fields.items()}
        if issubclass(cls, tuple):
            _expect(hasattr(cls, "_fields") and set(fields) == set(cls._fields),
                    f"the fields of {name} do not match its class")
            return cls(**fields)
        obj = cls.__new__(cls)
        for k, v in fields.items():
            object.__setattr__(obj, k, v)  # also for frozen dataclasses
        if dataclasses.is_dataclass(cls):
            missing = {f.name for f in dataclasses.fields(cls)} - set(fields)
            _expect(not missing, f"{name} lacks the fields {sorted(missing)}")
        return obj


def _numpy(decoder, name):
    f = getattr(np, name, None) if isinstance(name, str) else None
    _expect(isinstance(f, np.ufunc) or name in _NUMPY_FUNCTIONS,
            f"np.{name} is not a function a saved graph may name")
    return f


_SIMPLE = {
    "$float": lambda d, body: float(body) if body in ("nan", "inf", "-inf") else
    _fail(f"bad float {body!r}"),
    "$slice": lambda d, body: slice(*(d.value(x) for x in body)),
    "$ellipsis": lambda d, body: Ellipsis,
    "$dtype": lambda d, body: np.dtype(body),
    "$scalar": lambda d, body: np.dtype(body[0]).type(d.value(body[1])),
    "$numpy": _numpy,
    "$obj": Decoder._obj,
}


def _find_class(name):
    """The class ``"module:Qualname"`` of an ember op's module (``_OBJECT_MODULES``)."""
    module, _, qualname = str(name).partition(":")
    _expect(module.startswith(_OBJECT_MODULES) and _NAME.match(module) and _NAME.match(qualname)
            and "__" not in qualname, f"{name!r} is not a class of ember's")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    _expect(isinstance(obj, type) and obj.__module__ == module,
            f"{name!r} is not a class of ember's")
    return obj


def _value_type(v):
    _expect(isinstance(v, list) and len(v) == 3 and isinstance(v[0], str)
            and isinstance(v[1], list) and all(type(s) is int and s >= 0 for s in v[1]),
            f"bad value description {v!r}")
    return v[0], tuple(v[1]), np.dtype(v[2])


def _expect(ok, what):
    if not ok:
        raise Malformed(what)


def _fail(what):
    raise Malformed(what)
