"""Array-level rules for ``@traceable`` functions in a ``TrainPlan`` (``train_plan.py``).

A function node normally runs the function on Tensors and its backward through the
engine on the function's own small graph. A function rule does both on arrays:
``FUNCTIONS[name](bound, values)`` gets the node's arguments bound to the function's
parameter names (tensor arguments as ``{"$in": i}``) and the input Values, and returns
``(forward, backward)`` or None when this call is not the case it handles:
``forward(arrays) -> (outputs, record)``, ``backward(record, arrays, grads, send)``.

``cross_entropy``'s usual call (2-D logits, every target a class, no weights, no
smoothing) runs the short path eager's ``CrossEntropy`` takes for it (NOTE [plain
targets] in ``ember/ops/softmax_rows.py``): a few NumPy calls instead of a few tens.
Measured in the plans of the benchmark steps at one thread (CPU time, interleaved, busy
machine): forward and backward 0.21 -> 0.14 ms on ``mlp``'s (128, 10) logits, 0.20 ->
0.13 ms on ``lenet``'s (64, 10).
"""

import numpy as np

from ember.jit.array_backward import FUNCTIONS
from ember.ops.loss import CrossEntropy, CrossEntropyBackward, _class_targets
from ember.ops.softmax_rows import plain_backward, plain_forward, plain_targets
from ember.tensor import Tensor

__all__ = []

_new = object.__new__


def _cross_entropy(bound, values):
    """Class-index targets, no class weights: ``CrossEntropy`` and its array backward."""
    if (bound.get("weight") is not None or bound.get("size_average") is not None
            or bound.get("reduce") is not None or bound["input"] != {"$in": 0}
            or bound["target"] != {"$in": 1} or len(values) != 2):
        return None
    reduction, smoothing = bound["reduction"], bound["label_smoothing"]
    ignore_index = bound["ignore_index"]
    if values[1].dtype.kind not in "iu" or values[0].dtype.kind != "f" \
            or reduction not in ("mean", "sum", "none") or not 0.0 <= smoothing <= 1.0:
        return None
    wrap = Tensor._make

    def forward(arrays):
        x, t = arrays
        if plain_targets(x, t, ignore_index) and not smoothing and reduction != "none":
            op = _new(CrossEntropy)
            return (plain_forward(op, x, t, reduction),), op
        axis, index, valid, per_weight = _class_targets(
            "cross_entropy", wrap(x), wrap(t), None, ignore_index)
        denominator = per_weight.sum()
        scale = 1.0 / denominator if denominator else float("nan")
        op = _new(CrossEntropy)
        out = op.forward(x, axis=axis, index=index, weight=per_weight, valid=valid,
                         smoothing=float(smoothing), class_weight=None, reduction=reduction,
                         scale=scale)
        return (np.asarray(out),), op

    def backward(op, arrays, grads, send):
        if not send[0]:
            return [None, None]
        if op.plain:
            return [plain_backward(op, grads[0]), None]
        grad = _new(CrossEntropyBackward).forward(grads[0], arrays[0], node=op)
        return [grad, None]

    forward.node_class = CrossEntropy  # eager's loss has a CrossEntropy grad_fn
    return forward, backward


FUNCTIONS["cross_entropy"] = _cross_entropy
