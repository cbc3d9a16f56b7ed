"""Embedding and EmbeddingBag against torch."""

import numpy as np
import pytest
import torch

import ember
from tests.nn.layer_check import assert_same, check_layer, pair

IDX = np.array([[0, 2, 4], [4, 3, 2]])

EMBEDDING_CASES = [
    ((6, 3), {}, IDX),
    ((6, 3), {"padding_idx": 2}, IDX),
    ((6, 3), {"padding_idx": -2}, IDX),
    ((6, 3), {"scale_grad_by_freq": True}, IDX),
    ((6, 3), {"max_norm": 1.0}, IDX),
    ((6, 3), {"max_norm": 0.5, "norm_type": 1.0}, np.array([1, 1, 5])),
    ((6, 3), {}, np.array(3)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("args, kwargs, idx", EMBEDDING_CASES)
def test_embedding_matches_torch(args, kwargs, idx, dtype):
    e, t = pair("Embedding", *args, dtype=dtype, **kwargs)
    check_layer(e, t, idx, dtype=dtype)
    assert_same(e.weight, t.weight, dtype, "weight after max_norm")  # renormed in place


@pytest.mark.parametrize("args, kwargs, idx", EMBEDDING_CASES)
def test_embedding_repr_and_attributes_match_torch(args, kwargs, idx):
    e, t = ember.nn.Embedding(*args, **kwargs), torch.nn.Embedding(*args, **kwargs)
    assert repr(e) == repr(t)
    for attr in ("num_embeddings", "embedding_dim", "padding_idx", "max_norm", "norm_type",
                 "scale_grad_by_freq", "sparse"):
        assert getattr(e, attr) == getattr(t, attr), attr
    assert list(e.state_dict()) == list(t.state_dict()) == ["weight"]


def test_embedding_repr_with_sparse_matches_torch():
    e, t = ember.nn.Embedding(4, 2, sparse=True), torch.nn.Embedding(4, 2, sparse=True)
    assert repr(e) == repr(t)


def test_embedding_initialization_is_standard_normal_with_zero_padding_row():
    e = ember.nn.Embedding(400, 50, padding_idx=3)
    w = e.weight.detach().numpy()
    np.testing.assert_array_equal(w[3], np.zeros(50, np.float32))
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1) < 0.02
    e.reset_parameters()
    np.testing.assert_array_equal(e.weight.detach().numpy()[3], np.zeros(50, np.float32))


@pytest.mark.parametrize("padding_idx", [6, -7])
def test_padding_idx_out_of_range_raises_like_torch(padding_idx):
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        torch.nn.Embedding(6, 2, padding_idx=padding_idx)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        ember.nn.Embedding(6, 2, padding_idx=padding_idx)


@pytest.mark.parametrize("freeze", [True, False])
def test_from_pretrained_shares_the_weight_and_freezes_like_torch(freeze):
    weights = [[1.0, 2.3, 3.0], [4.0, 5.1, 6.3]]
    e = ember.nn.Embedding.from_pretrained(ember.tensor(weights), freeze=freeze)
    t = torch.nn.Embedding.from_pretrained(torch.tensor(weights), freeze=freeze)
    assert e.weight.requires_grad == t.weight.requires_grad == (not freeze)
    assert repr(e) == repr(t)
    np.testing.assert_array_equal(e(ember.tensor([1])).detach().numpy(),
                                  t(torch.tensor([1])).detach().numpy())
    source = ember.tensor(weights)
    layer = ember.nn.Embedding.from_pretrained(source, padding_idx=0)
    with ember.no_grad():
        source[1, 0] = 9.0
    assert layer.weight[1, 0].item() == 9.0  # shared, not copied
    assert layer.weight[0, 0].item() == 1.0  # the padding row is not zeroed


def test_from_pretrained_rejects_non_matrices():
    with pytest.raises(AssertionError, match="2-dimensional"):
        ember.nn.Embedding.from_pretrained(ember.zeros(3))
    with pytest.raises(AssertionError, match="Shape of weight"):
        ember.nn.Embedding(3, 2, _weight=ember.zeros(2, 3))


def test_embedding_dtype_kwarg():
    assert ember.nn.Embedding(3, 2, dtype=ember.float64).weight.dtype == ember.float64


BAG_CASES = [
    ({"mode": "sum"}, (np.array([1, 2, 4, 5, 4, 3]), np.array([0, 4]))),
    ({"mode": "mean"}, (np.array([1, 2, 4, 5, 4, 3]), np.array([0, 2, 2]))),
    ({"mode": "max"}, (np.array([[1, 2], [4, 3], [0, 5]]),)),
    ({"mode": "mean", "padding_idx": 2}, (np.array([[1, 2], [4, 2], [2, 2]]),)),
    ({"mode": "sum", "include_last_offset": True}, (np.array([1, 2, 4, 5]), np.array([0, 1, 4]))),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs, inputs", BAG_CASES)
def test_embedding_bag_matches_torch(kwargs, inputs, dtype):
    e, t = pair("EmbeddingBag", 6, 3, dtype=dtype, **kwargs)
    check_layer(e, t, *inputs, dtype=dtype)
    assert repr(e) == repr(t)


def test_embedding_bag_per_sample_weights_match_torch():
    e, t = pair("EmbeddingBag", 6, 3, mode="sum")
    idx, offsets = np.array([1, 2, 4, 5]), np.array([0, 2])
    psw = np.array([0.5, 2.0, -1.0, 3.0])
    e_out = e(ember.tensor(idx), ember.tensor(offsets), ember.tensor(psw))
    t_out = t(torch.tensor(idx), torch.tensor(offsets), torch.tensor(psw))
    assert_same(e_out, t_out)


def test_embedding_bag_from_pretrained_matches_torch():
    w = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    e = ember.nn.EmbeddingBag.from_pretrained(ember.tensor(w), mode="sum", padding_idx=1)
    t = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(w), mode="sum", padding_idx=1)
    assert repr(e) == repr(t) and e.weight.requires_grad == t.weight.requires_grad
    np.testing.assert_array_equal(e(ember.tensor([[0, 1, 2]])).numpy(),
                                  t(torch.tensor([[0, 1, 2]])).numpy())
