"""The graph IR: values, five kinds of node, and a graph that prints like Python.

A graph is a list of nodes in execution order. Each node produces zero or more
``Value``s and consumes the values of earlier nodes:

- ``input``: an argument of the traced function (``target`` is its name);
- ``parameter``: a tensor the graph reads by name (a module's parameter or buffer;
  ``target`` is its ``state_dict`` key);
- ``constant``: an array captured while tracing (``params["value"]``);
- ``call``: one op (``target`` names an entry of ``ember.jit.ops.OPS``: an ``Op`` class
  by its class name, or a traced function such as ``embedding``), applied to ``inputs``
  with the keyword ``params`` it was called with;
- ``output``: the values the graph returns (``inputs``), rebuilt into the traced
  function's structure (tuple, list, dict) by ``Graph.out_spec``.

Example:
    >>> import ember
    >>> lin = ember.nn.Linear(3, 2)
    >>> traced = ember.jit.trace(lambda x: lin(x).relu(), ember.ones(4, 3))
    >>> print(traced.graph)  # doctest: +NORMALIZE_WHITESPACE
    graph(%x0: float32[4, 3]):
        %weight: float32[2, 3] = parameter('weight')
        %bias: float32[2] = parameter('bias')
        %v0: float32[4, 2] = Linear(%x0, %weight, %bias)
        %v1: float32[4, 2] = Relu(%v0)
        return %v1
"""

import numpy as np

from ember._dtype import from_numpy_dtype

__all__ = ["Value", "Node", "Graph", "KINDS"]

KINDS = ("input", "parameter", "constant", "call", "output")


class Value:
    """One array flowing through the graph: its name, shape and NumPy dtype."""

    __slots__ = ("name", "shape", "dtype", "node", "index")

    def __init__(self, name, shape, dtype, node=None, index=0):
        self.name, self.shape, self.dtype = name, tuple(shape), np.dtype(dtype)
        self.node, self.index = node, index

    def type_str(self):
        return f"{_dtype_name(self.dtype)}{list(self.shape)}"

    def __repr__(self):
        return f"%{self.name}"


class Node:
    """One step of the graph (see the module docstring for the kinds)."""

    __slots__ = ("kind", "target", "inputs", "params", "outputs", "where", "scope")

    def __init__(self, kind, target=None, inputs=(), params=None, outputs=(), where="",
                 scope=""):
        if kind not in KINDS:
            raise ValueError(f"unknown node kind {kind!r}; expected one of {KINDS}")
        self.kind, self.target = kind, target
        self.inputs, self.params = list(inputs), dict(params or {})
        self.outputs = list(outputs)
        for i, v in enumerate(self.outputs):
            v.node, v.index = self, i
        self.where, self.scope = where, scope

    def __str__(self):
        lhs = ", ".join(f"%{v.name}: {v.type_str()}" for v in self.outputs)
        if self.kind == "parameter":
            return f"{lhs} = parameter({self.target!r})"
        if self.kind == "constant":
            return f"{lhs} = constant({_short_array(self.params['value'])})"
        if self.kind == "output":
            return "return " + ", ".join(repr(v) for v in self.inputs)
        if set(self.params) == {"args", "kwargs"}:  # a traceable function's own arguments
            args = [_fmt_arg(a, self.inputs) for a in self.params["args"]]
            args += [f"{k}={_fmt_arg(a, self.inputs)}" for k, a in self.params["kwargs"].items()]
        else:
            args = [repr(v) for v in self.inputs]
            args += [f"{k}={_fmt_param(p)}" for k, p in self.params.items()]
        rhs = f"{self.target}({', '.join(args)})"
        return f"{lhs} = {rhs}" if lhs else rhs


class Graph:
    """A traced computation: nodes in order, plus how to rebuild the returned structure.

    ``out_spec`` is a small JSON-able tree: an int ``i`` is ``outputs[i]``; ``["tuple",
    [...]]``, ``["list", [...]]`` and ``["dict", [[key, spec], ...]]`` rebuild containers;
    ``["const", x]`` is a plain Python value the function returned.
    """

    def __init__(self, nodes, out_spec=0):
        self.nodes = list(nodes)
        self.out_spec = out_spec

    # ---- views over the node list ----------------------------------------------------

    def of_kind(self, kind):
        return [n for n in self.nodes if n.kind == kind]

    @property
    def inputs(self):
        """The ``Value``s of the input nodes, in argument order."""
        return [n.outputs[0] for n in self.of_kind("input")]

    @property
    def outputs(self):
        """The ``Value``s the output node returns."""
        out = self.of_kind("output")
        return list(out[0].inputs) if out else []

    @property
    def parameters(self):
        """``{state_dict key: Value}`` of the parameter nodes."""
        return {n.target: n.outputs[0] for n in self.of_kind("parameter")}

    def users(self):
        """``{id(value): [nodes that read it]}``."""
        found = {}
        for n in self.nodes:
            for v in n.inputs:
                found.setdefault(id(v), []).append(n)
        return found

    def copy(self):
        """A copy whose nodes and values are new objects (params shared, arrays too)."""
        mapping = {}
        nodes = []
        for n in self.nodes:
            outs = [Value(v.name, v.shape, v.dtype) for v in n.outputs]
            mapping.update({id(old): new for old, new in zip(n.outputs, outs)})
            nodes.append(Node(n.kind, n.target, [mapping[id(v)] for v in n.inputs],
                              n.params, outs, n.where, n.scope))
        return Graph(nodes, self.out_spec)

    def __str__(self):
        head = ", ".join(f"%{v.name}: {v.type_str()}" for v in self.inputs)
        body = [str(n) for n in self.nodes if n.kind != "input"]
        return f"graph({head}):\n" + "\n".join("    " + line for line in body)

    def __repr__(self):
        calls = len(self.of_kind("call"))
        return f"<ember.jit.Graph: {len(self.inputs)} inputs, {calls} calls>"


def _dtype_name(np_dtype):
    return from_numpy_dtype(np_dtype).name


def _short_array(a):
    if a.size <= 6:
        return np.array2string(a, separator=", ").replace("\n", "")
    return f"<{_dtype_name(a.dtype)}{list(a.shape)}>"


def _fmt_arg(a, inputs):
    """A recorded argument, with ``{"$in": i}`` shown as the input value's name."""
    if isinstance(a, dict) and set(a) == {"$in"}:
        return repr(inputs[a["$in"]])
    if isinstance(a, (tuple, list)):
        inner = ", ".join(_fmt_arg(x, inputs) for x in a)
        return f"({inner},)" if isinstance(a, tuple) and len(a) == 1 else (
            f"({inner})" if isinstance(a, tuple) else f"[{inner}]")
    return _fmt_param(a)


def _fmt_param(p):
    if isinstance(p, np.ndarray):
        return _short_array(p)
    if isinstance(p, np.dtype):
        return _dtype_name(p)
    if isinstance(p, type):
        return p.__name__
    if type(p).__repr__ is object.__repr__:  # a plain ember object: show its fields
        fields = getattr(p, "__dict__", None) or {
            s: getattr(p, s, None) for s in getattr(type(p), "__slots__", ())}
        inner = ", ".join(f"{k}={_fmt_param(v)}" for k, v in fields.items())
        return f"{type(p).__name__}({inner})"
    text = repr(p)
    if "\n" in text:  # an optimizer or a module: its type keeps the line readable
        return f"<{type(p).__name__}>"
    return text
