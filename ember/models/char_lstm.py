"""A recurrent character-level language model: embedding, LSTM, linear head."""

from ember.models._sampling import batched, check_sampling, extend, generating, sample_next
from ember.nn.module import Module
from ember.nn.modules.linear import Linear
from ember.nn.modules.rnn import LSTM
from ember.nn.modules.sparse import Embedding

__all__ = ["CharLSTM", "char_lstm"]


class CharLSTM(Module):
    """Predicts the next token at every position of a token sequence:
    ``Embedding(vocab_size, embed_dim)``, an ``LSTM(embed_dim, hidden_size, num_layers,
    dropout, batch_first=True)``, and ``Linear(hidden_size, vocab_size)`` on every output
    step. PyTorch's default initialization; submodules ``embedding``, ``lstm``, ``head``.

    Args:
        vocab_size: the number of distinct tokens ``V``.
        embed_dim: the size of a token's embedding.
        hidden_size: the LSTM's hidden size ``H``.
        num_layers: stacked LSTM layers.
        dropout: dropout between stacked LSTM layers (training mode only).

    Shape:
        tokens ``(N, T)`` int64 (or one sequence ``(T,)``); logits ``(N, T, V)``
        (``(T, V)``); the state ``(h, c)`` is two ``(num_layers, N, H)`` tensors
        (``(num_layers, H)``).
    """

    def __init__(self, vocab_size, embed_dim=64, hidden_size=256, num_layers=1, dropout=0.0):
        super().__init__()
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.embedding = Embedding(vocab_size, embed_dim)
        self.lstm = LSTM(embed_dim, hidden_size, num_layers, dropout=dropout, batch_first=True)
        self.head = Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        """Logits of the next token at each position, and the LSTM's final state.

        Args:
            tokens: ``(N, T)`` token ids.
            state: ``(h, c)`` carried over from the previous chunk of the same sequences,
                or None to start from zeros.

        Returns:
            ``(logits (N, T, V), (h, c))``; feeding the next chunk with this state
            continues the sequences exactly as if they had been given in one piece.
        """
        output, state = self.lstm(self.embedding(tokens), state)
        return self.head(output), state

    def generate(self, prefix_tokens, steps, temperature=1.0, top_k=None, generator=None):
        """Continue ``prefix_tokens`` by ``steps`` sampled tokens, one at a time, carrying
        the LSTM's state (each step runs the network on one token).

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
            >>> model = CharLSTM(vocab_size=10, embed_dim=8, hidden_size=16)
            >>> g = ember.Generator().manual_seed(0)
            >>> model.generate(ember.tensor([1, 2, 3]), steps=5, generator=g).shape
            ember.Size([8])
        """
        check_sampling("CharLSTM", steps, temperature, top_k)
        tokens, unbatched = batched("CharLSTM", prefix_tokens)
        new = []
        with generating(self):
            logits, state = self(tokens)
            for step in range(steps):
                new.append(sample_next(logits[:, -1], temperature, top_k, generator))
                if step + 1 < steps:
                    logits, state = self(new[-1], state)
        out = extend(tokens, new)
        return out[0] if unbatched else out


def char_lstm(vocab_size=65, embed_dim=64, hidden_size=256, num_layers=1, dropout=0.0):
    """A ``CharLSTM``; the defaults build the ``lstm`` benchmark workload's model
    (Embedding(65, 64), LSTM(64 → 256), Linear(256 → 65): 350,593 parameters).

    Returns:
        A ``CharLSTM`` in training mode.

    Example:
        >>> import ember
        >>> model = char_lstm()
        >>> logits, (h, c) = model(ember.randint(0, 65, (2, 7)))
        >>> logits.shape, h.shape
        (ember.Size([2, 7, 65]), ember.Size([1, 2, 256]))
    """
    return CharLSTM(vocab_size, embed_dim, hidden_size, num_layers, dropout)
