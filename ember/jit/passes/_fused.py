"""``FusedElementwise``: a chain of elementwise ops run as one node.

The fusion pass (``fusion.py``) replaces a group of single-use elementwise call nodes by
one call node whose target is ``FusedElementwise`` and whose ``body`` param is a small
``Graph`` (a ``FusedBody``) of those ops, reading the fused node's inputs. It runs:

- in the reference interpreter, through ``FusedElementwise.apply``: the body's ops one by
  one on Tensors, so gradients flow exactly as through the unfused ops;
- in the compiled executor, through ``FusedKernel``: one Numba loop computing every op of
  the chain per element, when all of them have a ``scalar_form`` (the ops for which that
  pays: NOTE [when the compiled loop pays] in ``_elementwise.py``) and compiled kernels
  are on, else a NumPy sequence that writes its intermediates into one buffer (``out=``).
"""

import numpy as np

from ember.autograd.node import Op
from ember.backend import compiled_kernels_enabled, kernel
from ember.jit.graph import Graph, Node, Value
from ember.jit.passes._elementwise import out_form, scalar_form

__all__ = ["FusedElementwise", "FusedBody", "FusedKernel"]

_new = object.__new__


class FusedBody(Graph):
    """The ops of a fused node, as a graph; its ``repr`` is their expression, so the fused
    node prints as ``FusedElementwise(%v0, %b, body=sigmoid(relu(%v0 + %b)))``."""

    def __repr__(self):
        return expression(self)


_INFIX = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/", "Pow": "**"}


def expression(body):
    """``body``'s output as one Python-like expression of its input names."""
    from ember.jit.graph import _fmt_param  # the graph's own way of showing a param

    text = {id(v): f"%{v.name}" for v in body.inputs}
    infix = set()  # ids of the values whose text is an infix expression
    for n in body.of_kind("call"):
        v = n.outputs[0]
        if n.target == "PowScalar" and isinstance(n.params["exponent"], (int, float)):
            base = text[id(n.inputs[0])]
            base = f"({base})" if id(n.inputs[0]) in infix else base
            text[id(v)] = f"{base} ** {n.params['exponent']!r}"
            infix.add(id(v))
        elif n.target in _INFIX:
            a, b = (f"({text[id(u)]})" if id(u) in infix else text[id(u)] for u in n.inputs)
            text[id(v)] = f"{a} {_INFIX[n.target]} {b}"
            infix.add(id(v))
        else:
            args = [text[id(u)] for u in n.inputs]
            args += [f"{k}={_fmt_param(p)}" for k, p in n.params.items()]
            text[id(v)] = f"{n.target.lower()}({', '.join(args)})"
    return text[id(body.outputs[0])]


class FusedElementwise(Op):
    """Several elementwise ops as one op: ``body`` (a graph) applied to the inputs."""

    @classmethod
    def apply(cls, *inputs, body):
        # Eager ops, one by one: autograd records each, so gradients need no rule here.
        from ember.jit.interpreter import run

        return run(body, inputs, {})

    def forward(self, *arrays, body):
        return FusedKernel(body)(arrays)


class FusedKernel:
    """Runs a fused body on arrays: a compiled loop when possible, else NumPy passes.

    Args:
        body: the fused node's ``body`` graph (inputs, elementwise calls, one output).
    """

    def __init__(self, body):
        out = body.outputs[0]
        self.shape, self.dtype = out.shape, out.dtype
        self.body = body
        self.source = _loop_source(body)
        self._programs = {}
        self._loops = {}

    def __call__(self, arrays, out=None, reused=None):
        """The fused result of ``arrays``.

        Args:
            arrays: the fused node's input arrays.
            out: an array of the result's shape and dtype that nobody needs any more; the
                result may be written into it.
            reused: the position of ``out`` among ``arrays`` when it is one of them.
        """
        if self.source is not None and compiled_kernels_enabled() and \
                _all_float(arrays, self.dtype):
            return self._run_loop(arrays, out)
        program = self._programs.get(reused)
        if program is None:
            program = self._programs[reused] = _numpy_program(self.body, reused)
        return _run_numpy(program, arrays, out, self.shape, self.dtype)

    # ---- one compiled loop --------------------------------------------------------------------

    def _run_loop(self, arrays, out):
        if out is None or not out.flags.c_contiguous:
            out = np.empty(self.shape, self.dtype)
        modes, operands, tail = _loop_operands(arrays, self.shape)
        loop = self._loops.get(modes)
        if loop is None:
            loop = self._loops[modes] = _compiled_loop(self.source, modes)
        loop(out.reshape(-1, tail), *operands)
        return out


def _run_numpy(program, arrays, out, shape, dtype):
    """Run the steps of ``_numpy_program``; ``out`` (may be None) is the shared buffer."""
    env = list(arrays) + [None] * len(program)
    buf = out
    for fn, ins, slot, params, into_buf in program:
        args = [env[i] for i in ins]
        if into_buf:
            if buf is None:
                buf = np.empty(shape, dtype)
            env[slot] = fn(buf, *args, **params)
        else:
            r = fn(*args, **params)
            env[slot] = r if type(r) is np.ndarray else np.asarray(r)
    return env[-1]


def _all_float(arrays, dtype):
    return dtype in _FLOATS and all(a.dtype in _FLOATS for a in arrays)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _numpy_program(body, reused=None):
    """Steps ``(fn, input slots, output slot, params, writes into the buffer)``.

    A step writes into the shared buffer when it has an ``out_form``, its result has the
    fused output's shape and dtype, and the buffer holds nothing still needed: empty, or
    a value read for the last time by this step at the latest. The buffer starts out
    holding input ``reused`` when the caller's ``out`` is that input.
    """
    slots = {id(v): i for i, v in enumerate(body.inputs)}
    calls = body.of_kind("call")
    last = {}
    for k, n in enumerate(calls):
        for v in n.inputs:
            last[id(v)] = k
    out = body.outputs[0]
    holder = None if reused is None else id(body.inputs[reused])
    program = []
    for k, n in enumerate(calls):
        v = n.outputs[0]
        slots[id(v)] = len(slots)
        fn = out_form(n.target, v.dtype)
        free = holder is None or last.get(holder, -1) <= k
        into = fn is not None and free and (v.shape, v.dtype) == (out.shape, out.dtype)
        if into:
            holder = id(v)
        else:
            fn = _forward(n.target)
        program.append((fn, [slots[id(u)] for u in n.inputs], slots[id(v)], n.params, into))
    return program


def _forward(target):
    from ember.jit.ops import lookup

    cls = lookup(target)
    return lambda *arrays, **params: _new(cls).forward(*arrays, **params)


# ---- source of the compiled loop ------------------------------------------------------------

def _loop_source(body):
    """The per-element statements of ``body`` (a list of lines), or None if an op has no
    ``scalar_form``."""
    names = {id(v): f"x{i}" for i, v in enumerate(body.inputs)}
    lines = []
    for k, n in enumerate(body.of_kind("call")):
        expr = scalar_form(n.target, n.params, [names[id(v)] for v in n.inputs],
                           body.outputs[0].dtype)
        if expr is None:
            return None
        names[id(n.outputs[0])] = f"t{k}"
        lines.append(f"t{k} = {expr}")
    lines.append(f"out[r, i] = {names[id(body.outputs[0])]}")
    return lines


def _loop_operands(arrays, shape):
    """How the loop reads each array for an output of ``shape``, viewed as ``(rows, tail)``.

    ``tail`` is the size of the trailing dims that the largest bias-like operand (an
    array equal to the output's trailing dims) spans, or the whole size. Each operand is
    then "full" (its own ``(rows, tail)`` view), "tail" (``tail`` values, the same for
    every row: a bias) or "one" (a scalar); any other broadcast is materialized.
    Returns ``(modes, operands, tail)``.
    """
    size = int(np.prod(shape))
    spans = [a.ndim for a in arrays
             if 0 < a.size < size and a.shape == shape[len(shape) - a.ndim:]]
    tail_shape = shape[len(shape) - max(spans):] if spans else shape
    tail = int(np.prod(tail_shape)) or 1
    modes, operands = [], []
    for a in arrays:
        if a.size == 1:
            modes.append("one")
            operands.append(a.reshape(1))
        elif a.shape == shape:
            modes.append("full")
            operands.append(np.ascontiguousarray(a).reshape(-1, tail))
        elif spans and a.shape == tail_shape[len(tail_shape) - a.ndim:]:
            modes.append("tail")
            operands.append(np.ascontiguousarray(np.broadcast_to(a, tail_shape)).reshape(-1))
        else:
            modes.append("full")
            operands.append(np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1, tail))
    return tuple(modes), operands, tail


_READ = {"full": "a{0}[r, i]", "one": "a{0}[0]", "tail": "a{0}[i]"}
_CACHE = {}


def _compiled_loop(lines, modes):
    """A compiled kernel ``loop(out, *operands)`` for these statements and modes; ``out``
    is ``(rows, tail)``, the inner loop runs along the contiguous tail."""
    args = ", ".join(f"a{j}" for j in range(len(modes)))
    reads = [f"            x{j} = {_READ[m].format(j)}" for j, m in enumerate(modes)]
    src = "\n".join([f"def fused(out, {args}):",
                     "    for r in range(out.shape[0]):",
                     "        for i in range(out.shape[1]):",
                     *reads, *("            " + s for s in lines)])
    loop = _CACHE.get(src)
    if loop is None:
        import math

        namespace = {"math": math}
        exec(compile(src, "<ember.jit fused loop>", "exec"), namespace)
        # Generated code has no file for Numba's disk cache: compiled once per process.
        loop = _CACHE[src] = kernel(cache=False, error_model="numpy")(namespace["fused"])
    return loop


def body_graph(nodes, inputs, output):
    """A ``FusedBody`` computing ``output`` from ``inputs`` with copies of ``nodes``."""
    mapping = {}
    new_nodes = []
    for v in inputs:
        w = Value(v.name, v.shape, v.dtype)
        mapping[id(v)] = w
        new_nodes.append(Node("input", v.name, outputs=[w]))
    for n in nodes:
        outs = [Value(v.name, v.shape, v.dtype) for v in n.outputs]
        mapping.update({id(v): w for v, w in zip(n.outputs, outs)})
        new_nodes.append(Node("call", n.target, [mapping[id(v)] for v in n.inputs], n.params,
                              outs, n.where, n.scope))
    new_nodes.append(Node("output", inputs=[mapping[id(output)]]))
    return FusedBody(new_nodes)
