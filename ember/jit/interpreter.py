"""The reference interpreter: run a Graph node by node with ember's eager ops.

It applies each call node's op to Tensors, exactly as eager code does, so the result
equals eager execution and gradients flow to the parameters (a loaded or traced graph
can be fine-tuned). The compiled executor (``executor.py``) is the fast path; this one
is the definition it is tested against.
"""

from ember.jit.ops import is_function, lookup
from ember.tensor import Tensor

__all__ = ["run", "rebuild", "fill_args"]


def run(graph, inputs, parameters):
    """Outputs of ``graph`` for ``inputs`` (Tensors in order) and ``{name: Tensor}``."""
    env = {}
    feed = iter(inputs)
    outs = []
    for node in graph.nodes:
        kind = node.kind
        if kind == "call":
            args = [env[v] for v in node.inputs]
            if is_function(node.target):
                pos, kw = fill_args(node.params, args)
                result = lookup(node.target)(*pos, **kw)
            else:
                result = lookup(node.target).apply(*args, **node.params)
            if len(node.outputs) == 1 and not isinstance(result, tuple):
                env[node.outputs[0]] = result
            else:
                env.update(zip(node.outputs, result))
        elif kind == "input":
            env[node.outputs[0]] = next(feed)
        elif kind == "parameter":
            env[node.outputs[0]] = parameters[node.target]
        elif kind == "constant":
            env[node.outputs[0]] = Tensor._make(node.params["value"])
        else:
            outs = [env[v] for v in node.inputs]
    return rebuild(graph.out_spec, outs)


def fill_args(params, tensors):
    """A traceable call's ``(args, kwargs)`` with ``{"$in": i}`` replaced by ``tensors[i]``."""
    return _fill(params["args"], tensors), _fill(params["kwargs"], tensors)


def _fill(spec, tensors):
    if isinstance(spec, dict):
        if "$in" in spec and len(spec) == 1:
            return tensors[spec["$in"]]
        return {k: _fill(v, tensors) for k, v in spec.items()}
    if isinstance(spec, (tuple, list)):
        return type(spec)(_fill(s, tensors) for s in spec)
    return spec


def rebuild(spec, outs):
    """The traced function's result structure from ``Graph.out_spec`` and output values."""
    if isinstance(spec, int):
        return outs[spec]
    kind, body = spec
    if kind == "const":
        return body
    if kind == "dict":
        return {k: rebuild(s, outs) for k, s in body}
    items = [rebuild(s, outs) for s in body]
    return items if kind == "list" else tuple(items)
