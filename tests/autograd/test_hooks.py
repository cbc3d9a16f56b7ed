"""Tensor hooks, retain_grad and node hooks."""

import numpy as np
import pytest

import ember


def test_leaf_hook_sees_and_replaces_gradient():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    assert seen == [[3.0, 3.0]]
    assert x.grad.tolist() == [30.0, 30.0]


def test_non_leaf_hook_changes_what_flows_upstream():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.register_hook(lambda g: g * 0 + 1)
    (h * h).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_hook_handle_remove():
    x = ember.tensor(1.0, requires_grad=True)
    handle = x.register_hook(lambda g: g * 100)
    handle.remove()
    (x * 2).backward()
    assert x.grad.item() == 2.0


def test_hook_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ember.ones(1).register_hook(lambda g: g)


def test_retain_grad_accumulates_like_leaf():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h.retain_grad()
    y = (h * h).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * 2 * h.detach().numpy())
    assert h.retains_grad


def test_node_post_hook_sees_grads():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    calls = []
    y.grad_fn.register_hook(lambda grads_in, grads_out: calls.append(len(grads_in)))
    y.sum().backward()
    assert calls == [2]
