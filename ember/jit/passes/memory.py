"""Memory planning: which buffers die where, and which an op may overwrite.

Liveness analysis over the node list. A value's buffer is dead after the last node that
reads it, or that reads any value which may share its memory: the output of an op
outside ``FRESH`` may be a view of its inputs (``Reshape``, ``Permute``, an op returning
its input unchanged), so such values form one storage group whose life is the longest
of its members'. At a call node:

- ``frees``: the values read here for the last time (the executor drops them, so their
  memory returns as soon as possible);
- ``reuse``: the position of an input whose buffer the node may write its output into:
  the node is an elementwise op with an in-place form (``out_form``) or a fused chain,
  the input has the output's shape and dtype, its storage group dies here, no other
  input shares that storage, and its memory was allocated by the graph itself (``FRESH``
  ops) rather than being a graph input, a parameter or a constant.

``plan_memory`` returns a ``PlannedGraph``: the same nodes plus this plan, printed as a
comment after each line.
"""

from ember.jit.graph import Graph
from ember.jit.passes._elementwise import FRESH, out_form

__all__ = ["plan_memory", "PlannedGraph", "Step"]


class Step:
    """The plan of one call node: ``reuse`` (input position or None), ``frees`` (values)."""

    __slots__ = ("reuse", "frees")

    def __init__(self, reuse=None, frees=()):
        self.reuse, self.frees = reuse, list(frees)

    def __str__(self):
        parts = []
        if self.reuse is not None:
            parts.append(f"in place of input {self.reuse}")
        if self.frees:
            parts.append("frees " + ", ".join(repr(v) for v in self.frees))
        return "; ".join(parts)


class PlannedGraph(Graph):
    """A graph with a memory plan: ``plan[k]`` is the ``Step`` of ``nodes[k]`` (calls)."""

    def __init__(self, nodes, out_spec, plan):
        super().__init__(nodes, out_spec)
        self.plan = plan

    def __str__(self):
        lines = super().__str__().split("\n")
        body = [n for n in self.nodes if n.kind != "input"]
        for k, node in enumerate(body, start=1):
            step = self.plan.get(id(node))
            note = str(step) if step is not None else ""
            if note:
                lines[k] += f"  # {note}"
        return "\n".join(lines)


def plan_memory(graph):
    """A ``PlannedGraph``: a copy of ``graph`` plus where buffers die and are reused.

    Example:
        >>> import ember
        >>> g = ember.jit.trace(lambda x: (x * 2).relu().exp(), ember.ones(2, 3)).graph
        >>> print(plan_memory(g))  # doctest: +NORMALIZE_WHITESPACE
        graph(%x0: float32[2, 3]):
            %c0: float32[] = constant(2.)
            %v1: float32[2, 3] = Mul(%x0, %c0)  # frees %x0, %c0
            %v2: float32[2, 3] = Relu(%v1)  # in place of input 0; frees %v1
            %v3: float32[2, 3] = Exp(%v2)  # in place of input 0; frees %v2
            return %v3
    """
    g = graph.copy()
    last = _last_uses(g)
    groups = _Storage(g, last)
    returned = {id(v) for v in g.outputs}
    plan = {}
    for k, node in enumerate(g.nodes):
        if node.kind != "call":
            continue
        reuse = _reusable_input(node, k, groups)
        if reuse is not None:
            groups.union(node.outputs[0], node.inputs[reuse])
        frees = [v for v in dict.fromkeys(node.inputs)
                 if last[id(v)] == k and id(v) not in returned]
        plan[id(node)] = Step(reuse, frees)
    return PlannedGraph(g.nodes, g.out_spec, plan)


def _last_uses(g):
    """``{id(value): index of the last node reading it}`` (its own node if none does)."""
    last = {}
    for k, node in enumerate(g.nodes):
        for v in node.outputs:
            last[id(v)] = k
        for v in node.inputs:
            last[id(v)] = k
    return last


def _in_place(node):
    if len(node.outputs) != 1:
        return False
    out = node.outputs[0]
    return node.target == "FusedElementwise" or out_form(node.target, out.dtype) is not None


def _reusable_input(node, k, groups):
    if not _in_place(node):
        return None
    out = node.outputs[0]
    for i, v in enumerate(node.inputs):
        if (v.shape, v.dtype) != (out.shape, out.dtype) or not groups.owned(v):
            continue
        root = groups.find(v)
        if groups.last[root] != k:
            continue
        if all(u is v or groups.find(u) != root for u in node.inputs):
            return i
    return None


class _Storage:
    """Union-find of values that may share memory, with each group's last use."""

    def __init__(self, g, last):
        self.parent = {}
        self.last = {}
        self.foreign = {}
        self.fresh = set()
        for node in g.nodes:
            for v in node.outputs:
                self.parent[id(v)] = id(v)
                self.last[id(v)] = last[id(v)]
                self.foreign[id(v)] = node.kind != "call"
            if node.kind == "call" and node.target in FRESH:
                self.fresh.update(id(v) for v in node.outputs)
            elif node.kind == "call":
                for v in node.outputs:
                    for u in node.inputs:
                        self.union(v, u)

    def find(self, v):
        key = id(v) if not isinstance(v, int) else v
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra
            self.last[ra] = max(self.last[ra], self.last[rb])
            self.foreign[ra] = self.foreign[ra] or self.foreign[rb]

    def owned(self, v):
        """True when ``v``'s memory was allocated by the graph and nothing outside shares it."""
        return id(v) in self.fresh and not self.foreign[self.find(v)]
