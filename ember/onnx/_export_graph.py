"""An ember ``Graph`` as an ONNX ``GraphProto``: inputs, initializers, one table lookup per call.

``build_model`` converts the main graph; ``convert_subgraph`` converts the branches and
bodies of ``cond``/``while_loop`` (``_export_control.py``) into the same
``ExportContext``, so that names stay unique across the whole model.
"""

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ember.jit.interpreter import fill_args
from ember.jit.ops import is_function
from ember.onnx._export_context import ExportContext, Scope, onnx_dtype
from ember.onnx._export_ops import exporter_for
from ember.onnx.errors import UnsupportedOperatorError

__all__ = ["build_model", "convert_subgraph", "inline_graph", "value_info"]


def value_info(name, value, dim_names=None):
    """A ``ValueInfoProto`` for ``value``; ``dim_names`` maps axes to symbolic names."""
    dim_names = dim_names or {}
    dims = [dim_names.get(i, s) for i, s in enumerate(value.shape)]
    return helper.make_tensor_value_info(name, onnx_dtype(value.dtype), dims)


def build_model(graph, tensors, io, opset, twins=None, origin=None):
    """The ``ModelProto`` of ``graph``.

    Args:
        graph: the traced ember Graph.
        tensors: ``{state_dict key: ndarray}`` for its parameter nodes.
        io: ``(input_names, output_names, input_dims, output_dims)``; the dims map each
            name to ``{axis: symbolic name}``.
        opset: the ONNX opset version.
        twins: ``{id(obj): twin obj}`` from the second trace (NOTE [dynamic axes]).
        origin: a dict to fill with ``{onnx node or initializer name: ember node}``.
    """
    in_names, out_names, in_dims, out_dims = io
    inputs = list(zip(in_names, graph.inputs))
    ctx = ExportContext(opset, tensors, twins, inputs)
    for name, value in inputs:
        ctx.bind(value, name)
    ctx.taken.update(out_names)
    ctx.taken.update(tensors)  # initializers keep their state_dict keys
    _convert_nodes(ctx, _live(graph))
    _bind_outputs(ctx, graph.outputs, out_names)
    onnx_inputs = [value_info(n, v, in_dims.get(n)) for n, v in inputs]
    onnx_outputs = [value_info(n, v, out_dims.get(n))
                    for n, v in zip(out_names, graph.outputs)]
    nodes, inits = _prune(ctx.main.nodes, ctx.main.initializers, out_names)
    proto = helper.make_graph(nodes, "ember", onnx_inputs, onnx_outputs, initializer=inits)
    if origin is not None:
        origin.update(ctx.origin)
    model = helper.make_model(proto, producer_name="ember",
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, _ir_version(opset))
    return model


def _prune(nodes, initializers, outputs):
    """The nodes and initializers the outputs need (exporters may leave some unread)."""
    needed = set(outputs)
    kept = []
    for node in reversed(nodes):
        if not any(o in needed for o in node.output):
            continue
        kept.append(node)
        needed.update(_reads(node))
    return kept[::-1], [t for t in initializers if t.name in needed]


def _reads(node):
    """Every name a node reads, its subgraphs' outer-scope reads included."""
    names = set(node.input)
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            for inner in attr.g.node:
                names |= _reads(inner)
    return names


def _ir_version(opset):
    # The IR version that first allowed this opset, so that older runtimes load the file.
    table = {17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10}
    return table.get(opset, helper.VERSION_TABLE[-1][1])


def _bind_outputs(ctx, values, out_names):
    """Give each output value its user-facing name (an Identity: a value may be an input,
    a weight, or returned twice)."""
    for value, name in zip(values, out_names):
        ctx.add_node(helper.make_node("Identity", [ctx.name(value)], [name],
                                      name=ctx.fresh("n_Identity")))


def _convert_nodes(ctx, nodes):
    for node in nodes:
        if node.kind == "parameter":
            _parameter(ctx, node)
        elif node.kind == "constant":
            _constant(ctx, node)
        elif node.kind == "call":
            _call(ctx, node)


def _parameter(ctx, node):
    # Subgraphs read the same initializers as the main graph (ONNX outer-scope names).
    if node.target not in ctx.initialized:
        array = np.asarray(ctx.tensors[node.target])
        ctx.main.initializers.append(numpy_helper.from_array(array, node.target))
        ctx.initialized.add(node.target)
    ctx.bind(node.outputs[0], node.target)


def _constant(ctx, node):
    value = node.outputs[0]
    array = node.params["value"]
    twin = ctx.twin(node)
    if twin is not node and array.shape != twin.params["value"].shape:
        ctx.bind(value, _sized_constant(ctx, node, array, twin.params["value"]))
        return
    if twin is not node and not np.array_equal(array, twin.params["value"]):
        raise _varying_error(node, "a constant's values")
    ctx.bind(value, ctx.const(array, value.name))


def _sized_constant(ctx, node, array, twin_array):
    """A constant whose shape follows a dynamic axis: fine when it is one value repeated."""
    flat = array.reshape(-1)
    if flat.size == 0 or not (flat == flat[0]).all():
        raise _varying_error(node, "the shape of a constant that is not one repeated value")
    shape = ctx.shape_tensor(array.shape, twin_array.shape, f"a constant at {node.where}")
    fill = numpy_helper.from_array(np.array([flat[0]], dtype=array.dtype))
    return ctx.op("ConstantOfShape", [shape], value=fill)


def _varying_error(node, what):
    where = f" at {node.where}" if node.where else ""
    target = f" of {node.target}" if node.kind == "call" else ""
    return ValueError(
        f"ember.onnx.export: {what}{target}{where} depend on the size of a dynamic axis, "
        "and this exporter can only write them for the example's sizes; export with fewer "
        "dynamic axes (or none) for this model")


def _call(ctx, node):
    fn = exporter_for(node)
    outer, ctx.current = ctx.current, node
    try:
        inputs = [ctx.name(v) for v in node.inputs]
        if is_function(node.target):
            args, kwargs = fill_args(node.params, inputs)
            result = fn(ctx, node, *args, **kwargs)
        else:
            result = fn(ctx, node, *inputs, **node.params)
    finally:
        ctx.current = outer
    names = [result] if isinstance(result, str) else list(result)
    if len(names) != len(node.outputs):
        raise UnsupportedOperatorError(
            f"ember.onnx.export: the exporter of {node.target} gave {len(names)} outputs for "
            f"{len(node.outputs)}", node.target)
    for value, name in zip(node.outputs, names):
        ctx.bind(value, name)


def convert_subgraph(ctx, graph, name, carried_in=None, then=None):
    """A subgraph's ``(nodes, input names, output names)`` in a scope of its own.

    ``carried_in``: names for the subgraph's input values (default: fresh ones).
    ``then(output names)``: more output names computed inside the same scope (a loop
    body's next condition), appended to the outputs.
    """
    saved = ctx.scope
    ctx.scope = Scope(is_main=False)
    try:
        in_names = carried_in or [ctx.fresh(f"{name}_{v.name}") for v in graph.inputs]
        results = inline_graph(ctx, graph, in_names)
        if then is not None:
            results += then(results)
        out_names = []
        for result in results:
            out = ctx.fresh(f"{name}_out")
            ctx.add_node(helper.make_node("Identity", [result], [out],
                                          name=ctx.fresh("n_Identity")))
            out_names.append(out)
        nodes = ctx.scope.nodes
    finally:
        ctx.scope = saved
    return nodes, in_names, out_names


def inline_graph(ctx, graph, in_names):
    """``graph``'s nodes written into the current scope on ``in_names``; its output names."""
    for value, n in zip(graph.inputs, in_names):
        ctx.bind(value, n)
    _convert_nodes(ctx, _live(graph))
    return [ctx.name(v) for v in graph.outputs]


def _live(graph):
    """The nodes whose values the outputs need, in order: dead code (a mask computed and
    never used, say) is not exported, so it can neither fail nor bloat the file."""
    needed = {id(v) for v in graph.outputs}
    live = []
    for node in reversed(graph.nodes):
        if node.kind in ("input", "output") or any(id(v) in needed for v in node.outputs):
            live.append(node)
            needed.update(id(v) for v in node.inputs)
    return live[::-1]
