"""The language models of ``ember.models`` written with torch modules (the oracle), and
the checks that ``CharLSTM`` and ``GPT`` share: weights copied from torch, greedy decoding
in torch, and the distribution of sampled tokens."""

import numpy as np
import torch
from torch import nn

import ember


class CharLSTM(nn.Module):
    """``ember.models.CharLSTM`` in torch: same submodule names, same computation."""

    def __init__(self, vocab_size, embed_dim=64, hidden_size=256, num_layers=1, dropout=0.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers, dropout=dropout,
                            batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        output, state = self.lstm(self.embedding(tokens), state)
        return self.head(output), state


class GPT(nn.Module):
    """``ember.models.GPT`` in torch: learned positions, pre-norm GELU encoder layers under
    the causal mask, a final LayerNorm and a linear head."""

    def __init__(self, vocab_size, max_len=64, d_model=128, n_heads=4, n_layers=2, d_ff=512,
                 dropout=0.0):
        super().__init__()
        self.max_len = max_len
        self.token_embedding = nn.Embedding(vocab_size, d_model)
        self.position_embedding = nn.Embedding(max_len, d_model)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList([
            nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout, activation="gelu",
                                       batch_first=True, norm_first=True)
            for _ in range(n_layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, tokens):
        length = tokens.shape[-1]
        positions = self.position_embedding(torch.arange(length))
        x = self.dropout(self.token_embedding(tokens) + positions)
        mask = nn.Transformer.generate_square_subsequent_mask(length, dtype=x.dtype)
        for block in self.blocks:
            x = block(x, src_mask=mask)
        return self.head(self.norm(x))


def copy_to_ember(e_model, t_model, dtype="float64"):
    """Both models in ``dtype``, with ember holding torch's weights."""
    t_model.to(getattr(torch, dtype))
    e_model.load_state_dict({k: ember.tensor(v.numpy()) for k, v in
                             t_model.state_dict().items()})
    e_model.to(getattr(ember, dtype))


def random_tokens(vocab_size, shape, seed=0):
    return np.random.default_rng(seed).integers(0, vocab_size, shape)


def last_logits(t_model, tokens):
    """torch's logits of the token after ``tokens`` ``(N, T)`` (no state carried)."""
    out = t_model(tokens)
    return (out[0] if isinstance(out, tuple) else out)[:, -1]


@torch.no_grad()
def torch_greedy(t_model, prefix, steps, max_len=None):
    """Greedy decoding in torch, re-running the model on the whole (cropped) sequence."""
    t_model.eval()
    tokens = torch.tensor(prefix)
    for _ in range(steps):
        context = tokens if max_len is None else tokens[:, -max_len:]
        tokens = torch.cat([tokens, last_logits(t_model, context).argmax(-1, keepdim=True)], 1)
    return tokens.numpy()


def sampling_frequencies(e_model, prefix, temperature, top_k, draws=4000, seed=0):
    """How often each token is drawn as the first continuation of ``prefix`` ``(T,)``,
    over ``draws`` copies of it sampled in one batch."""
    batch = ember.tensor(np.tile(prefix, (draws, 1)))
    g = ember.Generator().manual_seed(seed)
    out = e_model.generate(batch, 1, temperature=temperature, top_k=top_k, generator=g)
    first = out[:, -1].numpy()
    return np.bincount(first, minlength=e_model.vocab_size) / draws


@torch.no_grad()
def expected_frequencies(t_model, prefix, temperature, top_k):
    """The distribution the sampler should follow, computed in torch: softmax of the
    logits over the temperature, zero outside the ``top_k`` largest, renormalized."""
    t_model.eval()
    logits = last_logits(t_model, torch.tensor(prefix)[None])[0].double() / temperature
    if top_k is not None:
        kth = logits.topk(top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return logits.softmax(-1).numpy()


def assert_samples_follow(e_model, t_model, prefix, temperature, top_k):
    """Sampled frequencies within 4.5 standard errors of torch's distribution; tokens
    outside the top k never drawn."""
    observed = sampling_frequencies(e_model, prefix, temperature, top_k)
    expected = expected_frequencies(t_model, prefix, temperature, top_k)
    assert np.all(observed[expected == 0] == 0)
    sigma = np.sqrt(expected * (1 - expected) / 4000) + 1e-4
    np.testing.assert_array_less(np.abs(observed - expected), 4.5 * sigma)
