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
backward): 1.3x faster than composing matmul, softmax and matmul. The products run in
BLAS; the scaling, the causal mask (never built as an array) and the softmax, and
backward's ``dS``, run in compiled one-pass loops (``ember.backend.attention_kernels``)
when Numba is there.

``PackedAttention`` is ``MultiheadAttention``'s self-attention in one op: it takes the
packed ``(N, L, 3E)`` in-projection and returns the merged ``(N, L, E)`` heads, which
are strided views on both sides (no split/merge ops or copies; in the ``transformer``
benchmark 10% off an inference call and 2% off a training step).
"""

import functools
import math

import numpy as np

from ember._errors import fmt_shape, runtime_error, shape_error, value_error
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.backend import attention_kernels
from ember.backend.threads import pieces, split
from ember.ops.join import stack
from ember.random import numpy_generator
from ember.tensor import Tensor

__all__ = []

_make = Tensor._make


def _swap(a):
    return np.swapaxes(a, -1, -2)


@functools.lru_cache(maxsize=8)
def _causal_bias(length, keys, dtype):
    """The ``(length, keys)`` additive causal mask: 0 where ``j <= i``, else -inf (read-only,
    shared by every call of that size)."""
    bias = np.where(np.tri(length, keys, dtype=bool), 0, -np.inf).astype(dtype)
    bias.flags.writeable = False
    return bias


def _safe_softmax(s):
    """Softmax over the last axis; rows that are all -inf give zeros."""
    top = np.max(s, axis=-1, keepdims=True)
    dead = top == -np.inf
    e = np.exp(s - np.where(dead, 0, top))
    total = np.sum(e, axis=-1, keepdims=True)
    e /= np.where(dead, 1, total)
    return e


def _weights(s, scale, causal, bias):
    """``softmax(s * scale + bias)`` over the last axis (``s`` is a fresh product, which
    this may overwrite), with the causal mask when ``causal``."""
    if bias is not None:
        if np.broadcast_shapes(bias.shape, s.shape) == s.shape:
            s *= scale
            s += bias
        else:
            s = s * scale + bias
        scale = 1.0
    if attention_kernels.supports(s):
        attention_kernels.softmax_forward(s, scale, causal)
        return s
    if scale != 1.0:
        s *= scale
    if causal:
        s += _causal_bias(*s.shape[-2:], s.dtype)
    return _safe_softmax(s)


def _scores_grad(d_probs, probs):
    """``probs * (d_probs - sum(d_probs * probs, -1))``, overwriting ``d_probs``."""
    if (d_probs.shape == probs.shape and attention_kernels.supports(d_probs)
            and probs.flags.c_contiguous):
        attention_kernels.softmax_backward(d_probs, probs)
        return d_probs
    d_probs -= np.sum(d_probs * probs, axis=-1, keepdims=True)
    d_probs *= probs
    return d_probs


class Attention(Op):
    """The fused attention op; inputs ``q, k, v`` and, when masked, ``bias``."""

    def forward(self, q, k, v, *bias, scale, keep, causal=False):
        self.save_inputs(0, 1, 2, *([3] if bias else []))
        self.scale, self.keep, self.causal = scale, keep, causal
        self.probs = _weights(q @ _swap(k), scale, causal, bias[0] if bias else None)
        weights = self.probs if keep is None else self.probs * keep
        return weights @ v

    def backward(self, grad_out):
        if not GradMode.enabled:
            grads = AttentionBackward.apply(grad_out, *self.saved_inputs[:3], node=self)
            grads = iter(grads if isinstance(grads, tuple) else (grads,))
            return tuple(next(grads) if need else None for need in self.needs_input_grad)
        q, k, v, *bias = self.saved_inputs
        grads = _graph_grads(self, q, k, v, bias[0] if bias else None, grad_out)
        return grads if bias else grads[:3]


def _graph_grads(node, q, k, v, bias, g):
    """The backward formula on Tensors, through a recomputed softmax (create_graph):
    ``(grad_q, grad_k, grad_v, grad_bias)``, None where ``node`` needs none."""
    s = q @ k.mT * node.scale
    if node.causal:
        s = s + _make(_causal_bias(q.shape[-2], k.shape[-2], node.probs.dtype))
    if bias is not None:
        s = s + bias
    dead = _make(~np.any(node.probs, axis=-1, keepdims=True))
    probs = s.masked_fill(dead, 0.0).softmax(-1).masked_fill(dead, 0.0)
    keep = None if node.keep is None else _make(node.keep)
    weights = probs if keep is None else probs * keep
    d_probs = g @ v.mT
    if keep is not None:
        d_probs = d_probs * keep
    d_scores = probs * (d_probs - (d_probs * probs).sum(-1, keepdim=True))
    need_q, need_k, need_v, *need_bias = node.needs_input_grad
    grad_q = d_scores @ k * node.scale if need_q else None
    grad_k = d_scores.mT @ q * node.scale if need_k else None
    grad_v = weights.mT @ g if need_v else None
    return grad_q, grad_k, grad_v, d_scores if need_bias and need_bias[0] else None


def _array_grads(g, q, k, v, probs, keep, scale, needs, out=(None, None, None)):
    """The gradients on arrays from the weights ``probs`` forward kept (and its dropout
    mask ``keep``): ``[grad_q, grad_k, grad_v, grad_bias]`` for the ``needs`` that are
    true, written into ``out``'s arrays if given."""
    d_probs = g @ _swap(v)
    if keep is not None:
        d_probs *= keep
    d_scores = _scores_grad(d_probs, probs)
    grads = []
    if needs[0]:
        grads.append(np.matmul(d_scores, k, out=out[0]))
        grads[-1] *= scale
    if needs[1]:
        grads.append(np.matmul(_swap(d_scores), q, out=out[1]))
        grads[-1] *= scale
    if needs[2]:
        weights = probs if keep is None else probs * keep
        grads.append(np.matmul(_swap(weights), g, out=out[2]))
    if len(needs) > 3 and needs[3]:
        grads.append(d_scores)
    return grads


class AttentionBackward(Op):
    """``Attention``'s gradients on arrays, in one op (used when not ``create_graph``)."""

    differentiable = False

    def forward(self, g, q, k, v, node):
        out = _array_grads(g, q, k, v, node.probs, node.keep, node.scale,
                           node.needs_input_grad)
        return tuple(out) if len(out) > 1 else out[0]


# NOTE [split attention]: without a mask tensor the samples of a batch are independent, so
# attention over at least this many multiply-adds (per product) runs one block of samples
# per thread (``ember.backend.threads``): the products on one BLAS thread each and the
# softmax kernels release the GIL, so the two blocks run at once and nothing spins.
_SPLIT_WORK = 1 << 21


def _blocks(q, k, masked):
    """How many blocks of samples attention over the ``(N, heads, L, D)`` views runs in."""
    if masked:
        return 1
    n, heads, length, dim = q.shape
    return pieces(n, n * heads * length * k.shape[-2] * dim, _SPLIT_WORK)


class PackedAttention(Op):
    """Self-attention on one packed projection ``qkv`` ``(N, L, 3E)`` (``(L, N, 3E)``
    unless ``batch_first``), and, when masked, ``bias`` broadcastable to
    ``(N, heads, L, L)``; output ``(N, L, E)`` (or ``(L, N, E)``).

    ``MultiheadAttention``'s common case in one op: the heads are strided views of
    ``qkv`` and of the output, so splitting and merging them costs neither ops nor
    copies, and backward writes the three gradients straight into one ``qkv``-shaped
    array (the split-heads path ends in a stack, a permute and a reshape copy).
    """

    def forward(self, qkv, *bias, heads, batch_first, scale, causal):
        self.save_inputs(0, *([1] if bias else []))
        self.heads, self.batch_first = heads, batch_first
        self.scale, self.keep, self.causal = scale, None, causal
        q, k, v = _split_heads(qkv, 3, heads, batch_first)
        out = np.empty(qkv.shape[:-1] + (qkv.shape[-1] // 3,), dtype=qkv.dtype)
        merged = _split_heads(out, 1, heads, batch_first)[0]
        count = _blocks(q, k, bool(bias))
        if count == 1:
            self.probs = _weights(q @ _swap(k), scale, causal, bias[0] if bias else None)
            np.matmul(self.probs, v, out=merged)
            return out
        self.probs = np.empty(q.shape[:-1] + k.shape[-2:-1], dtype=qkv.dtype)

        def block(lo, hi):
            probs = self.probs[lo:hi]
            np.matmul(q[lo:hi], _swap(k[lo:hi]), out=probs)
            weights = _weights(probs, scale, causal, None)
            if weights is not probs:  # the NumPy path's softmax is not in place
                probs[...] = weights
            np.matmul(probs, v[lo:hi], out=merged[lo:hi])

        split(block, q.shape[0], count)
        return out

    def backward(self, grad_out):
        qkv, *bias = self.saved_inputs
        if not GradMode.enabled:
            grads = PackedAttentionBackward.apply(grad_out, qkv, node=self)
            grad_qkv, grad_bias = grads if isinstance(grads, tuple) else (grads, None)
        else:
            split_heads = _Heads(self.heads, self.batch_first)
            q, k, v = split_heads.split(qkv, 3)
            *grads, grad_bias = _graph_grads(_Needs(self), q, k, v, bias[0] if bias else None,
                                             split_heads.split(grad_out, 1)[0])
            grad_qkv = split_heads.merge(grads)
        return ((grad_qkv if self.needs_input_grad[0] else None,)
                + ((grad_bias,) if bias else ()))


class _Needs:
    """A packed node seen by ``_graph_grads``: all of q, k and v need gradients."""

    def __init__(self, node):
        self.scale, self.causal, self.keep, self.probs = (node.scale, node.causal, node.keep,
                                                          node.probs)
        self.needs_input_grad = (True, True, True) + tuple(node.needs_input_grad[1:])


class PackedAttentionBackward(Op):
    """``PackedAttention``'s gradients on arrays (used when not ``create_graph``)."""

    differentiable = False

    def forward(self, g, qkv, node):
        heads, batch_first = node.heads, node.batch_first
        grad_qkv = np.empty(qkv.shape, dtype=qkv.dtype)
        into = _split_heads(grad_qkv, 3, heads, batch_first)
        needs = (True, True, True) + tuple(node.needs_input_grad[1:])
        g = _split_heads(g, 1, heads, batch_first)[0]
        q, k, v = _split_heads(qkv, 3, heads, batch_first)
        count = _blocks(q, k, len(needs) > 3)
        if count == 1:
            grads = _array_grads(g, q, k, v, node.probs, None, node.scale, needs, into)
            return (grad_qkv, grads[3]) if len(grads) > 3 else grad_qkv

        def block(lo, hi):
            _array_grads(g[lo:hi], q[lo:hi], k[lo:hi], v[lo:hi], node.probs[lo:hi], None,
                         node.scale, needs, [part[lo:hi] for part in into])

        split(block, q.shape[0], count)
        return grad_qkv


def _split_heads(x, parts, heads, batch_first):
    """Views ``(N, heads, T, D)`` of the ``parts`` thirds of ``x`` ``(N, T, parts * E)``
    (``(T, N, parts * E)`` unless ``batch_first``)."""
    x = x.reshape(x.shape[:2] + (parts, heads, -1))
    order = (0, 2, 1, 3) if batch_first else (1, 2, 0, 3)
    return [x[:, :, i].transpose(order) for i in range(parts)]


class _Heads:
    """``_split_heads`` and its inverse on Tensors (for the differentiable backward)."""

    def __init__(self, heads, batch_first):
        self.heads, self.batch_first = heads, batch_first

    def split(self, x, parts):
        x = x.unflatten(-1, (parts, self.heads, -1))
        x = x.permute(2, 0, 3, 1, 4) if self.batch_first else x.permute(2, 1, 3, 0, 4)
        return x.unbind(0)

    def merge(self, grads):
        """``(grad_q, grad_k, grad_v)`` ``(N, heads, T, D)`` as one ``qkv``-shaped gradient."""
        x = stack(grads)
        x = x.permute(1, 3, 0, 2, 4) if self.batch_first else x.permute(3, 1, 0, 2, 4)
        return x.flatten(-3)


def packed_self_attention(qkv, num_heads, attn_mask=None, is_causal=False, batch_first=True):
    """Self-attention over a packed in-projection (``MultiheadAttention``'s fast path).

    Args:
        qkv: ``(N, L, 3E)`` (``(L, N, 3E)`` unless ``batch_first``): queries, keys and
            values side by side, each ``num_heads`` heads of ``E // num_heads`` features.
        attn_mask: None or a float mask broadcastable to ``(N, num_heads, L, L)``.
        is_causal: mask so that position ``i`` attends to ``j <= i``.

    Returns:
        ``(N, L, E)`` (or ``(L, N, E)``): the heads' outputs, merged.
    """
    e = qkv.shape[-1] // 3
    scale = 1.0 / math.sqrt(e // num_heads)
    inputs = (qkv,) if attn_mask is None else (qkv, attn_mask)
    return PackedAttention.apply(*inputs, heads=num_heads, batch_first=batch_first,
                                 scale=scale, causal=bool(is_causal))


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


def _bias(attn_mask, is_causal, q):
    """The additive mask as a Tensor (or None): float masks as given, booleans as 0/-inf.
    The causal mask is not built: the op applies it."""
    if is_causal and attn_mask is not None:
        raise runtime_error("scaled_dot_product_attention",
                            "explicit attn_mask should not be set when is_causal=True")
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
    bias = _bias(attn_mask, is_causal, query)
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
    return Attention.apply(*inputs, scale=scale, keep=keep, causal=bool(is_causal))


METHODS = {}

FUNCTIONAL = ["scaled_dot_product_attention"]
