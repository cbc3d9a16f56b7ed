"""The reference interpreter: run a Graph node by node with ember's eager ops.

It applies each call node's op to Tensors, exactly as eager code does, so the result
equals eager execution and gradients flow to the parameters (a loaded or traced graph
can be fine-tuned). The compiled executor (``executor.py``) is the fast path; this one
is the definition it is tested against.
"""

from ember.autograd.grad_mode import GradMode
from ember.jit.ops import assign, is_function, lookup, set_grad_enabled
from ember.tensor import Tensor

__all__ = ["fill_args", "rebuild", "run", "run_flat"]


def run(graph, inputs, parameters, effects=None):
    """Outputs of ``graph`` for ``inputs`` (Tensors in order) and ``{name: Tensor}``.

    ``effects`` maps the targets of side-effect nodes that only a captured training step
    has (``backward``, ``optimizer_step``; see ``compile.py``) to ``fn(node, args)``.
    """
    return rebuild(graph.out_spec, run_flat(graph, inputs, parameters, effects))


def run_flat(graph, inputs, parameters, effects=None):
    """``run``'s outputs as the flat list of the values the output node returns."""
    mode = GradMode.enabled  # set_grad_enabled nodes change it; the caller's comes back
    try:
        return _run_nodes(graph, inputs, parameters, effects)
    finally:
        GradMode.enabled = mode


def _run_nodes(graph, inputs, parameters, effects):
    env = {}
    feed = iter(inputs)
    outs = []
    for node in graph.nodes:
        kind = node.kind
        if kind == "call":
            args = [env[v] for v in node.inputs]
            if effects and node.target in effects:
                effects[node.target](node, args)
                continue
            if is_function(node.target):
                pos, kw = fill_args(node.params, args)
                result = lookup(node.target)(*pos, **kw)
            elif node.target in _CONTROL_FLOW:
                result = _CONTROL_FLOW[node.target](node, args, parameters)
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
    return outs


def _cond(node, args, parameters):
    """A ``cond`` node (``control_flow.py``): run the branch the pred chooses now."""
    true_graph, false_graph = node.params["branches"]
    graph = true_graph if bool(args[0]._data) else false_graph
    return tuple(run_flat(graph, args[1:], parameters))


def _while_loop(node, args, parameters):
    """A ``while_loop`` node: run the body graph while the cond graph returns true."""
    test, body = node.params["cond_graph"], node.params["body_graph"]
    values = list(args)
    while bool(run_flat(test, values, parameters)[0]._data):
        values = run_flat(body, values, parameters)
    return tuple(values)


def _assign(node, args, parameters):
    """An ``assign`` node: an in-place write into a named tensor (a buffer's update)."""
    assign(parameters[node.params["name"]], args[0])
    return ()


# Nodes the interpreter runs itself: control flow, and writes into named tensors.
def _set_grad(node, args, parameters):
    set_grad_enabled(node.params["enabled"])
    return ()


_CONTROL_FLOW = {"cond": _cond, "while_loop": _while_loop, "assign": _assign,
                 "set_grad_enabled": _set_grad}


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
