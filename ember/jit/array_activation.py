"""Array-level backward of smooth activations (GELU, SiLU, ...) and of packed attention,
for a ``TrainPlan`` (``train_plan.py``).

Both ops' own backward (outside ``create_graph``) already computes on arrays, through a
second op: ``_SmoothGrad.apply`` (``scaled_df``, one fused pass) and
``PackedAttentionBackward.apply``. The plan's generic path wraps the arrays as Tensors
and goes through ``Op.apply`` for it; these rules call the same ``forward`` on the
arrays directly, so the gradients are bitwise the op's.
"""

from ember.jit.array_backward import rule
from ember.ops import _smooth
from ember.ops.attention import PackedAttentionBackward

__all__ = []

_new = object.__new__


def _smooth_ops(cls):
    """``cls`` and its subclasses, all the way down."""
    found = [cls]
    for sub in cls.__subclasses__():
        found += _smooth_ops(sub)
    return found


@rule(*[c.__name__ for c in _smooth_ops(_smooth._Smooth)[1:]])
def _smooth_grad(op, ins, outs, grads, send):
    return [type(op).scaled_df(grads[0], ins[0], **op.params)]


@rule("PackedAttention")
def _packed_attention(op, ins, outs, grads, send):
    # ``PackedAttentionBackward`` reads which inputs need gradients from the node.
    op.next_edges = tuple(True if s else None for s in send)
    found = PackedAttentionBackward.forward(_new(PackedAttentionBackward), grads[0], ins[0],
                                            node=op)
    grad_qkv, grad_bias = found if isinstance(found, tuple) else (found, None)
    return [grad_qkv if send[0] else None] + ([grad_bias] if len(ins) > 1 else [])
