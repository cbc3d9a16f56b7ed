"""Constant folding: a call whose inputs are all constants becomes constants.

The op runs once, now, exactly as the interpreter would run it (eager ops under
``no_grad``), and its outputs become constant nodes. Parameters are not constants:
they change when the model trains or loads weights. Random ops are not folded (each run
must draw anew), nor side effects (``assign``), nor control flow, nor calls whose result
would be much larger than their inputs (``Expand`` of a scalar to a large shape):
storing it would grow the graph and its saved file for no gain. A call that fails on
its constants stays, to fail when run.
"""

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.jit.graph import Graph, Node
from ember.jit.interpreter import fill_args
from ember.jit.ops import CONTROL_FLOW, is_function, lookup
from ember.jit.passes._elementwise import is_random
from ember.tensor import Tensor

__all__ = ["fold_constants"]

# A folded result may hold up to this many elements more than its inputs together.
_GROWTH = 64


def fold_constants(graph):
    """A copy of ``graph`` with the calls computable from constants alone precomputed.

    Example:
        >>> import ember
        >>> c = ember.tensor([1.0, 2.0])
        >>> g = ember.jit.trace(lambda x: x + c.exp(), ember.ones(2)).graph
        >>> [n.target for n in fold_constants(g).of_kind("call")]
        ['Add']
    """
    g = graph.copy()
    known = {}   # id(value) -> array, for the values of constant nodes
    nodes = []
    for node in g.nodes:
        if node.kind == "constant":
            known[id(node.outputs[0])] = node.params["value"]
        elif node.kind == "call" and _foldable(node, known):
            arrays = _evaluate(node, known)
            if arrays is not None:
                for v, a in zip(node.outputs, arrays):
                    known[id(v)] = a
                    nodes.append(Node("constant", outputs=[v], params={"value": a},
                                      where=node.where, scope=node.scope))
                continue
        nodes.append(node)
    return Graph(nodes, g.out_spec)


def _foldable(node, known):
    if not node.outputs or node.target in CONTROL_FLOW or is_random(node):
        return False  # side effects run each time; subgraphs are left to the run
    if not all(id(v) in known for v in node.inputs):
        return False
    size_in = sum(known[id(v)].size for v in node.inputs)
    size_out = sum(int(np.prod(v.shape)) for v in node.outputs)
    return size_out <= size_in + _GROWTH


def _evaluate(node, known):
    """The node's output arrays computed from the constants, or None if it fails."""
    tensors = [Tensor._make(known[id(v)]) for v in node.inputs]
    try:
        with no_grad():
            if is_function(node.target):
                args, kwargs = fill_args(node.params, tensors)
                result = lookup(node.target)(*args, **kwargs)
            else:
                result = lookup(node.target).apply(*tensors, **node.params)
    except Exception:
        return None
    outs = result if isinstance(result, tuple) else (result,)
    arrays = [np.array(t._data) for t in outs]  # own copies: never views of other constants
    if any(a.shape != v.shape or a.dtype != v.dtype for a, v in zip(arrays, node.outputs)):
        return None
    return arrays
