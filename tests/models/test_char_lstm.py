"""CharLSTM against the same model built from torch modules: structure, logits, states,
gradients, greedy decoding and sampling; state carry-over; memorizing a short text."""

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember.models.char_lstm import CharLSTM, char_lstm
from tests.models import reference_lm as ref
from tests.models.check import assert_same_structure

SMALL = {"vocab_size": 11, "embed_dim": 6, "hidden_size": 9, "num_layers": 2}


def small_pair(seed=0, dtype="float64", **kwargs):
    torch.manual_seed(seed)
    config = {**SMALL, **kwargs}
    t_model, e_model = ref.CharLSTM(**config), CharLSTM(**config)
    ref.copy_to_ember(e_model, t_model, dtype)
    return e_model, t_model


@pytest.mark.parametrize("config", [{}, SMALL, {**SMALL, "num_layers": 3, "dropout": 0.2}],
                         ids=["workload", "two-layer", "three-layer-dropout"])
def test_structure_matches_torch(config):
    t_model = ref.CharLSTM(**{"vocab_size": 65, **config})
    e_model = char_lstm(**config) if config else char_lstm()
    assert_same_structure(e_model, t_model)


def test_workload_defaults():
    model = char_lstm()
    assert sum(p.numel() for p in model.parameters()) == 350_593
    assert (model.vocab_size, model.embed_dim, model.hidden_size) == (65, 64, 256)
    assert model.lstm.batch_first and model.lstm.num_layers == 1


@pytest.mark.parametrize("dtype,rtol,atol", [("float64", 1e-10, 1e-12),
                                             ("float32", 1e-5, 1e-5)])
def test_logits_states_and_gradients_match_torch(dtype, rtol, atol):
    e_model, t_model = small_pair(dtype=dtype)
    tokens = ref.random_tokens(11, (3, 7))
    targets = ref.random_tokens(11, (3, 7), seed=1)
    e_logits, (e_h, e_c) = e_model(ember.tensor(tokens))
    t_logits, (t_h, t_c) = t_model(torch.tensor(tokens))
    for e, t in [(e_logits, t_logits), (e_h, t_h), (e_c, t_c)]:
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol, atol)
    F.cross_entropy(e_logits.reshape(-1, 11), ember.tensor(targets).reshape(-1)).backward()
    torch.nn.functional.cross_entropy(t_logits.reshape(-1, 11),
                                      torch.tensor(targets).reshape(-1)).backward()
    t_params = dict(t_model.named_parameters())
    for name, p in e_model.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), rtol, atol,
                                   err_msg=name)


def test_given_initial_state_matches_torch():
    e_model, t_model = small_pair()
    tokens = ref.random_tokens(11, (2, 5))
    h0, c0 = np.random.default_rng(3).standard_normal((2, 2, 2, 9))
    e_logits, _ = e_model(ember.tensor(tokens), (ember.tensor(h0), ember.tensor(c0)))
    t_logits, _ = t_model(torch.tensor(tokens), (torch.tensor(h0), torch.tensor(c0)))
    np.testing.assert_allclose(e_logits.detach().numpy(), t_logits.detach().numpy(), 1e-10)


def test_state_carries_over_between_chunks():
    e_model, _ = small_pair()
    tokens = ember.tensor(ref.random_tokens(11, (2, 12)))
    whole, (h, c) = e_model(tokens)
    first, state = e_model(tokens[:, :5])
    second, (h2, c2) = e_model(tokens[:, 5:], state)
    joined = ember.cat([first, second], dim=1)
    np.testing.assert_allclose(joined.detach().numpy(), whole.detach().numpy(), 1e-12, 1e-12)
    np.testing.assert_allclose(h2.detach().numpy(), h.detach().numpy(), 1e-12, 1e-12)
    np.testing.assert_allclose(c2.detach().numpy(), c.detach().numpy(), 1e-12, 1e-12)


def test_unbatched_sequence():
    e_model, t_model = small_pair()
    tokens = ref.random_tokens(11, (6,))
    e_logits, (e_h, _) = e_model(ember.tensor(tokens))
    t_logits, (t_h, _) = t_model(torch.tensor(tokens))
    assert e_logits.shape == (6, 11) and e_h.shape == (2, 9)
    np.testing.assert_allclose(e_logits.detach().numpy(), t_logits.detach().numpy(), 1e-10)
    np.testing.assert_allclose(e_h.detach().numpy(), t_h.detach().numpy(), 1e-10)


@pytest.mark.parametrize("how", [{"top_k": 1}, {"temperature": 0}, {"top_k": 1,
                                                                    "temperature": 3.0}])
def test_greedy_decoding_matches_torch(how):
    e_model, t_model = small_pair(seed=4)
    prefix = ref.random_tokens(11, (2, 4), seed=5)
    expected = ref.torch_greedy(t_model, prefix, steps=12)
    out = e_model.generate(ember.tensor(prefix), 12, **how)
    np.testing.assert_array_equal(out.numpy(), expected)


def test_generation_is_deterministic_with_a_generator():
    e_model, _ = small_pair(seed=6)
    prefix = ember.tensor([3, 1, 4])

    def sample(seed):
        g = ember.Generator().manual_seed(seed)
        return e_model.generate(prefix, 30, temperature=1.5, generator=g).numpy()

    first = sample(7)
    assert first.shape == (33,) and first.dtype == np.int64
    np.testing.assert_array_equal(first[:3], [3, 1, 4])
    np.testing.assert_array_equal(sample(7), first)
    assert not np.array_equal(sample(8), first)
    assert ((first >= 0) & (first < 11)).all()


@pytest.mark.parametrize("temperature,top_k", [(1.0, None), (0.5, None), (2.0, None),
                                               (1.0, 3), (0.7, 5)])
def test_samples_follow_the_tempered_top_k_distribution(temperature, top_k):
    e_model, t_model = small_pair(seed=9, dtype="float32")
    with torch.no_grad():  # sharper logits, so that the temperature changes them a lot
        t_model.head.weight.mul_(8)
    ref.copy_to_ember(e_model, t_model, "float32")
    ref.assert_samples_follow(e_model, t_model, [2, 7, 1], temperature, top_k)


def test_generate_restores_training_mode_and_tracks_no_gradients():
    e_model, _ = small_pair()
    out = e_model.generate(ember.tensor([[1, 2]]), 3, top_k=2)
    assert e_model.training and not out.requires_grad
    e_model.eval()
    e_model.generate(ember.tensor([[1, 2]]), 3)
    assert not e_model.training


@pytest.mark.parametrize("kwargs,match", [({"steps": -1}, "steps"),
                                          ({"steps": 2, "temperature": -1}, "temperature"),
                                          ({"steps": 2, "top_k": 0}, "top_k")])
def test_bad_sampling_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CharLSTM(5, 4, 4).generate(ember.tensor([1]), **kwargs)
    with pytest.raises(ValueError, match="prefix_tokens"):
        CharLSTM(5, 4, 4).generate(ember.zeros(1, 0, dtype=ember.int64), 2)


def test_memorizes_a_short_text():
    text = "the quick brown fox jumps over the lazy dog; pack my box with five dozen " \
           "liquor jugs. sphinx of quartz!"
    assert len(text) >= 100
    chars = sorted(set(text))
    ids = ember.tensor([chars.index(c) for c in text])
    ember.manual_seed(0)
    model = CharLSTM(len(chars), embed_dim=16, hidden_size=64)
    optimizer = ember.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(80):
        logits, _ = model(ids[None, :-1])
        loss = F.cross_entropy(logits[0], ids[1:])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    out = model.generate(ids[:5], len(text) - 5, top_k=1)
    assert "".join(chars[i] for i in out.tolist()) == text
