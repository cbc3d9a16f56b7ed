"""The backward engine: accumulation, fan-out, broadcasting, retain_graph, autograd.grad,
higher order, non-leaf grads — each compared with PyTorch doing the same thing."""

import numpy as np
import pytest
import torch

import ember


def both(values, requires_grad=True):
    arr = np.asarray(values, dtype=np.float64)
    return (ember.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def close(e, t):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_fan_out_accumulates():
    (xe, xt) = both([1.0, 2.0, 3.0])
    for lib, x in ((ember, xe), (torch, xt)):
        y = x * x + x * 3 + x
        y.sum().backward()
    close(xe.grad, xt.grad)


def test_grad_accumulates_over_backward_calls():
    xe, xt = both([1.0, -2.0])
    for x in (xe, xt):
        (x * 2).sum().backward()
        (x * x).sum().backward()
    close(xe.grad, xt.grad)


def test_broadcast_gradient_is_summed_to_input_shape():
    ae, at = both(np.arange(6.0).reshape(2, 3))
    be, bt = both([[1.0], [2.0]])
    ce, ct = both(5.0)
    for a, b, c in ((ae, be, ce), (at, bt, ct)):
        ((a * b + c) ** 2).sum().backward()
    close(ae.grad, at.grad)
    close(be.grad, bt.grad)
    close(ce.grad, ct.grad)
    assert be.grad.shape == (2, 1) and ce.grad.shape == ()


def test_mixed_dtype_gradient_comes_back_in_input_dtype():
    a = ember.ones(3, dtype=ember.float32, requires_grad=True)
    b = ember.tensor(2.0, dtype=ember.float64, requires_grad=True)
    out = a * b
    assert out.dtype == ember.float32  # a 0-dim tensor does not promote a dimensioned one
    out.sum().backward()
    assert a.grad.dtype == ember.float32 and b.grad.dtype == ember.float64
    assert b.grad.item() == 3.0


def test_backward_with_gradient_argument():
    xe, xt = both([[1.0, 2.0], [3.0, 4.0]])
    g = np.array([[0.5, -1.0], [2.0, 0.0]])
    (xe * xe).backward(ember.tensor(g))
    (xt * xt).backward(torch.tensor(g))
    close(xe.grad, xt.grad)


def test_nonscalar_backward_without_gradient_raises():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        (x * 2).backward()


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.ones(2).sum().backward()


def test_second_backward_through_freed_graph_raises():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    xe, xt = both([1.0, 2.0])
    for x in (xe, xt):
        y = (x * x).sum()
        y.backward(retain_graph=True)
        y.backward()
    close(xe.grad, xt.grad)


def test_autograd_grad_does_not_touch_dot_grad():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (g,) = ember.autograd.grad((x ** 3).sum(), x)
    np.testing.assert_allclose(g.numpy(), [3.0, 12.0])
    assert x.grad is None


def test_autograd_grad_with_respect_to_non_leaf():
    xe, xt = both([1.0, 2.0, 3.0])
    results = []
    for x, lib in ((xe, ember), (xt, torch)):
        h = x * 2
        y = (h ** 2).sum()
        results.append(lib.autograd.grad(y, h)[0])
    close(*results)


def test_autograd_grad_unused_input():
    x = ember.tensor(1.0, requires_grad=True)
    z = ember.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        ember.autograd.grad(x * 2, [x, z])
    gx, gz = ember.autograd.grad(x * 2, [x, z], allow_unused=True)
    assert gx.item() == 2.0 and gz is None
    _, gz = ember.autograd.grad(x * 2, [x, z], materialize_grads=True)
    assert gz.item() == 0.0


def test_higher_order_gradients_match_torch():
    xe, xt = both([0.5, -1.5, 2.0])
    orders = []
    for x, lib in ((xe, ember), (xt, torch)):
        y = (x ** 4 / (x * x + 1)).sum()
        (g1,) = lib.autograd.grad(y, x, create_graph=True)
        (g2,) = lib.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = lib.autograd.grad(g2.sum(), x)
        orders.append((g1, g2, g3))
    for e, t in zip(*orders):
        close(e, t)


def test_create_graph_backward_leaves_differentiable_grad():
    xe, xt = both([1.0, 3.0])
    for x, lib in ((xe, ember), (xt, torch)):
        (x ** 3).sum().backward(create_graph=True)
        assert x.grad.requires_grad
        g = x.grad
        x.grad = None
        g.sum().backward()
    close(xe.grad, xt.grad)


def test_non_leaf_grad_is_none_unless_retained():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    k = x * 4
    (h * k).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), (x * 4).detach().numpy())
    assert k.grad is None and not k.is_leaf and x.is_leaf


def test_leaf_grads_do_not_share_memory():
    # add passes the same gradient to both inputs; each .grad must be its own array,
    # because optimizers update .grad in place.
    a = ember.ones(3, requires_grad=True)
    b = ember.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.mul_(10)
    assert b.grad.tolist() == [1.0, 1.0, 1.0]


def test_user_gradient_is_not_aliased_into_grad():
    x = ember.ones(2, requires_grad=True)
    g = ember.tensor([1.0, 2.0])
    (x + 0).backward(g)
    x.grad.add_(5)
    assert g.tolist() == [1.0, 2.0]


def test_backward_inputs_argument_limits_accumulation():
    a = ember.tensor(2.0, requires_grad=True)
    b = ember.tensor(3.0, requires_grad=True)
    (a * b).backward(inputs=[a])
    assert a.grad.item() == 3.0 and b.grad is None


def test_deep_graph_has_no_recursion_limit():
    x = ember.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert abs(x.grad.item() - 1.0001 ** 5000) < 1e-3


def test_detach_shares_memory_and_stops_gradient():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    with ember.no_grad():
        d[0] = 7.0
    assert x[0].item() == 7.0
    y = (x * d).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [7.0, 2.0])


def test_grad_fn_names_and_next_functions():
    x = ember.tensor([1.0], requires_grad=True)
    y = x * 2 + 1
    assert y.grad_fn.name() == "AddBackward0"
    assert "AddBackward0" in repr(y)
    assert y.grad_fn.next_functions[0][0].name() == "MulBackward0"


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="only floating point"):
        ember.tensor([1, 2]).requires_grad_()
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf variables"):
        (x * 2).requires_grad_(False)
    assert (ember.ones(2) * x).requires_grad
    assert not (ember.ones(2) * 2).requires_grad
