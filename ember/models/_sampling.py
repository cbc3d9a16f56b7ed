"""Drawing the next token from a language model's logits, shared by the models'
``generate`` methods."""

import contextlib

from ember.autograd.grad_mode import no_grad
from ember.creation import multinomial
from ember.ops.join import cat

__all__ = []


def check_sampling(name, steps, temperature, top_k):
    """Raise a ValueError naming ``name`` for a negative ``steps`` or ``temperature`` or a
    ``top_k`` below 1."""
    if steps < 0:
        raise ValueError(f"{name}.generate: steps must be >= 0, got {steps}")
    if temperature < 0:
        raise ValueError(f"{name}.generate: temperature must be >= 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise ValueError(f"{name}.generate: top_k must be None or >= 1, got {top_k}")


def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    """One token per row from ``softmax(logits / temperature)``, restricted to the
    ``top_k`` largest logits when given.

    Args:
        logits: ``(N, V)`` scores of the next token.
        temperature: divides the logits; below 1 sharpens the distribution, above 1
            flattens it; 0 picks the largest logit (greedy decoding).
        top_k: keep only the ``top_k`` most likely tokens (None: all of them).
        generator: the ``ember.Generator`` to draw from (None: the default one).

    Returns:
        ``(N, 1)`` int64 token ids.
    """
    if temperature == 0 or top_k == 1:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return multinomial(logits.softmax(dim=-1), 1, generator=generator)


def extend(tokens, new):
    """``tokens`` ``(N, T)`` followed by the list ``new`` of ``(N, 1)`` tokens."""
    return cat([tokens] + [t.to(tokens.dtype) for t in new], dim=1)


def batched(name, tokens):
    """``(tokens as (N, T), whether it was given unbatched as (T,))``; T must be >= 1."""
    unbatched = tokens.dim() == 1
    tokens = tokens.unsqueeze(0) if unbatched else tokens
    if tokens.dim() != 2 or tokens.shape[1] == 0:
        raise ValueError(f"{name}.generate: prefix_tokens must be (T,) or (N, T) with "
                         f"T >= 1, got shape {tuple(tokens.shape)}")
    return tokens, unbatched


@contextlib.contextmanager
def generating(model):
    """Eval mode (no dropout) and no gradient tracking for the duration; the model's
    training flag is restored afterwards."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)
