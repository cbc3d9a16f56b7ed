"""Elementwise fusion: chains of single-use elementwise ops become one node.

An elementwise op (``FUSABLE``) whose output is read by exactly one other elementwise
op, and is not a result of the graph, joins that op's group; groups of two or more ops
become one ``FusedElementwise`` call (``_fused.py``) at the place of the group's last
op, reading the values the group reads from outside. The intermediate arrays then never
exist: the executor computes the chain in one compiled loop, or writes each step into
one buffer. A value read by two ops stays a node of its own (fusing it would compute it
twice), random ops never fuse (``is_random``), and no group spans a node run for its
side effect (the fused node would move reads of a parameter past ``optimizer_step``).
"""

from ember.jit.graph import Graph, Node
from ember.jit.passes._elementwise import FUSABLE, is_random
from ember.jit.passes._fused import body_graph

__all__ = ["fuse_elementwise"]


def fuse_elementwise(graph):
    """A copy of ``graph`` with chains of elementwise ops fused.

    Example:
        >>> import ember
        >>> g = ember.jit.trace(lambda x, b: (x + b).relu(), (ember.ones(2), ember.ones(2))).graph
        >>> print(fuse_elementwise(g))  # doctest: +NORMALIZE_WHITESPACE
        graph(%x0: float32[2], %x1: float32[2]):
            %v1: float32[2] = FusedElementwise(%x0, %x1, body=relu(%x0 + %x1))
            return %v1
    """
    g = graph.copy()
    groups = _groups(g)
    nodes = []
    for node in g.nodes:
        members = groups.get(id(node))
        if members is None or len(members) == 1:
            nodes.append(node)
        elif node is members[-1]:
            nodes.append(_fused_node(members))
    return Graph(nodes, g.out_spec)


def _fusable(node):
    return (node.kind == "call" and node.target in FUSABLE and len(node.outputs) == 1
            and not is_random(node))


def _groups(g):
    """``{id(node): members}`` for each fusable node; members in graph order, the last
    one the group's root (absorbed nodes map to their group too, for skipping)."""
    users = g.users()
    results = {id(v) for v in g.outputs}
    order = {id(n): k for k, n in enumerate(g.nodes)}
    segment, effects = {}, 0  # segment: how many side-effect nodes came before a node
    root_group = {}  # id(root node) -> members
    for node in g.nodes:
        effects += node.kind == "call" and not node.outputs
        segment[id(node)] = effects
        if not _fusable(node):
            continue
        members = [node]
        for v in dict.fromkeys(node.inputs):  # each value once, in order
            p = v.node
            if (id(p) in root_group and id(v) not in results and segment[id(p)] == effects
                    and all(u is node for u in users[id(v)])):
                members += root_group.pop(id(p))
        root_group[id(node)] = sorted(members, key=lambda n: order[id(n)])
    groups = {}
    for members in root_group.values():
        for n in members:
            groups[id(n)] = members
    return groups


def _fused_node(members):
    """One ``FusedElementwise`` call computing the last member from the group's inputs."""
    inside = {id(v) for n in members for v in n.outputs}
    inputs = list(dict.fromkeys(v for n in members for v in n.inputs if id(v) not in inside))
    root = members[-1]
    body = body_graph(members, inputs, root.outputs[0])
    return Node("call", "FusedElementwise", inputs, {"body": body}, root.outputs,
                root.where, root.scope)
