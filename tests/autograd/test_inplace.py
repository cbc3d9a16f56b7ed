"""In-place ops under autograd: version counters catch overwritten saved values."""

import numpy as np
import pytest
import torch

import ember


def test_inplace_on_non_leaf_gives_torch_gradient():
    grads = []
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        y.add_(x * x)
        y.mul_(3)
        y.sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(*grads)


def test_inplace_on_leaf_requiring_grad_raises():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)


def test_inplace_on_leaf_under_no_grad_is_allowed():
    x = ember.ones(3, requires_grad=True)
    with ember.no_grad():
        x.mul_(4)
        x += 1
    assert x.tolist() == [5.0, 5.0, 5.0] and x.is_leaf and x.requires_grad


def test_modifying_a_saved_tensor_raises_at_backward():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    y = h * h          # saves h
    h.add_(1)          # overwrites it
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_modifying_a_saved_output_raises_at_backward():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    z = 2.0 ** x        # saves its output
    with ember.no_grad():
        z.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_version_counter_is_shared_with_views():
    x = ember.ones(2, 3)
    v = x.view(6)
    before = x._version if hasattr(x, "_version") else x._vbox[0]
    v.mul_(2)
    assert x._vbox[0] == before + 1
    assert x.tolist() == [[2.0] * 3] * 2


def test_inplace_dtype_and_shape_errors():
    x = ember.zeros(3, dtype=ember.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.add_(1.5)
    y = ember.zeros(3)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        y.add_(ember.ones(2, 3))


def test_inplace_returns_self_and_bumps_version():
    x = ember.zeros(2)
    assert x.add_(1) is x
    assert x._vbox[0] == 1


def test_augmented_assignment_keeps_identity():
    x = ember.zeros(2)
    ident = id(x)
    x += 2
    x *= 3
    assert id(x) == ident and x.tolist() == [6.0, 6.0]


def test_expanded_tensor_refuses_inplace_write():
    x = ember.ones(1, 3).expand(2, 3)
    with pytest.raises(RuntimeError, match="read-only view"):
        x.add_(1)
