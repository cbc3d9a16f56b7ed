"""Exporters of control flow: ``cond`` as ONNX ``If``, ``while_loop`` as ONNX ``Loop``.

Branches and bodies are ember Graphs (``ember/jit/control_flow.py``). An ``If``
branch has no inputs in ONNX: it reads the operands by their names in the enclosing
graph, so the branch graph's inputs are bound to those names. A ``Loop`` body takes
``(iteration, condition, *carried)`` and returns ``(condition, *carried)``; ember's
``while_loop`` tests before every iteration, so the test graph runs once before the
loop (on the first values) and at the end of each body (on the new values). Parameters
are read from the main graph's initializers (ONNX's outer scope).
"""

import numpy as np
from onnx import TensorProto, helper

from ember.onnx._export_context import onnx_dtype

__all__ = ["EXPORTERS"]


def _info(ctx, name, value):
    """A subgraph input's or output's type; sizes that follow a dynamic axis left open."""
    other = ctx.twin(value).shape
    dims = [a if a == b else None for a, b in zip(value.shape, other)]
    return helper.make_tensor_value_info(name, onnx_dtype(value.dtype), dims)


def _cond(ctx, node, pred, *operands, branches):
    """``If``: each branch reads the operands by their outer names."""
    # Imported here: _export_graph imports the export table, which holds this module.
    from ember.onnx._export_graph import convert_subgraph

    protos = []
    for graph, label in zip(branches, ("then", "else")):
        nodes, _, outs = convert_subgraph(ctx, graph, label, carried_in=list(operands))
        infos = [_info(ctx, n, v) for n, v in zip(outs, graph.outputs)]
        protos.append(helper.make_graph(nodes, ctx.fresh(label), [], infos))
    pred = ctx.cast(pred, node.inputs[0].dtype, np.bool_)
    result = ctx.op("If", [pred], outputs=len(node.outputs), then_branch=protos[0],
                    else_branch=protos[1])
    return result if len(node.outputs) > 1 else (result,)


def _while_loop(ctx, node, *carried, cond_graph, body_graph):
    """``Loop`` with no trip count: the test before the loop, and after each body."""
    from ember.onnx._export_graph import convert_subgraph, inline_graph

    (first,) = inline_graph(ctx, cond_graph, list(carried))
    iteration = ctx.fresh("loop_iteration")
    cond_in = ctx.fresh("loop_cond_in")
    nodes, in_names, outs = convert_subgraph(ctx, body_graph, "body",
                                             then=lambda new: inline_graph(ctx, cond_graph,
                                                                           new))
    body_outs, (cond_out,) = outs[:-1], outs[-1:]
    inputs = [helper.make_tensor_value_info(iteration, TensorProto.INT64, []),
              helper.make_tensor_value_info(cond_in, TensorProto.BOOL, [])]
    inputs += [_info(ctx, n, v) for n, v in zip(in_names, body_graph.inputs)]
    outputs = [helper.make_tensor_value_info(cond_out, TensorProto.BOOL, [])]
    outputs += [_info(ctx, n, v) for n, v in zip(body_outs, body_graph.outputs)]
    body = helper.make_graph(nodes, ctx.fresh("loop_body"), inputs, outputs)
    result = ctx.op("Loop", ["", first, *carried], outputs=len(node.outputs), body=body)
    return result if len(node.outputs) > 1 else (result,)


def _fused(ctx, node, *inputs, body):
    """A fused elementwise node (``ember.jit.passes``): its body written out in place."""
    from ember.onnx._export_graph import inline_graph

    return tuple(inline_graph(ctx, body, list(inputs)))


def _assign(ctx, node, *inputs, **params):
    """An in-place write into a named tensor (a training-mode batch norm's running
    statistics): an ONNX model holds no state, so it is left out, as PyTorch's exporter
    does. (It has no outputs, so the graph's dead-code pass drops it before this.)"""
    return ()


def _set_grad(ctx, node, *inputs, **params):
    """A switch of gradient mode: an ONNX model computes no gradients; nothing to write."""
    return ()


EXPORTERS = {"cond": _cond, "while_loop": _while_loop, "FusedElementwise": _fused,
             "assign": _assign, "set_grad_enabled": _set_grad}
