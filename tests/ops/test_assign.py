"""zero_, fill_, copy_ and the random fills, against torch."""

import numpy as np
import pytest
import torch

import ember


def test_copy_broadcasts_casts_and_passes_gradient():
    grads = []
    for lib in (ember, torch):
        src = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x = lib.zeros(2, 3, dtype=lib.float64)
        y = x * 1
        y.copy_(src)
        (y * lib.tensor([[1.0], [2.0]], dtype=lib.float64)).sum().backward()
        grads.append((y.detach().numpy(), src.grad.numpy(), y.dtype))
    np.testing.assert_allclose(grads[0][0], grads[1][0])
    np.testing.assert_allclose(grads[0][1], grads[1][1])
    assert grads[0][2] == ember.float64


def test_fill_and_zero():
    x = ember.ones(2, 2)
    assert x.fill_(3).tolist() == [[3.0, 3.0], [3.0, 3.0]]
    assert x.zero_().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    i = ember.zeros(2, dtype=ember.int64)
    assert i.fill_(7).tolist() == [7, 7]


def test_fill_with_tensor_value_is_differentiable():
    results = []
    for lib in (ember, torch):
        v = lib.tensor(2.0, requires_grad=True)
        y = lib.zeros(3) * 1
        y.fill_(v)
        (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        results.append(v.grad.item())
    assert results[0] == results[1] == 6.0


def test_fill_on_leaf_requiring_grad_needs_no_grad():
    w = ember.empty(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.zero_()
    with ember.no_grad():
        w.zero_()
    assert w.tolist() == [0.0, 0.0, 0.0]


def test_random_fills_are_seeded_and_in_range():
    x = ember.empty(2000)
    ember.manual_seed(3)
    a = x.uniform_(-2, 5).tolist()
    assert min(a) >= -2 and max(a) < 5
    ember.manual_seed(3)
    assert ember.empty(2000).uniform_(-2, 5).tolist() == a
    n = ember.empty(20000, dtype=ember.float64).normal_(1.0, 2.0).numpy()
    assert abs(n.mean() - 1) < 0.05 and abs(n.std() - 2) < 0.05
    b = ember.empty(1000).bernoulli_(0.2).numpy()
    assert set(np.unique(b)) <= {0.0, 1.0} and 0.15 < b.mean() < 0.25
    r = ember.empty(100, dtype=ember.int64).random_(3, 6).numpy()
    assert r.min() >= 3 and r.max() <= 5
    g = ember.Generator().manual_seed(1)
    e = ember.empty(5000).exponential_(2.0, generator=g).numpy()
    assert abs(e.mean() - 0.5) < 0.05


def test_views_see_fills():
    x = ember.zeros(2, 3)
    x[1].fill_(5)
    assert x.tolist() == [[0.0] * 3, [5.0] * 3]
