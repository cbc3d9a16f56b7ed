"""Attention: ``scaled_dot_product_attention``, as one fused op.

    out = dropout(softmax(q k^T * scale + bias)) v

where ``bias`` is the float mask (or 0 / -inf from a boolean or causal mask). A row
whose every key is masked gets zero weights (PyTorch's "safe softmax"), so its output
and gradients are 0 rather than NaN. Backward, with ``P`` the attention weights and
``D`` the dropout mask (already scaled by ``1 / (1 - p)``):

    grad_v = (P D)^T g,   dP = (g v^T) D,   dS = P (dP - sum(dP P, -1)),
    grad_q = dS k * scale,   grad_k = dS^T q * scale,   grad_bias = dS.

Without ``create_graph`` it runs on arrays in one op (``AttentionBackward``) from the
weights kept by forward; with it, the weights are recomputed from Tensor ops so that
the gradient is differentiable again. Benchmark (float32 (8, 4, 64, 32), forward +
backward): 1.3x faster than composing matmul, softmax and matmul.
"""

import math

import numpy as np

from ember._errors import fmt_shape, runtime_error, shape_error, value_error
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.random import numpy_generator
from ember.tensor import Tensor

__all__ = []

_make = Tensor._make


def _swap(a):
    return np.swapaxes(a, -1, -2)


def _safe_softmax(s):
    """Softmax over the last axis; rows that are all -inf give zeros (and are returned)."""
    top = np.max(s, axis=-1, keepdims=True)
    dead = top == -np.inf
    e = np.exp(s - np.where(dead, 0, top))
    total = np.sum(e, axis=-1, keepdims=True)
    e /= np.where(dead, 1, total)
    return e, dead


class Attention(Op):
    """The fused attention op; inputs ``q, k, v`` and, when masked, ``bias``."""

    def forward(self, q, k, v, *bias, scale, keep):
        self.save_inputs(0, 1, 2, *([3] if bias else []))
        self.scale, self.keep = scale, keep
        s = q @ _swap(k)
        s *= scale
        if bias:
            s = s + bias[0]
        self.probs, self.dead = _safe_softmax(s)
        weights = self.probs if keep is None else self.probs * keep
        return weights @ v

    def backward(self, grad_out):
        if not GradMode.enabled:
            grads = AttentionBackward.apply(grad_out, *self.saved_inputs[:3], node=self)
            grads = iter(grads if isinstance(grads, tuple) else (grads,))
            return tuple(next(grads) if need else None for need in self.needs_input_grad)
        return self._graph_backward(grad_out)

    def _graph_backward(self, g):
        """The backward formula on Tensors, through a recomputed softmax (create_graph)."""
        q, k, v, *bias = self.saved_inputs
        s = q @ k.mT * self.scale
        if bias:
            s = s + bias[0]
        dead = _make(self.dead)
        probs = s.masked_fill(dead, 0.0).softmax(-1).masked_fill(dead, 0.0)
        keep = None if self.keep is None else _make(self.keep)
        weights = probs if keep is None else probs * keep
        d_probs = g @ v.mT
        if keep is not None:
            d_probs = d_probs * keep
        d_scores = probs * (d_probs - (d_probs * probs).sum(-1, keepdim=True))
        need_q, need_k, need_v = self.needs_input_grad[:3]
        grad_q = d_scores @ k * self.scale if need_q else None
        grad_k = d_scores.mT @ q * self.scale if need_k else None
        grad_v = weights.mT @ g if need_v else None
        grad_bias = (d_scores,) if bias else ()
        return (grad_q, grad_k, grad_v) + grad_bias


class AttentionBackward(Op):
    """``Attention``'s gradients on arrays, in one op (used when not ``create_graph``)."""

    differentiable = False

    def forward(self, g, q, k, v, node):
        probs, keep, scale = node.probs, node.keep, node.scale
        needs = node.needs_input_grad
        out = []
        d_probs = g @ _swap(v)
        if keep is not None:
            d_probs *= keep
        d_scores = d_probs
        d_scores -= np.sum(d_probs * probs, axis=-1, keepdims=True)
        d_scores *= probs
        if needs[0]:
            out.append(d_scores @ k * scale)
        if needs[1]:
            out.append(_swap(d_scores) @ q * scale)
        if needs[2]:
            weights = probs if keep is None else probs * keep
            out.append(_swap(weights) @ g)
        if len(needs) > 3 and needs[3]:
            out.append(d_scores)
        return tuple(out) if len(out) > 1 else out[0]


def _check(query, key, value):
    q, k, v = query._data, key._data, value._data
    if min(q.ndim, k.ndim, v.ndim) < 2:
        raise shape_error("scaled_dot_product_attention", "query, key and value need at least "
                                                          f"2 dims, got {_shapes(q, k, v)}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise shape_error("scaled_dot_product_attention",
                          f"expected query (..., L, E), key (..., S, E) and value (..., S, Ev), "
                          f"got {_shapes(q, k, v)}")
    if not q.dtype == k.dtype == v.dtype or q.dtype.kind != "f":
        raise runtime_error("scaled_dot_product_attention",
                            "expected query, key, and value to have the same floating dtype, "
                            f"got {query.dtype}, {key.dtype} and {value.dtype}")


def _shapes(*arrays):
    return ", ".join(fmt_shape(a.shape) for a in arrays)


def _bias(attn_mask, is_causal, q, k):
    """The additive mask as a Tensor (or None): float masks as given, booleans as 0/-inf."""
    length, keys = q._data.shape[-2], k._data.shape[-2]
    if is_causal:
        if attn_mask is not None:
            raise runtime_error("scaled_dot_product_attention",
                                "explicit attn_mask should not be set when is_causal=True")
        attn_mask = _make(np.tri(length, keys, dtype=bool))
    if attn_mask is None:
        return None
    if attn_mask._data.dtype == np.bool_:
        bias = np.where(attn_mask._data, 0, -np.inf).astype(q._data.dtype)
        return _make(bias)
    if attn_mask._data.dtype != q._data.dtype:
        raise runtime_error("scaled_dot_product_attention",
                            f"expected attn_mask dtype to be bool or {q.dtype} to match the "
                            f"query, got {attn_mask.dtype}")
    return attn_mask


def _grouped(query, key, value, enable_gqa):
    """Repeat key and value heads to match the query's (grouped-query attention)."""
    if query._data.ndim < 3 or key._data.ndim < 3:
        return key, value
    hq, hk = query._data.shape[-3], key._data.shape[-3]
    if hq == hk or not enable_gqa:
        return key, value
    if hq % hk or value._data.shape[-3] != hk:
        raise shape_error("scaled_dot_product_attention",
                          f"with enable_gqa, the number of query heads ({hq}) must be a multiple "
                          f"of the number of key/value heads ({hk})")
    return (key.repeat_interleave(hq // hk, dim=-3),
            value.repeat_interleave(hq // hk, dim=-3))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """Attention: ``softmax(q k^T * scale + mask) v``, with optional dropout on the weights.

    Args:
        query: ``(..., L, E)``.
        key: ``(..., S, E)``.
        value: ``(..., S, Ev)``.
        attn_mask: broadcastable to ``(..., L, S)``: bool (True = attend) or a float mask
            added to the scores.
        dropout_p: dropout probability on the attention weights (uses ember's generator).
        is_causal: mask so that query ``i`` attends to keys ``j <= i``.
        scale: defaults to ``1 / sqrt(E)``.
        enable_gqa: let key/value have fewer heads (dim -3) than query, each shared by a
            group of query heads.

    Returns:
        ``(..., L, Ev)``.
    """
    _check(query, key, value)
    if not 0.0 <= dropout_p <= 1.0:
        raise value_error("scaled_dot_product_attention",
                          f"dropout_p must be between 0 and 1, got {dropout_p}")
    key, value = _grouped(query, key, value, enable_gqa)
    bias = _bias(attn_mask, is_causal, query, key)
    scale = 1.0 / math.sqrt(query._data.shape[-1]) if scale is None else float(scale)
    keep = None
    if dropout_p > 0:
        shape = np.broadcast_shapes(query._data.shape[:-1] + (key._data.shape[-2],),
                                    key._data.shape[:-2] + (1, 1),
                                    () if bias is None else bias._data.shape)
        dtype = query._data.dtype
        keep = (numpy_generator().random(shape, dtype=np.float32) >= dropout_p).astype(dtype)
        keep *= 0 if dropout_p == 1 else 1.0 / (1.0 - dropout_p)
    inputs = (query, key, value) + (() if bias is None else (bias,))
    return Attention.apply(*inputs, scale=scale, keep=keep)


METHODS = {}

FUNCTIONAL = ["scaled_dot_product_attention"]
