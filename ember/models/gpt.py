"""A small decoder-only Transformer language model (GPT-style) built from
``nn.TransformerEncoderLayer`` under a causal mask."""

from ember.models._sampling import batched, check_sampling, extend, generating, sample_next
from ember.nn.containers import ModuleList
from ember.nn.module import Module
from ember.nn.modules.dropout import Dropout
from ember.nn.modules.linear import Linear
from ember.nn.modules.normalization import LayerNorm
from ember.nn.modules.sparse import Embedding
from ember.nn.modules.transformer import Transformer, TransformerEncoderLayer

__all__ = ["GPT", "gpt"]


class GPT(Module):
    """Predicts the next token at every position from the tokens up to it:

        x = token_embedding(tokens) + position_embedding.weight[:T]
        x = block(x) for each of the n_layers pre-norm blocks, causal self-attention
        logits = head(norm(x))

    Each block is ``nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout,
    activation="gelu", batch_first=True, norm_first=True)``, whose attention runs the fused
    ``F.scaled_dot_product_attention(is_causal=True)`` when given the causal mask with
    ``is_causal=True``. A hand-written block calling that kernel directly (one fused
    q/k/v projection) was measured slower, not faster: 4.3-4.6 training steps/s against
    4.5-5.8 for this model on the ``transformer`` workload, interleaved in one run; so the
    standard layer is used, and its parameter names are PyTorch's. The blocks are built
    separately (not deep copies of one layer, as ``nn.TransformerEncoder`` does), so each
    starts from its own random weights. PyTorch's default initialization throughout.

    Args:
        vocab_size: the number of distinct tokens ``V``.
        max_len: the longest sequence (the number of learned positions).
        d_model: the width ``E`` of the residual stream.
        n_heads: attention heads per block (must divide ``d_model``).
        n_layers: the number of blocks.
        d_ff: the hidden size of each block's feed-forward network.
        dropout: dropout on the embeddings, the attention weights and inside the blocks.

    Shape:
        tokens ``(N, T)`` int64 (or one sequence ``(T,)``), ``T <= max_len``; logits
        ``(N, T, V)`` (``(T, V)``).
    """

    def __init__(self, vocab_size, max_len=64, d_model=128, n_heads=4, n_layers=2, d_ff=512,
                 dropout=0.0):
        super().__init__()
        self.vocab_size = vocab_size
        self.max_len = max_len
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.d_ff = d_ff
        self.token_embedding = Embedding(vocab_size, d_model)
        self.position_embedding = Embedding(max_len, d_model)
        self.dropout = Dropout(dropout)
        self.blocks = ModuleList([
            TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, activation="gelu",
                                    batch_first=True, norm_first=True)
            for _ in range(n_layers)])
        self.norm = LayerNorm(d_model)
        self.head = Linear(d_model, vocab_size)

    def forward(self, tokens):
        """Logits of the next token at each position.

        Args:
            tokens: ``(N, T)`` token ids, ``T <= max_len``.

        Returns:
            ``(N, T, V)``: position ``t`` depends on ``tokens[:, :t + 1]`` only.
        """
        length = tokens.shape[-1]
        if length > self.max_len:
            raise ValueError(f"GPT: a sequence of {length} tokens is longer than max_len "
                             f"{self.max_len}; crop it (generate does) or build a longer model")
        x = self.token_embedding(tokens) + self.position_embedding.weight[:length]
        x = self.dropout(x)
        mask = Transformer.generate_square_subsequent_mask(length, dtype=x.dtype)
        for block in self.blocks:
            x = block(x, src_mask=mask, is_causal=True)
        return self.head(self.norm(x))

    def generate(self, prefix_tokens, steps, temperature=1.0, top_k=None, generator=None):
        """Continue ``prefix_tokens`` by ``steps`` sampled tokens, one at a time; each step
        runs the model on the last ``max_len`` tokens (the context it was trained on).

        Runs in eval mode without gradient tracking; the training flag is restored.

        Args:
            prefix_tokens: ``(N, T)`` or ``(T,)`` token ids, ``T >= 1``.
            steps: how many tokens to add.
            temperature: divides the logits before the softmax; 0 is greedy decoding.
            top_k: sample among the ``top_k`` most likely tokens only (1: greedy).
            generator: an ``ember.Generator`` for reproducible samples.

        Returns:
            The prefix followed by the new tokens: ``(N, T + steps)`` (or ``(T + steps,)``).

        Example:
            >>> import ember
            >>> model = GPT(vocab_size=10, max_len=8, d_model=16, n_heads=2, d_ff=32)
            >>> g = ember.Generator().manual_seed(0)
            >>> model.generate(ember.tensor([1, 2, 3]), steps=9, generator=g).shape
            ember.Size([12])
        """
        check_sampling("GPT", steps, temperature, top_k)
        tokens, unbatched = batched("GPT", prefix_tokens)
        with generating(self):
            for _ in range(steps):
                logits = self(tokens[:, -self.max_len:])[:, -1]
                tokens = extend(tokens, [sample_next(logits, temperature, top_k, generator)])
        return tokens[0] if unbatched else tokens


def gpt(vocab_size=1000, max_len=64, d_model=128, n_heads=4, n_layers=2, d_ff=512,
        dropout=0.0):
    """A ``GPT``; the defaults build the ``transformer`` benchmark workload's model
    (Embedding(1000, 128) + 64 learned positions, 2 pre-norm blocks of 4 heads with a
    feed-forward of 512 and GELU, LayerNorm, Linear(128 → 1000): 661,992 parameters).

    Returns:
        A ``GPT`` in training mode.

    Example:
        >>> import ember
        >>> model = gpt()
        >>> model(ember.randint(0, 1000, (2, 64))).shape
        ember.Size([2, 64, 1000])
    """
    return GPT(vocab_size, max_len, d_model, n_heads, n_layers, d_ff, dropout)
