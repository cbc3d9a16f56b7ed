"""The Transformer (Vaswani et al., "Attention Is All You Need") and its parts:
``TransformerEncoderLayer``, ``TransformerEncoder``, ``TransformerDecoderLayer``,
``TransformerDecoder`` and ``Transformer``.

Submodule names are PyTorch's (``self_attn``, ``linear1``, ``norm1``, ``layers.0``, ...),
so state dicts move between the two. A post-norm encoder layer computes

    x = norm1(x + dropout1(self_attn(x)))
    x = norm2(x + dropout2(linear2(dropout(activation(linear1(x))))))

and a pre-norm one (``norm_first``) ``x = x + block(norm(x))`` for each block.
"""

import copy

from ember.creation import full
from ember.nn import functional as F
from ember.nn import init
from ember.nn.containers import ModuleList
from ember.nn.module import Module
from ember.nn.modules.activation import GELU, ReLU
from ember.nn.modules.attention import MultiheadAttention, _canonical_mask
from ember.nn.modules.dropout import Dropout
from ember.nn.modules.linear import Linear
from ember.nn.modules.normalization import LayerNorm
from ember.ops.rearrange import triu

__all__ = ["Transformer", "TransformerDecoder", "TransformerDecoderLayer",
           "TransformerEncoder", "TransformerEncoderLayer"]


def _generate_square_subsequent_mask(sz, device=None, dtype=None):
    """``(sz, sz)`` float mask: 0 on and below the diagonal, ``-inf`` above it."""
    return triu(full((sz, sz), float("-inf"), dtype=dtype, device=device), diagonal=1)


def _get_activation_fn(activation):
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


def _get_clones(module, n):
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _get_seq_len(src, batch_first):
    if src.dim() == 2:
        return src.shape[0]
    return src.shape[1 if batch_first else 0]


def _detect_is_causal_mask(mask, is_causal=None, size=None):
    """``is_causal`` if given; when None, whether ``mask`` is exactly the causal mask."""
    if is_causal is not None or mask is None:
        return is_causal is True
    size = size if size is not None else mask.shape[-2]
    causal = _generate_square_subsequent_mask(size, dtype=mask.dtype)
    return mask.shape == causal.shape and bool((mask == causal).all())


class TransformerEncoderLayer(Module):
    """Self-attention followed by a feed-forward network, each with a residual connection
    and layer normalization (after the residual sum, or before each block with
    ``norm_first``).

    Args:
        d_model: the number of features ``E``.
        nhead: the number of attention heads.
        dim_feedforward: the hidden size of the feed-forward network.
        dropout: dropout probability (attention weights, feed-forward and residuals).
        activation: ``"relu"``, ``"gelu"`` or a callable (a function or a module).
        layer_norm_eps: ``eps`` of the layer norms.
        batch_first: inputs and outputs are ``(N, S, E)`` rather than ``(S, N, E)``.
        norm_first: normalize before each block (pre-norm) instead of after.
        bias: learn biases in the linear layers and layer norms.
        device, dtype: where and in which dtype the parameters are made (CPU only).

    Example:
        >>> import ember
        >>> layer = TransformerEncoderLayer(d_model=16, nhead=4, batch_first=True)
        >>> layer(ember.randn(2, 5, 16)).shape
        ember.Size([2, 5, 16])
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        make = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **make)
        _feed_forward(self, d_model, dim_feedforward, dropout, bias, make)
        self.norm_first = norm_first
        _norms_and_dropouts(self, 2, d_model, layer_norm_eps, bias, dropout, make)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        self.activation_relu_or_gelu = (
            1 if activation is F.relu or isinstance(activation, ReLU) else
            2 if activation is F.gelu or isinstance(activation, GELU) else 0)
        self.activation = activation

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """Args:
            src: ``(S, N, E)`` (``(N, S, E)`` with ``batch_first``) or unbatched ``(S, E)``.
            src_mask: ``(S, S)`` or ``(N * nhead, S, S)``: bool (True = not allowed) or
                float (added to the attention scores).
            src_key_padding_mask: ``(N, S)`` (``(S,)`` unbatched): True marks padding.
            is_causal: a hint that ``src_mask`` is the causal mask.

        Returns:
            A tensor shaped like ``src``.
        """
        src_key_padding_mask = _canonical_mask(
            src_key_padding_mask, "src_key_padding_mask", src.dtype,
            None if src_mask is None else src_mask.dtype, "src_mask")
        src_mask = _canonical_mask(src_mask, "src_mask", src.dtype)
        if _runs_as_ops(self):
            return _encoder_layer_ops(self, src, src_mask, src_key_padding_mask, is_causal)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


# NOTE [encoder layer as ops]: a layer whose dropouts are identities (eval mode, or p = 0),
# whose submodules are the plain classes without hooks, and whose ``_sa_block`` and
# ``_ff_block`` are not overridden computes exactly what its submodule calls would, as
# the functional ops alone: no call of the three dropouts, of the norms and linears as
# modules, of ``MultiheadAttention.__call__``. The ops, and so the autograd graph and a
# trace, are the same. Like PyTorch's fast path (``torch._transformer_encoder_layer_fwd``)
# but not only for inference. Measured on the ``infer-transformer`` benchmark (one
# thread, CPU time, interleaved): ~20 us less per layer call, 3% of the call.
_PLAIN = (("norm1", LayerNorm), ("norm2", LayerNorm), ("linear1", Linear),
          ("linear2", Linear), ("self_attn", MultiheadAttention))
_DROPOUTS = ("dropout", "dropout1", "dropout2")


def _runs_as_ops(layer):
    """Whether ``layer`` may run as ``_encoder_layer_ops`` (NOTE [encoder layer as ops])."""
    cls = type(layer)
    if (cls._sa_block is not TransformerEncoderLayer._sa_block
            or cls._ff_block is not TransformerEncoderLayer._ff_block
            or "_sa_block" in layer.__dict__ or "_ff_block" in layer.__dict__):
        return False  # a subclass (or a patch) changed a block: run the blocks
    modules = layer._modules  # read directly: ``Module.__getattr__`` costs ~0.4 us a name
    for name, kind in _PLAIN:
        m = modules.get(name)
        if type(m) is not kind or m._forward_hooks or m._forward_pre_hooks:
            return False
    for name in _DROPOUTS:
        m = modules.get(name)
        if (type(m) is not Dropout or m._forward_hooks or m._forward_pre_hooks
                or (m.training and m.p != 0)):
            return False
    attn = modules["self_attn"]
    return not (attn.training and attn.dropout != 0)


def _encoder_layer_ops(layer, x, mask, key_padding_mask, is_causal):
    """``TransformerEncoderLayer.forward`` as its ops (NOTE [encoder layer as ops])."""
    modules = layer._modules
    attn, activation = modules["self_attn"], layer.activation

    def attend(h):
        return attn.forward(h, h, h, attn_mask=mask, key_padding_mask=key_padding_mask,
                            need_weights=False, is_causal=is_causal)[0]

    def feed_forward(h):
        return _linear(modules["linear2"], activation(_linear(modules["linear1"], h)))

    norm1, norm2 = modules["norm1"], modules["norm2"]
    if layer.norm_first:
        x = x + attend(_layer_norm(norm1, x))
        return x + feed_forward(_layer_norm(norm2, x))
    x = _layer_norm(norm1, x + attend(x))
    return _layer_norm(norm2, x + feed_forward(x))


def _layer_norm(norm, x):
    params = norm._parameters
    return F.layer_norm(x, norm.normalized_shape, params["weight"], params["bias"], norm.eps)


def _linear(linear, x):
    params = linear._parameters
    return F.linear(x, params["weight"], params["bias"])


class TransformerDecoderLayer(Module):
    """Self-attention, attention over the encoder's output (``memory``), then a
    feed-forward network, each with a residual connection and layer normalization.

    Args: as ``TransformerEncoderLayer``.

    Example:
        >>> import ember
        >>> layer = TransformerDecoderLayer(d_model=16, nhead=4)
        >>> layer(ember.randn(5, 2, 16), ember.randn(7, 2, 16)).shape
        ember.Size([5, 2, 16])
    """

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation=F.relu,
                 layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True,
                 device=None, dtype=None):
        super().__init__()
        make = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                            batch_first=batch_first, bias=bias, **make)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                                 batch_first=batch_first, bias=bias, **make)
        _feed_forward(self, d_model, dim_feedforward, dropout, bias, make)
        self.norm_first = norm_first
        _norms_and_dropouts(self, 3, d_model, layer_norm_eps, bias, dropout, make)
        self.activation = (_get_activation_fn(activation) if isinstance(activation, str)
                           else activation)

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        """Args:
            tgt: ``(T, N, E)`` (``(N, T, E)`` with ``batch_first``) or unbatched ``(T, E)``.
            memory: the encoder's output, ``(S, N, E)`` (``(N, S, E)``) or ``(S, E)``.
            tgt_mask, memory_mask: ``(T, T)`` and ``(T, S)`` attention masks (or 3-D per
                head), bool (True = not allowed) or float (added to the scores).
            tgt_key_padding_mask, memory_key_padding_mask: ``(N, T)`` and ``(N, S)``.
            tgt_is_causal, memory_is_causal: hints that the masks are causal.

        Returns:
            A tensor shaped like ``tgt``.
        """
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                   tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask,
                                              tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask,
                                               memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal=False):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]
        return self.dropout1(x)

    def _mha_block(self, x, mem, attn_mask, key_padding_mask, is_causal=False):
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


def _feed_forward(layer, d_model, dim_feedforward, dropout, bias, make):
    """``linear1``, ``dropout``, ``linear2``, registered in PyTorch's order."""
    layer.linear1 = Linear(d_model, dim_feedforward, bias=bias, **make)
    layer.dropout = Dropout(dropout)
    layer.linear2 = Linear(dim_feedforward, d_model, bias=bias, **make)


def _norms_and_dropouts(layer, n, d_model, eps, bias, dropout, make):
    """``norm1..n`` then ``dropout1..n``, registered in PyTorch's order."""
    for i in range(1, n + 1):
        setattr(layer, f"norm{i}", LayerNorm(d_model, eps=eps, bias=bias, **make))
    for i in range(1, n + 1):
        setattr(layer, f"dropout{i}", Dropout(dropout))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` (deep copies, ``layers.0``
    ...), then ``norm`` if given.

    Args:
        encoder_layer: the layer to copy.
        num_layers: how many copies.
        norm: an optional module applied to the output (a ``LayerNorm``).
        enable_nested_tensor, mask_check: accepted for PyTorch compatibility; ember has
            no nested-tensor fast path, so they change nothing.

    Example:
        >>> import ember
        >>> layer = TransformerEncoderLayer(d_model=16, nhead=4)
        >>> TransformerEncoder(layer, num_layers=2)(ember.randn(5, 2, 16)).shape
        ember.Size([5, 2, 16])
    """

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True,
                 mask_check=True):
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = False
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        """Args:
            src: ``(S, N, E)`` (``(N, S, E)`` with ``batch_first``) or ``(S, E)``.
            mask: the attention mask, ``(S, S)`` or ``(N * nhead, S, S)``.
            src_key_padding_mask: ``(N, S)``; True marks padding.
            is_causal: whether ``mask`` is causal; None means: detect it.

        Returns:
            A tensor shaped like ``src``.
        """
        src_key_padding_mask = _canonical_mask(
            src_key_padding_mask, "src_key_padding_mask", src.dtype,
            None if mask is None else mask.dtype, "mask")
        mask = _canonical_mask(mask, "mask", src.dtype)
        if is_causal is None and mask is not None:  # only then is the length needed
            seq_len = _get_seq_len(src, self.layers[0].self_attn.batch_first)
            is_causal = _detect_is_causal_mask(mask, None, seq_len)
        is_causal = is_causal is True
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, is_causal=is_causal,
                           src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer``, then ``norm`` if given.

    Example:
        >>> import ember
        >>> layer = TransformerDecoderLayer(d_model=16, nhead=4)
        >>> decoder = TransformerDecoder(layer, num_layers=2)
        >>> decoder(ember.randn(5, 2, 16), ember.randn(7, 2, 16)).shape
        ember.Size([5, 2, 16])
    """

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        """Args: as ``TransformerDecoderLayer.forward``; ``tgt_is_causal=None`` detects
        whether ``tgt_mask`` is causal.

        Returns:
            A tensor shaped like ``tgt``.
        """
        seq_len = _get_seq_len(tgt, self.layers[0].self_attn.batch_first)
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal, seq_len)
        output = tgt
        for layer in self.layers:
            output = layer(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                           tgt_key_padding_mask=tgt_key_padding_mask,
                           memory_key_padding_mask=memory_key_padding_mask,
                           tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """An encoder-decoder Transformer: ``decoder(tgt, encoder(src))``, each stack ending in
    a ``LayerNorm``; weight matrices start Xavier-uniform.

    Args:
        d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
        batch_first, norm_first, bias: as ``TransformerEncoderLayer``.
        num_encoder_layers, num_decoder_layers: the depth of each stack.
        custom_encoder, custom_decoder: modules used instead of the default stacks.
        device, dtype: where and in which dtype the parameters are made (CPU only).

    Example:
        >>> import ember
        >>> model = Transformer(d_model=16, nhead=4, num_encoder_layers=1,
        ...                     num_decoder_layers=1, dim_feedforward=32)
        >>> model(ember.randn(7, 2, 16), ember.randn(5, 2, 16)).shape
        ember.Size([5, 2, 16])
    """

    def __init__(self, d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
                 dim_feedforward=2048, dropout=0.1, activation=F.relu, custom_encoder=None,
                 custom_decoder=None, layer_norm_eps=1e-5, batch_first=False,
                 norm_first=False, bias=True, device=None, dtype=None):
        super().__init__()
        make = {"device": device, "dtype": dtype}
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*args, **make), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **make))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*args, **make), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **make))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        """Encode ``src`` and decode ``tgt`` against it.

        Args:
            src: ``(S, N, E)`` (``(N, S, E)`` with ``batch_first``) or ``(S, E)``.
            tgt: ``(T, N, E)`` (``(N, T, E)``) or ``(T, E)``.
            src_mask, tgt_mask, memory_mask: ``(S, S)``, ``(T, T)``, ``(T, S)`` masks.
            src_key_padding_mask, tgt_key_padding_mask, memory_key_padding_mask:
                ``(N, S)``, ``(N, T)``, ``(N, S)``; True marks padding.
            src_is_causal, tgt_is_causal, memory_is_causal: causal-mask hints.

        Returns:
            ``(T, N, E)`` (``(N, T, E)`` with ``batch_first``).
        """
        batched = src.dim() == 3
        batch_axis = 0 if self.batch_first else 1
        if batched and src.shape[batch_axis] != tgt.shape[batch_axis]:
            raise RuntimeError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz, device=None, dtype=None):
        """The causal mask ``(sz, sz)``: 0 where position ``i`` may attend to ``j <= i``,
        ``-inf`` above the diagonal (in ``dtype``, default the default dtype)."""
        return _generate_square_subsequent_mask(sz, dtype=dtype, device=device)

    def _reset_parameters(self):
        for p in self.parameters():
            if p.dim() > 1:
                init.xavier_uniform_(p)
