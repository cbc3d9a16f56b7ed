"""Self-attention on two threads (NOTE [split attention] in ember/ops/attention.py): forced
to run in blocks of samples, in both kernel settings, against PyTorch."""

import numpy as np
import pytest
import torch

import ember
from ember.ops import attention, linalg
from tests.nn.attention_check import compare, randomized

E, H, N, S = 8, 2, 5, 6


@pytest.fixture
def two_threads(split_everything):
    """Two threads, every attention and product big enough to split, and a count of the
    blocks attention ran in."""
    split_everything(linalg, "_SPLIT_WORK", record=False)
    return split_everything(attention, "_SPLIT_WORK")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_split_self_attention_matches_torch(kernels, two_threads, batch_first, causal):
    e, t = randomized(ember.nn.MultiheadAttention(E, H, batch_first=batch_first),
                      torch.nn.MultiheadAttention(E, H, batch_first=batch_first), "float32")
    shape = (N, S, E) if batch_first else (S, N, E)
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype("float32")
    kwargs = {"need_weights": False}
    if causal:
        kwargs.update(attn_mask=np.triu(np.ones((S, S), dtype=bool), 1), is_causal=True)
    compare(e, t, (x, x, x), kwargs, dtype="float32")
    assert two_threads == [(N, 2), (N, 2)]  # forward and backward, each in two blocks


def test_a_mask_tensor_keeps_attention_in_one_block(two_threads):
    """A float mask may differ per sample: that attention runs unsplit (and still right)."""
    e, t = randomized(ember.nn.MultiheadAttention(E, H, batch_first=True),
                      torch.nn.MultiheadAttention(E, H, batch_first=True), "float32")
    x = np.random.default_rng(1).uniform(-1, 1, (N, S, E)).astype("float32")
    padding = np.zeros((N, S), dtype=bool)
    padding[:, -2:] = True
    compare(e, t, (x, x, x), {"need_weights": False, "key_padding_mask": padding},
            dtype="float32")
    assert two_threads == []
