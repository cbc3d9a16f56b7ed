"""Distance behaviour the op table cannot express: zero vectors, errors, large cdist."""

import numpy as np
import pytest
import torch

import ember

EF, TF = ember.nn.functional, torch.nn.functional


def test_cosine_similarity_of_zero_vector_and_its_gradient_match_torch():
    x1, x2 = np.zeros((2, 3)), np.random.default_rng(0).standard_normal((2, 3))
    x1[1] = [1e-10, 0, 2e-10]
    res = []
    for m, F in ((ember, EF), (torch, TF)):
        a, b = m.tensor(x1, requires_grad=True), m.tensor(x2, requires_grad=True)
        out = F.cosine_similarity(a, b)
        out.sum().backward()
        res.append((out.detach().numpy(), a.grad.numpy(), b.grad.numpy()))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_cosine_similarity_integer_inputs_are_promoted():
    e = EF.cosine_similarity(ember.tensor([[1, 2, 3]]), ember.tensor([[2.0, 0.0, 1.0]]))
    t = TF.cosine_similarity(torch.tensor([[1, 2, 3]]), torch.tensor([[2.0, 0.0, 1.0]]))
    assert e.dtype == ember.float32
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)


def test_cdist_large_uses_matrix_product_and_matches_torch():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((30, 4)), rng.standard_normal((20, 4))
    b[3] = a[5]  # a zero distance: the subgradient there is 0
    res = []
    for m in (ember, torch):
        x1, x2 = m.tensor(a, requires_grad=True), m.tensor(b, requires_grad=True)
        d = m.cdist(x1, x2)
        d.sum().backward()
        res.append((d.detach().numpy(), x1.grad.numpy(), x2.grad.numpy()))
    for x, y in zip(*res):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)


def test_errors():
    with pytest.raises(RuntimeError, match=r"cdist: X1 and X2 must have the same number of col"):
        ember.cdist(ember.zeros(3, 2), ember.zeros(3, 4))
    with pytest.raises(RuntimeError, match=r"cdist: only supports at least 2D"):
        ember.cdist(ember.zeros(3), ember.zeros(3, 3))
    with pytest.raises(RuntimeError, match="pdist: only supports 2D"):
        EF.pdist(ember.zeros(3))


def test_normalize_zero_vector_and_out():
    x = ember.tensor([[0.0, 0.0], [3.0, 4.0]])
    out = ember.zeros(2, 2)
    result = EF.normalize(x, out=out)
    assert result is out
    np.testing.assert_allclose(out.numpy(), [[0, 0], [0.6, 0.8]])
