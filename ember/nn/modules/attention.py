"""``MultiheadAttention``: attention over ``num_heads`` learned projections of query, key
and value (Vaswani et al., "Attention Is All You Need").

    head_i = softmax((q W_i^Q)(k W_i^K)^T / sqrt(d) + mask) (v W_i^V)
    out = concat(head_1, ..., head_h) W^O + b^O

Parameter names, shapes and initialization are PyTorch's, so state dicts move between
the two. Without ``need_weights`` the heads run through the fused
``F.scaled_dot_product_attention``; with it, through an explicit softmax whose weights
are returned. Self-attention (``query is key is value``) with the packed projection and
no dropout, appended keys or weights takes a shorter path (like PyTorch's fast path):
in-projection, one ``PackedAttention`` op over the packed heads, out-projection.
"""

import math
import warnings

from ember._dtype import bool as bool_
from ember.creation import empty, zeros, zeros_like
from ember.nn import functional as F
from ember.nn import init
from ember.nn.module import Module
from ember.nn.modules.linear import Linear
from ember.nn.parameter import Parameter
from ember.ops.attention import packed_self_attention
from ember.ops.join import cat

__all__ = ["MultiheadAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """A ``Linear``; PyTorch's class name for ``MultiheadAttention.out_proj`` (kept so that
    ``repr`` and type checks match)."""


class MultiheadAttention(Module):
    """Attention with ``num_heads`` heads of ``embed_dim // num_heads`` features each.

    Args:
        embed_dim: the model's feature size ``E`` (the query's last dimension).
        num_heads: the number of heads; must divide ``embed_dim``.
        dropout: dropout probability on the attention weights (in training).
        bias: learn biases for the input and output projections.
        add_bias_kv: learn one extra key and value appended to every sequence.
        add_zero_attn: append a key and value of zeros to every sequence.
        kdim, vdim: the key's and value's feature sizes (default ``embed_dim``); when
            either differs, the projections are ``q_proj_weight``, ``k_proj_weight``,
            ``v_proj_weight`` instead of one packed ``in_proj_weight``.
        batch_first: inputs and outputs are ``(N, L, E)`` rather than ``(L, N, E)``.
        device, dtype: where and in which dtype the parameters are made (CPU only).

    Attributes:
        in_proj_weight: ``(3E, E)``, Xavier-uniform; in_proj_bias: ``(3E,)``, zeros.
        out_proj: ``Linear(E, E)`` with a zero bias.
        bias_k, bias_v: ``(1, 1, E)``, Xavier-normal (with ``add_bias_kv``).

    Example:
        >>> import ember
        >>> mha = MultiheadAttention(16, 4, batch_first=True)
        >>> x = ember.randn(2, 5, 16)
        >>> out, weights = mha(x, x, x)
        >>> out.shape, weights.shape
        (ember.Size([2, 5, 16]), ember.Size([2, 5, 5]))
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        super().__init__()
        make = {"device": device, "dtype": dtype}
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        separate = ("q_proj_weight", "k_proj_weight", "v_proj_weight")
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty((3 * embed_dim, embed_dim), **make))
            for name in separate:
                self.register_parameter(name, None)
        else:
            for name, dim in zip(separate, (embed_dim, self.kdim, self.vdim)):
                self.register_parameter(name, Parameter(empty((embed_dim, dim), **make)))
            self.register_parameter("in_proj_weight", None)
        self.register_parameter("in_proj_bias", Parameter(empty(3 * embed_dim, **make))
                                if bias else None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **make)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, embed_dim), **make))
            self.bias_v = Parameter(empty((1, 1, embed_dim), **make))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        """Attend from ``query`` to ``key``/``value``.

        Args:
            query: ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``) or unbatched ``(L, E)``.
            key: ``(S, N, kdim)`` (``(N, S, kdim)``) or ``(S, kdim)``.
            value: ``(S, N, vdim)`` (``(N, S, vdim)``) or ``(S, vdim)``.
            key_padding_mask: ``(N, S)`` (``(S,)`` unbatched): bool, True = ignore that
                key; or float, added to the scores.
            need_weights: also return the attention weights.
            attn_mask: ``(L, S)`` or ``(N * num_heads, L, S)``: bool, True = not allowed
                to attend; or float, added to the scores.
            average_attn_weights: average the returned weights over the heads.
            is_causal: a hint that ``attn_mask`` is the causal mask (which must be given).

        Returns:
            ``(attn_output, attn_weights)``: the output shaped like ``query`` with ``E``
            features, and the weights ``(N, L, S)`` (``(N, num_heads, L, S)`` when not
            averaged; without the ``N`` unbatched), or None without ``need_weights``.
        """
        # The registered parameters, read from their dicts: ``Module.__getattr__`` costs
        # ~0.4 us a name, a third of this call's overhead on the transformer benchmark.
        params, out_proj = self._parameters, self._modules["out_proj"]._parameters
        return _multi_head_attention(
            query, key, value, self.embed_dim, self.num_heads, params["in_proj_bias"],
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, out_proj["weight"],
            out_proj["bias"], training=self.training, key_padding_mask=key_padding_mask,
            need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            average_attn_weights=average_attn_weights, is_causal=is_causal,
            batch_first=self.batch_first and query._data.ndim == 3,
            in_proj_weight=params["in_proj_weight"], q_proj_weight=params["q_proj_weight"],
            k_proj_weight=params["k_proj_weight"], v_proj_weight=params["v_proj_weight"])

    def merge_masks(self, attn_mask, key_padding_mask, query):
        """Combine the masks as PyTorch's fused path takes them: ``key_padding_mask``
        alone is returned as is (type 1); with ``attn_mask``, both are expanded to
        ``(N, num_heads, L, L)`` and added (type 2). Masks are expected in float form."""
        if attn_mask is None:
            return key_padding_mask, None if key_padding_mask is None else 1
        n, length = query.shape[0], query.shape[1]
        if attn_mask.dim() == 3:
            merged = attn_mask.view(n, -1, length, length)
        else:
            merged = attn_mask.view(1, 1, length, length).expand(n, self.num_heads, -1, -1)
        if key_padding_mask is not None:
            merged = merged + key_padding_mask.view(n, 1, 1, length).expand(
                -1, self.num_heads, -1, -1)
        return merged, 2


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """The functional form of ``MultiheadAttention`` (PyTorch's
    ``F.multi_head_attention_forward``), on sequence-first ``(L, N, E)`` inputs.

    Args are the module's parameters and ``forward`` arguments; ``static_k`` and
    ``static_v`` (precomputed per-head keys and values) are not supported.

    Returns:
        ``(attn_output, attn_weights or None)``.
    """
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k and static_v are "
                                  "not supported by ember")
    return _multi_head_attention(
        query, key, value, embed_dim_to_check, num_heads, in_proj_bias, bias_k, bias_v,
        add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, training=training,
        key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
        use_separate_proj_weight=use_separate_proj_weight,
        average_attn_weights=average_attn_weights, is_causal=is_causal, batch_first=False,
        in_proj_weight=in_proj_weight, q_proj_weight=q_proj_weight,
        k_proj_weight=k_proj_weight, v_proj_weight=v_proj_weight)


def _multi_head_attention(query, key, value, embed_dim, num_heads, in_proj_bias, bias_k,
                          bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias, *,
                          training, key_padding_mask, need_weights, attn_mask,
                          use_separate_proj_weight, average_attn_weights, is_causal,
                          batch_first, in_proj_weight, q_proj_weight, k_proj_weight,
                          v_proj_weight):
    """Multi-head attention on ``(L, N, E)`` inputs, or ``(N, L, E)`` with ``batch_first``
    (kept in that layout, without transposing)."""
    batched = _check_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    self_attention = query is key and key is value
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    batch_axis = 0 if batch_first else 1
    n, length = query._data.shape[batch_axis], query._data.shape[1 - batch_axis]
    src_len = key._data.shape[1 - batch_axis]
    attn_mask, key_padding_mask, is_causal = _float_masks(
        attn_mask, key_padding_mask, query.dtype, is_causal, need_weights)
    _check_dims(query, key, value, embed_dim, num_heads, use_separate_proj_weight)
    _check_attn_mask(attn_mask, n * num_heads, length, src_len)
    dropout_p = dropout_p if training else 0.0
    if _packed_self_attention_applies(self_attention, use_separate_proj_weight, bias_k,
                                      add_zero_attn, dropout_p, need_weights):
        out = _packed_self_attention(query, in_proj_weight, in_proj_bias, out_proj_weight,
                                     out_proj_bias, num_heads, attn_mask, key_padding_mask,
                                     is_causal, batch_first)
        return (out if batched else out.squeeze(1)), None
    layout = _Layout(n, num_heads, embed_dim // num_heads, batch_first)
    if use_separate_proj_weight:
        q, k, v = _project_separately(query, key, value, (q_proj_weight, k_proj_weight,
                                                          v_proj_weight), in_proj_bias, layout)
    else:
        q, k, v = _project_packed(query, key, value, in_proj_weight, in_proj_bias, layout)
    k, v, extra = _extend_keys(k, v, bias_k, bias_v, add_zero_attn, layout)
    mask = _merge(attn_mask, key_padding_mask, layout, src_len, extra)
    if need_weights:
        out, weights = _attend_with_weights(q, k, v, mask, dropout_p)
        weights = weights.mean(dim=1) if average_attn_weights else weights
    else:
        out = F.scaled_dot_product_attention(q, k, v, mask, dropout_p, is_causal)
        weights = None
    out = F.linear(layout.merge_heads(out), out_proj_weight, out_proj_bias)
    if not batched:
        out = out.squeeze(1)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights


def _packed_self_attention_applies(self_attention, separate, bias_k, add_zero_attn,
                                   dropout_p, need_weights):
    """Whether the one-op path applies: self-attention through the packed projection,
    with nothing appended to the keys, no dropout and no weights to return."""
    return (self_attention and not separate and bias_k is None
            and not add_zero_attn and dropout_p == 0.0 and not need_weights)


def _packed_self_attention(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias,
                           num_heads, attn_mask, key_padding_mask, is_causal, batch_first):
    """Self-attention as three ops: the in-projection, ``PackedAttention`` (heads split and
    merged as views), the out-projection."""
    mask = None
    if attn_mask is not None or key_padding_mask is not None:
        shape = x._data.shape
        layout = _Layout(shape[0 if batch_first else 1], num_heads, shape[-1] // num_heads,
                         batch_first)
        mask = _merge(attn_mask, key_padding_mask, layout, shape[1 if batch_first else 0], 0)
    qkv = F.linear(x, in_proj_weight, in_proj_bias)
    out = packed_self_attention(qkv, num_heads, mask, is_causal, batch_first)
    return F.linear(out, out_proj_weight, out_proj_bias)


def _float_masks(attn_mask, key_padding_mask, dtype, is_causal, need_weights):
    """Both masks in float form, and whether the fused kernel may apply the causal mask
    itself (then ``attn_mask`` is dropped, as PyTorch does)."""
    other = None if attn_mask is None else attn_mask.dtype
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", dtype, other,
                                       "attn_mask")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        return None, None, True
    # Padding makes the merged mask non-causal; the explicit path uses the mask as given.
    attn_mask = _canonical_mask(attn_mask, "attn_mask", dtype)
    return attn_mask, key_padding_mask, is_causal and key_padding_mask is None


class _Layout:
    """Moves tensors between the caller's layout, ``(T, N, E)`` or ``(N, T, E)``, and the
    per-head layout ``(N, heads, T, head_dim)``."""

    def __init__(self, n, heads, head_dim, batch_first):
        self.n, self.heads, self.head_dim = n, heads, head_dim
        self.batch_first = batch_first

    def split_heads(self, x, parts=1):
        """``(T, N, parts * E)`` (or batch first) as ``parts`` tensors ``(N, H, T, D)``."""
        x = x.unflatten(-1, (parts, self.heads, self.head_dim))
        x = x.permute(2, 0, 3, 1, 4) if self.batch_first else x.permute(2, 1, 3, 0, 4)
        return x.unbind(0)

    def merge_heads(self, x):
        """``(N, H, T, D)`` back to ``(T, N, E)`` (or ``(N, T, E)``)."""
        x = x.permute(0, 2, 1, 3) if self.batch_first else x.permute(2, 0, 1, 3)
        return x.reshape(*x.shape[:2], self.heads * self.head_dim)


def _project_packed(query, key, value, weight, bias, layout):
    """The in-projection with one ``(3E, E)`` weight: one matrix product for self-attention."""
    if query is key and key is value:
        return layout.split_heads(F.linear(query, weight, bias), 3)
    e = query.shape[-1]
    w_q, w_k, w_v = weight.split(e)
    b_q, b_k, b_v = (None,) * 3 if bias is None else bias.split(e)
    if key is value:
        w_kv = weight.split([e, 2 * e])[1]
        b_kv = None if bias is None else bias.split([e, 2 * e])[1]
        (q,) = layout.split_heads(F.linear(query, w_q, b_q))
        return (q,) + tuple(layout.split_heads(F.linear(key, w_kv, b_kv), 2))
    return tuple(layout.split_heads(F.linear(x, w, b))[0]
                 for x, w, b in ((query, w_q, b_q), (key, w_k, b_k), (value, w_v, b_v)))


def _project_separately(query, key, value, proj_weights, in_proj_bias, layout):
    """The in-projection with separate weights (``kdim`` or ``vdim`` differ from ``E``)."""
    if any(w is None for w in proj_weights):
        raise AssertionError("use_separate_proj_weight is True but q_proj_weight, "
                             "k_proj_weight or v_proj_weight is None")
    e = query.shape[-1]
    biases = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
    out = []
    for x, w, b, name in zip((query, key, value), proj_weights, biases,
                             ("query", "key", "value")):
        if tuple(w.shape) != (e, x.shape[-1]):
            raise AssertionError(f"expecting {name} weights shape of {(e, x.shape[-1])}, but "
                                 f"got {w.shape}")
        out.append(layout.split_heads(F.linear(x, w, b))[0])
    return tuple(out)


def _extend_keys(k, v, bias_k, bias_v, add_zero_attn, layout):
    """Append the learned key/value (``add_bias_kv``) and a zero key/value
    (``add_zero_attn``) to every sequence; returns ``(k, v, number appended)``."""
    if (bias_k is None) != (bias_v is None):
        raise AssertionError("bias_k and bias_v must both be set or both be None")
    extra = 0
    if bias_k is not None:
        k = cat([k, _per_head(bias_k, layout)], dim=2)
        v = cat([v, _per_head(bias_v, layout)], dim=2)
        extra += 1
    if add_zero_attn:
        shape = (layout.n, layout.heads, 1, layout.head_dim)
        k = cat([k, zeros(shape, dtype=k.dtype)], dim=2)
        v = cat([v, zeros(shape, dtype=v.dtype)], dim=2)
        extra += 1
    return k, v, extra


def _per_head(bias, layout):
    """A ``(1, 1, E)`` learned key or value as ``(N, H, 1, D)``."""
    return bias.reshape(1, layout.heads, 1, layout.head_dim).expand(layout.n, -1, -1, -1)


def _merge(attn_mask, key_padding_mask, layout, src_len, extra):
    """The additive float mask, broadcastable to ``(N, H, L, S)``, or None.

    Keys appended by ``add_bias_kv``/``add_zero_attn`` are never masked.
    """
    if attn_mask is not None:
        if attn_mask.dim() == 3:
            attn_mask = attn_mask.view(layout.n, layout.heads, *attn_mask.shape[1:])
        if extra:
            attn_mask = F.pad(attn_mask, (0, extra))
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (layout.n, src_len):
            which, want, got = ((0, layout.n, key_padding_mask.shape[0])
                                if key_padding_mask.shape[0] != layout.n
                                else (1, src_len + extra, key_padding_mask.shape[1] + extra))
            raise AssertionError(f"Expected key_padded_mask.shape[{which}] to be {want}, but "
                                 f"got {got}")
        if extra:
            key_padding_mask = F.pad(key_padding_mask, (0, extra))
        key_padding_mask = key_padding_mask.view(layout.n, 1, 1, -1)
        if attn_mask is None:
            return key_padding_mask
        return attn_mask + key_padding_mask
    return attn_mask


def _attend_with_weights(q, k, v, mask, dropout_p):
    """Attention through an explicit softmax, returning the per-head weights
    ``(N, H, L, S)`` as well (rows with every key masked give NaN, as in PyTorch)."""
    scores = (q * math.sqrt(1.0 / q.shape[-1])) @ k.mT
    if mask is not None:
        scores = scores + mask
    weights = F.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return weights @ v, weights


def _canonical_mask(mask, name, dtype, other_dtype=None, other_name=""):
    """A bool mask (True = masked) as a float mask of 0 / -inf in ``dtype``; float masks
    pass through."""
    if mask is None:
        return None
    floating = mask.dtype.is_floating_point
    if not floating and mask.dtype != bool_:
        raise AssertionError(f"only bool and floating types of {name} are supported")
    if other_dtype is not None and mask.dtype != other_dtype:
        warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. Use "
                      "same type for both instead.", stacklevel=3)
    if floating:
        return mask
    return zeros_like(mask, dtype=dtype).masked_fill_(mask, float("-inf"))


def _check_shapes(query, key, value, key_padding_mask, attn_mask, num_heads):
    """PyTorch's shape rules for batched (3-D) and unbatched (2-D) inputs; returns
    whether the input is batched."""
    dims = query.dim()
    if dims not in (2, 3):
        raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                             f"{dims}-D query tensor")
    kind = "batched (3-D)" if dims == 3 else "unbatched (2-D)"
    if key.dim() != dims or value.dim() != dims:
        raise AssertionError(f"For {kind} `query`, expected `key` and `value` to be {dims}-D "
                             f"but found {key.dim()}-D and {value.dim()}-D tensors "
                             "respectively")
    if key_padding_mask is not None and key_padding_mask.dim() != dims - 1:
        raise AssertionError(f"For {kind} `query`, expected `key_padding_mask` to be `None` "
                             f"or {dims - 1}-D but found {key_padding_mask.dim()}-D tensor "
                             "instead")
    if attn_mask is not None:
        if attn_mask.dim() not in (2, 3):
            raise AssertionError(f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D "
                                 f"or 3-D but found {attn_mask.dim()}-D tensor instead")
        expected = (num_heads, query.shape[0], key.shape[0])
        if dims == 2 and attn_mask.dim() == 3 and tuple(attn_mask.shape) != expected:
            raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                 f"{attn_mask.shape}")
    return dims == 3


def _check_dims(query, key, value, embed_dim, num_heads, separate):
    if query._data.shape[-1] != embed_dim:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim}, but got "
                             f"{query.shape[-1]}")
    if embed_dim // num_heads * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if separate and key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match "
                             f"value's {value.shape[:2]}")
    if not separate and key._data.shape != value._data.shape:
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")


def _check_attn_mask(attn_mask, batch_heads, length, src_len):
    if attn_mask is None:
        return
    shape = tuple(attn_mask.shape)
    if attn_mask.dim() == 2 and shape != (length, src_len):
        raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                           f"{(length, src_len)}.")
    if attn_mask.dim() == 3 and shape != (batch_heads, length, src_len):
        raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                           f"{(batch_heads, length, src_len)}.")
