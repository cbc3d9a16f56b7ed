"""Embedding behaviour the op table cannot express: max_norm, padding rows, one_hot."""

import numpy as np
import pytest
import torch

import ember

EF, TF = ember.nn.functional, torch.nn.functional


def test_max_norm_renormalizes_weight_in_place_like_torch():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 4)) * 3
    idx = np.array([[0, 2, 2], [5, 1, 0]])
    e_w, t_w = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    version = e_w._vbox[0]
    e = EF.embedding(ember.tensor(idx), e_w, max_norm=1.5, norm_type=3.0)
    t = TF.embedding(torch.tensor(idx), t_w, max_norm=1.5, norm_type=3.0)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(e_w.detach().numpy(), t_w.detach().numpy(), rtol=1e-12)
    assert e_w._vbox[0] == version + 1
    e.sum().backward()
    t.sum().backward()
    np.testing.assert_allclose(e_w.grad.numpy(), t_w.grad.numpy())


def test_padding_row_gets_zero_gradient():
    w = ember.randn(5, 3, requires_grad=True)
    out = EF.embedding(ember.tensor([[0, 4, 4], [2, 4, 0]]), w, padding_idx=4)
    (out * out).sum().backward()
    assert np.all(w.grad.numpy()[4] == 0) and np.any(w.grad.numpy()[0] != 0)


def test_embedding_float32_and_errors():
    w = ember.randn(5, 3)
    assert EF.embedding(ember.tensor([1, 2]), w).dtype == ember.float32
    with pytest.raises(IndexError, match="embedding: index 5 is out of range for a weight of 5"):
        EF.embedding(ember.tensor([1, 5]), w)
    with pytest.raises(RuntimeError, match="embedding: expected indices of an integer dtype"):
        EF.embedding(ember.tensor([1.0, 2.0]), w)
    with pytest.raises(ValueError, match="padding_idx 7 must be within num_embeddings"):
        EF.embedding(ember.tensor([1]), w, padding_idx=7)


@pytest.mark.parametrize("values,num_classes", [([0, 3, 1], -1), ([[0, 2], [1, 1]], 4), (2, 3)])
def test_one_hot_matches_torch(values, num_classes):
    e = EF.one_hot(ember.tensor(values), num_classes)
    t = TF.one_hot(torch.tensor(values), num_classes)
    assert e.dtype == ember.int64
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_one_hot_errors():
    with pytest.raises(RuntimeError, match="Class values must be non-negative"):
        EF.one_hot(ember.tensor([0, -1]))
    with pytest.raises(RuntimeError, match=r"smaller than num_classes \(3\)"):
        EF.one_hot(ember.tensor([0, 3]), 3)
    with pytest.raises(RuntimeError, match="Can not infer total number of classes"):
        EF.one_hot(ember.zeros(0, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="only applicable to index tensors of type int64"):
        EF.one_hot(ember.tensor([0.0, 1.0]))


def test_embedding_bag_max_with_empty_bag_matches_torch():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((5, 3))
    idx, offsets = np.array([1, 2, 4, 0]), np.array([0, 2, 2])
    e_w, t_w = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    e = EF.embedding_bag(ember.tensor(idx), e_w, ember.tensor(offsets), mode="max")
    t = TF.embedding_bag(torch.tensor(idx), t_w, torch.tensor(offsets), mode="max")
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy())
    e.sum().backward()
    t.sum().backward()
    np.testing.assert_allclose(e_w.grad.numpy(), t_w.grad.numpy())


@pytest.mark.parametrize("shape", [(32, 64), (7,), (0,), (3, 0, 2)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradient_with_repeated_indices_matches_torch(shape, dtype):
    """The weight's gradient sums every row looked up at the same index (most rows here)."""
    rng = np.random.default_rng(2)
    w = rng.standard_normal((65, 8)).astype(dtype)
    idx = rng.integers(0, 65, shape)
    idx.flat[:min(idx.size, 5)] = 64  # the last row, several times
    g = rng.standard_normal(shape + (8,)).astype(dtype)
    e_w, t_w = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    EF.embedding(ember.tensor(idx), e_w).backward(ember.tensor(g))
    TF.embedding(torch.tensor(idx), t_w).backward(torch.tensor(g))
    assert e_w.grad.dtype == e_w.dtype
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-12}
    np.testing.assert_allclose(e_w.grad.numpy(), t_w.grad.numpy(), **tol)
