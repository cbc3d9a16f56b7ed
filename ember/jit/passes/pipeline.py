"""``optimize``: the passes in the order that lets each one help the next."""

from ember.jit.passes.common_subexpressions import eliminate_common_subexpressions
from ember.jit.passes.constant_folding import fold_constants
from ember.jit.passes.dead_code import eliminate_dead_code
from ember.jit.passes.fusion import fuse_elementwise
from ember.jit.passes.memory import plan_memory

__all__ = ["optimize"]


def optimize(graph):
    """``graph`` simplified, fused and memory-planned, for the compiled executor.

    Dead code goes first (nothing is folded or compared for nothing); folding turns
    more nodes into constants, which common-subexpression elimination can then merge;
    what those two left unused goes; fusion then sees the final chains, and the memory
    plan is made for the nodes that will run. Returns a ``PlannedGraph``; the input
    graph is unchanged.

    Example:
        >>> import ember
        >>> c = ember.tensor(2.0)
        >>> def f(x):
        ...     unused = x.tanh()
        ...     return (x * c.exp()).relu() + x.exp().sum()
        >>> print(optimize(ember.jit.trace(f, ember.ones(3)).graph))
        ... # doctest: +NORMALIZE_WHITESPACE
        graph(%x0: float32[3]):
            %v2: float32[] = constant(7.3890557)
            %v5: float32[3] = Exp(%x0)
            %v6: float32[] = Sum(%v5, axes=(0,), keepdim=False, dtype=None)  # frees %v5
            %v7: float32[3] = FusedElementwise(%x0, %v2, %v6, body=relu(%x0 * %v2) + %v6)
                # frees %x0, %v2, %v6
            return %v7
    """
    graph = eliminate_dead_code(graph)
    graph = fold_constants(graph)
    graph = eliminate_common_subexpressions(graph)
    graph = eliminate_dead_code(graph)
    graph = fuse_elementwise(graph)
    return plan_memory(graph)
