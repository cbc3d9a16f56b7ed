"""Common-subexpression elimination: compute each distinct expression once.

Two call nodes with the same target, the same input values and equal params give equal
results, so the later one is dropped and its users read the earlier one's outputs.
Constants with equal values and parameter nodes naming the same tensor merge the same
way. Random ops never merge: two dropout masks drawn from the same input are different
masks (``is_random``). Nor do calls on either side of a node run for its side effect (a
captured training step's ``optimizer_step`` changes the parameters in place, so ``w * 2``
after it is not ``w * 2`` before it).
"""

from ember.jit.graph import Graph
from ember.jit.passes._elementwise import is_random
from ember.jit.passes._keys import Unkeyable, params_key

__all__ = ["eliminate_common_subexpressions"]


def eliminate_common_subexpressions(graph):
    """A copy of ``graph`` where each repeated computation is done once.

    Example:
        >>> import ember
        >>> g = ember.jit.trace(lambda x: x.exp() + x.exp(), ember.ones(2)).graph
        >>> [n.target for n in eliminate_common_subexpressions(g).of_kind("call")]
        ['Exp', 'Add']
    """
    g = graph.copy()
    seen = {}      # key -> the first node computing it
    renamed = {}   # id(dropped value) -> the value that replaces it
    kept = []
    for node in g.nodes:
        node.inputs = [renamed.get(id(v), v) for v in node.inputs]
        if node.kind == "call" and not node.outputs:  # a side effect: forget earlier calls
            seen = {k: n for k, n in seen.items() if n.kind != "call"}
        key = _key(node)
        first = seen.get(key) if key is not None else None
        if first is not None:
            renamed.update((id(v), w) for v, w in zip(node.outputs, first.outputs))
            continue
        if key is not None:
            seen[key] = node
        kept.append(node)
    return Graph(kept, g.out_spec)


def _key(node):
    """What makes ``node`` equal to another, or None when it must stay unique."""
    if node.kind == "parameter":
        return ("parameter", node.target)
    if node.kind not in ("call", "constant") or (node.kind == "call" and is_random(node)):
        return None
    if node.kind == "call" and not node.outputs:
        return None
    try:
        params = params_key(node.params)
    except Unkeyable:
        return None
    return (node.kind, node.target, tuple(id(v) for v in node.inputs), params)
