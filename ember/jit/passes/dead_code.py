"""Dead-code elimination: drop the nodes whose outputs nobody uses.

A call, constant or parameter node stays only if the graph's result depends on one of
its outputs. The exception is a call with a side effect. Ops hold no in-place writes
(the tracer records ``x.add_(y)`` as a new value, ``inplace_write`` in ``tracer.py``),
so the side effects are: the nodes of a captured training step that have no outputs
(``backward``, ``zero_grad``, ``optimizer_step``: they exist for what they change), and
drawing random numbers, which advances the generator and so changes what later random
ops and later calls draw (``is_random``: ``RreluTrain``, ops taking a ``generator``).
Both kinds stay even when nothing reads them. An inference graph has none (eval-mode
dropout is the identity, and a traced training-mode dropout is a multiplication by a
mask captured as a constant). Input nodes always stay: they are the graph's signature.
"""

from ember.jit.graph import Graph
from ember.jit.passes._elementwise import is_random

__all__ = ["eliminate_dead_code"]


def eliminate_dead_code(graph):
    """A copy of ``graph`` without the nodes its outputs do not depend on.

    Example:
        >>> import ember
        >>> def f(x):
        ...     unused = x.exp()
        ...     return x + 1
        >>> g = ember.jit.trace(f, ember.ones(2), check=False).graph
        >>> [n.target for n in eliminate_dead_code(g).of_kind("call")]
        ['Add']
    """
    g = graph.copy()
    live = set()
    kept = []
    for node in reversed(g.nodes):
        if _needed(node, live):
            kept.append(node)
            live.update(id(v) for v in node.inputs)
    return Graph(kept[::-1], g.out_spec)


def _needed(node, live):
    if node.kind in ("input", "output"):
        return True
    if node.kind == "call" and (not node.outputs or is_random(node)):
        return True
    return any(id(v) in live for v in node.outputs)
