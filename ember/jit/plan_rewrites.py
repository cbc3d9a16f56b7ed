"""Rewrites a ``TrainPlan`` applies to a captured step's nodes before scheduling them.

They change the order of work, never its results: each one gives bitwise the same
outputs and gradients as the graph it replaces. The captured graph itself stays as it
was (the interpreter still replays it when the plan cannot run); a rewrite returns
stand-in nodes that name new values, and leaves the graph's own nodes and values alone.

- ``Relu`` then ``MaxPool`` (a conv layer's usual tail) becomes ``MaxPool`` then ``Relu``:
  ``max`` and ``max(., 0)`` commute, so the ReLU and its backward run on the pooled
  tensor, a quarter of the size with 2x2 windows. The gradients agree too: where a
  window's maximum is positive both pick the same first maximal element, and where it is
  not, the ReLU's slope is 0 either way.
- ``Linear`` then ``Relu``, the product read by nothing else, becomes one ``LinearRelu``
  node (``array_linear.py``): the bias and the ReLU in one pass over the product, in place.
"""

from ember.jit.array_backward import OPS
from ember.jit.graph import Value

__all__ = ["ENABLED", "rewrite"]

# Off: the plan runs the captured nodes as they are (to compare, and in tests).
ENABLED = True


class _Stand:
    """A node of the rewritten list: what the plan reads of a graph ``Node``, and
    ``eager``, the op whose node eager code gives its outputs (their ``grad_fn``)."""

    kind = "call"

    def __init__(self, target, inputs, params, outputs, eager=None):
        self.target, self.inputs, self.params, self.outputs = target, inputs, params, outputs
        self.eager = eager or target


def rewrite(nodes):
    """``nodes`` (a graph's, in order) with the rewrites above applied; a new list."""
    if not ENABLED:
        return list(nodes)
    uses = {}
    for node in nodes:
        for v in node.inputs:
            uses[v] = uses.get(v, 0) + 1
    out, i = [], 0
    while i < len(nodes):
        node = nodes[i]
        after = nodes[i + 1] if i + 1 < len(nodes) else None
        if after is not None and _relu_then_max_pool(node, after, uses):
            out.extend(_swapped(node, after))
            i += 2
            continue
        if after is not None and _linear_then_relu(node, after, uses):
            out.append(_Stand("LinearRelu", node.inputs, {}, after.outputs, eager="Relu"))
            i += 2
            continue
        out.append(node)
        i += 1
    return out


def _relu_then_max_pool(relu, pool, uses):
    if relu.kind != "call" or pool.kind != "call" or relu.target != "Relu" \
            or pool.target != "MaxPool" or pool.params.get("return_indices"):
        return False
    mid = relu.outputs[0]
    return pool.inputs == [mid] and uses.get(mid) == 1 and len(pool.outputs) == 1 \
        and mid.dtype.kind == "f"


def _linear_then_relu(linear, relu, uses):
    if linear.kind != "call" or relu.kind != "call" or linear.target != "Linear" \
            or relu.target != "Relu" or linear.params or "LinearRelu" not in OPS:
        return False
    if relu.params.get("into") or set(relu.params) - {"into"}:
        return False  # relu_ in place: left as it is
    mid = linear.outputs[0]
    return relu.inputs == [mid] and uses.get(mid) == 1 and mid.dtype.kind == "f"


def _swapped(relu, pool):
    (x,), (out,) = relu.inputs, pool.outputs
    pooled = Value(f"{out.name}_pooled", out.shape, out.dtype)
    return [_Stand("MaxPool", [x], pool.params, [pooled]),
            _Stand("Relu", [pooled], relu.params, [out], eager="MaxPool")]
