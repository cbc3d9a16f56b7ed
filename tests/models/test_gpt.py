"""GPT against the same model built from torch modules: structure, logits, gradients,
greedy decoding with context cropping and sampling; causality; memorizing a short text."""

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.models.gpt import GPT, gpt
from tests.models import reference_lm as ref
from tests.models.check import assert_same_structure

SMALL = {"vocab_size": 13, "max_len": 8, "d_model": 12, "n_heads": 3, "n_layers": 2,
         "d_ff": 20}


def small_pair(seed=0, dtype="float64", **kwargs):
    torch.manual_seed(seed)
    config = {**SMALL, **kwargs}
    t_model, e_model = ref.GPT(**config), GPT(**config)
    ref.copy_to_ember(e_model, t_model, dtype)
    return e_model, t_model


def test_workload_model_matches_torch():
    """``gpt()`` is the ``transformer`` benchmark workload's model, key for key."""
    t_model = ref.GPT(1000, max_len=64, d_model=128, n_heads=4, n_layers=2, d_ff=512,
                      dropout=0.0)
    e_model = gpt(vocab_size=1000, max_len=64, d_model=128, n_heads=4, n_layers=2, d_ff=512,
                  dropout=0.0)
    assert_same_structure(e_model, t_model, known_count=661_992)
    assert_same_structure(gpt(), t_model)
    layer = e_model.blocks[1]
    assert layer.norm_first and layer.self_attn.batch_first
    assert layer.activation is F.gelu and layer.linear1.out_features == 512


def test_small_and_dropout_structure_matches_torch():
    config = {**SMALL, "n_layers": 3, "dropout": 0.1}
    assert_same_structure(GPT(**config), ref.GPT(**config))


@pytest.mark.parametrize("dtype,rtol,atol", [("float64", 1e-10, 1e-12),
                                             ("float32", 1e-5, 1e-5)])
def test_logits_and_gradients_match_torch(dtype, rtol, atol):
    e_model, t_model = small_pair(dtype=dtype)
    tokens = ref.random_tokens(13, (3, 8))
    targets = ref.random_tokens(13, (3, 8), seed=1)
    e_logits = e_model(ember.tensor(tokens))
    t_logits = t_model(torch.tensor(tokens))
    np.testing.assert_allclose(e_logits.detach().numpy(), t_logits.detach().numpy(), rtol,
                               atol)
    F.cross_entropy(e_logits.reshape(-1, 13), ember.tensor(targets).reshape(-1)).backward()
    torch.nn.functional.cross_entropy(t_logits.reshape(-1, 13),
                                      torch.tensor(targets).reshape(-1)).backward()
    t_params = dict(t_model.named_parameters())
    for name, p in e_model.named_parameters():
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), rtol, atol,
                                   err_msg=name)


def test_shorter_and_unbatched_sequences_match_torch():
    e_model, t_model = small_pair()
    for shape in [(2, 3), (5,), (1, 1)]:
        tokens = ref.random_tokens(13, shape, seed=len(shape))
        e_logits = e_model(ember.tensor(tokens))
        assert e_logits.shape == shape + (13,)
        t_logits = t_model(torch.tensor(tokens))
        np.testing.assert_allclose(e_logits.detach().numpy(), t_logits.detach().numpy(),
                                   1e-10, 1e-12)


def test_position_t_sees_only_tokens_up_to_t():
    e_model, _ = small_pair()
    tokens = ref.random_tokens(13, (1, 8))
    changed = tokens.copy()
    changed[0, 5] = (changed[0, 5] + 1) % 13
    a = e_model(ember.tensor(tokens)).detach().numpy()
    b = e_model(ember.tensor(changed)).detach().numpy()
    np.testing.assert_array_equal(a[:, :5], b[:, :5])
    assert np.abs(a[:, 5:] - b[:, 5:]).min() > 0


def test_longer_than_max_len_is_refused():
    with pytest.raises(ValueError, match="longer than max_len 8"):
        GPT(**SMALL)(ember.zeros(1, 9, dtype=ember.int64))


def test_dropout_acts_in_training_mode_only():
    ember.manual_seed(0)
    model = GPT(**{**SMALL, "dropout": 0.5})
    tokens = ember.tensor(ref.random_tokens(13, (2, 6)))
    assert not np.allclose(model(tokens).detach().numpy(), model(tokens).detach().numpy())
    model.eval()
    np.testing.assert_array_equal(model(tokens).detach().numpy(),
                                  model(tokens).detach().numpy())


@pytest.mark.parametrize("how", [{"top_k": 1}, {"temperature": 0}])
def test_greedy_decoding_with_cropped_context_matches_torch(how):
    """20 steps from 5 tokens with max_len 8: most steps see only the last 8 tokens."""
    e_model, t_model = small_pair(seed=4)
    prefix = ref.random_tokens(13, (2, 5), seed=5)
    expected = ref.torch_greedy(t_model, prefix, steps=20, max_len=8)
    out = e_model.generate(ember.tensor(prefix), 20, **how)
    np.testing.assert_array_equal(out.numpy(), expected)


def test_generation_is_deterministic_with_a_generator():
    e_model, _ = small_pair(seed=6)
    prefix = ember.tensor([3, 1, 4])

    def sample(seed):
        g = ember.Generator().manual_seed(seed)
        return e_model.generate(prefix, 20, temperature=1.5, top_k=6, generator=g).numpy()

    first = sample(7)
    assert first.shape == (23,) and first.dtype == np.int64
    np.testing.assert_array_equal(first[:3], [3, 1, 4])
    np.testing.assert_array_equal(sample(7), first)
    assert not np.array_equal(sample(8), first)


@pytest.mark.parametrize("temperature,top_k", [(1.0, None), (0.5, None), (2.0, 4)])
def test_samples_follow_the_tempered_top_k_distribution(temperature, top_k):
    e_model, t_model = small_pair(seed=9, dtype="float32")
    with torch.no_grad():  # sharper logits, so that the temperature changes them a lot
        t_model.head.weight.mul_(4)
    ref.copy_to_ember(e_model, t_model, "float32")
    ref.assert_samples_follow(e_model, t_model, [2, 7, 1, 0, 5], temperature, top_k)


def test_generate_restores_training_mode():
    e_model, _ = small_pair(dropout=0.3)
    out = e_model.generate(ember.tensor([[1, 2]]), 3)
    assert e_model.training and not out.requires_grad


def test_memorizes_a_short_text():
    text = "the quick brown fox jumps over the lazy dog; pack my box with five dozen " \
           "liquor jugs. sphinx of quartz!"
    chars = sorted(set(text))
    ids = ember.tensor([chars.index(c) for c in text])
    ember.manual_seed(0)
    model = GPT(len(chars), max_len=len(text), d_model=32, n_heads=2, n_layers=1, d_ff=64)
    optimizer = ember.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(50):
        loss = F.cross_entropy(model(ids[None, :-1])[0], ids[1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    out = model.generate(ids[:5], len(text) - 5, top_k=1)
    assert "".join(chars[i] for i in out.tolist()) == text
