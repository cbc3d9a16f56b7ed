"""clip_grad_norm_, clip_grad_value_, get_total_norm and clip_grads_with_norm_ against torch
on the gradients of a small model."""

import warnings

import numpy as np
import pytest
import torch

import ember
from ember.nn.utils import (clip_grad_norm, clip_grad_norm_, clip_grad_value_,
                            clip_grads_with_norm_, get_total_norm)
from tests.nn.layer_check import DTYPES, assert_same, copy_from_torch

T = torch.nn.utils


def models(dtype="float64", unused=False):
    """The same two-layer model in ember and torch, after one backward pass. With
    ``unused``, a third layer takes no part in the loss, so its gradients stay None."""
    torch.manual_seed(0)
    layers = [("Linear", (3, 4)), ("Tanh", ()), ("Linear", (4, 2))]
    t = torch.nn.Sequential(*[getattr(torch.nn, n)(*a) for n, a in layers])
    e = ember.nn.Sequential(*[getattr(ember.nn, n)(*a) for n, a in layers])
    if unused:
        t.append(torch.nn.Linear(2, 2))
        e.append(ember.nn.Linear(2, 2))
    t.to(DTYPES[dtype][1])
    e.to(DTYPES[dtype][0])
    copy_from_torch(e, t)
    x = np.random.default_rng(0).uniform(-3, 3, (5, 3)).astype(dtype)
    for lib, model in ((ember, e), (torch, t)):
        out = model[:3](lib.tensor(x)) if unused else model(lib.tensor(x))
        (out ** 2).sum().backward()
    return e, t


def assert_same_grads(e, t, dtype):
    for (name, ep), tp in zip(e.named_parameters(), t.parameters()):
        if tp.grad is None:
            assert ep.grad is None, name
        else:
            assert_same(ep.grad, tp.grad, dtype, f"gradient of {name}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, float("inf"), "inf", 0.5])
@pytest.mark.parametrize("max_norm", [1e-2, 1.0, 1e4])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    e, t = models(dtype)
    e_norm = clip_grad_norm_(e.parameters(), max_norm, norm_type)
    t_norm = T.clip_grad_norm_(t.parameters(), max_norm, norm_type)
    assert_same(e_norm, t_norm, dtype, "total norm")
    assert e_norm.shape == () and not e_norm.requires_grad
    assert_same_grads(e, t, dtype)


def test_large_max_norm_leaves_gradients_unchanged_and_small_one_reaches_it():
    e, _ = models()
    before = [p.grad.numpy().copy() for p in e.parameters()]
    total = clip_grad_norm_(e.parameters(), 1e6).item()
    for b, p in zip(before, e.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), b)
    clip_grad_norm_(e.parameters(), total / 10)
    np.testing.assert_allclose(get_total_norm([p.grad for p in e.parameters()]).item(),
                               total / 10, rtol=1e-6)


@pytest.mark.parametrize("norm_type", [2.0, float("inf")])
def test_parameters_without_gradient_are_skipped(norm_type):
    e, t = models(unused=True)
    assert e[3].weight.grad is None
    e_norm = clip_grad_norm_(e.parameters(), 0.5, norm_type)
    t_norm = T.clip_grad_norm_(t.parameters(), 0.5, norm_type)
    assert_same(e_norm, t_norm)
    assert_same_grads(e, t, "float64")
    assert e[3].weight.grad is None and e[3].bias.grad is None


def test_single_tensor_and_list_inputs():
    for parameters in (lambda m: m[0].weight, lambda m: [m[0].weight, m[2].bias]):
        e, t = models()
        assert_same(clip_grad_norm_(parameters(e), 0.3), T.clip_grad_norm_(parameters(t), 0.3))
        assert_same_grads(e, t, "float64")
        clip_grad_value_(parameters(e), 0.01)
        T.clip_grad_value_(parameters(t), 0.01)
        assert_same_grads(e, t, "float64")


@pytest.mark.parametrize("bad", [float("inf"), float("nan")])
def test_error_if_nonfinite(bad):
    e, t = models()
    for model in (e, t):
        model[0].weight.grad[0, 0] = bad
    with pytest.raises(RuntimeError, match="non-finite"):
        T.clip_grad_norm_(t.parameters(), 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        clip_grad_norm_(e.parameters(), 1.0, error_if_nonfinite=True)
    # Without the flag, the gradients are scaled by the non-finite norm anyway.
    e_norm = clip_grad_norm_(e.parameters(), 1.0)
    t_norm = T.clip_grad_norm_(t.parameters(), 1.0)
    np.testing.assert_array_equal(e_norm.numpy(), t_norm.numpy())
    for ep, tp in zip(e.parameters(), t.parameters()):
        np.testing.assert_array_equal(ep.grad.numpy(), tp.grad.numpy())


def test_empty_inputs():
    for lib, fn in ((ember, clip_grad_norm_), (torch, T.clip_grad_norm_)):
        with pytest.warns(UserWarning, match="empty generator"):
            assert fn((p for p in []), 1.0).item() == 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            norm = fn([], 1.0)
        assert norm.item() == 0.0 and str(norm.dtype).endswith("float32")
        assert fn([lib.zeros(2, requires_grad=True)], 1.0).item() == 0.0


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_get_total_norm_and_clip_grads_with_norm(dtype):
    e, t = models(dtype)
    e_grads = [p.grad for p in e.parameters()]
    t_grads = [p.grad for p in t.parameters()]
    for p in (2.0, 1.0, float("inf"), 4.0):
        assert_same(get_total_norm(e_grads, p), T.get_total_norm(t_grads, p), dtype)
    assert_same(get_total_norm(e_grads[0]), T.get_total_norm(t_grads[0]), dtype)
    e_total, t_total = get_total_norm(e_grads), T.get_total_norm(t_grads)
    clip_grads_with_norm_(e.parameters(), 0.25, e_total, foreach=True)
    T.clip_grads_with_norm_(t.parameters(), 0.25, t_total)
    assert_same_grads(e, t, dtype)


def test_mixed_dtypes_give_the_promoted_norm():
    grads = [np.arange(3.0), np.ones((2, 2))]
    e = get_total_norm([ember.tensor(grads[0], dtype=ember.float32),
                        ember.tensor(grads[1], dtype=ember.float64)])
    t = T.get_total_norm([torch.tensor(grads[0], dtype=torch.float32),
                          torch.tensor(grads[1], dtype=torch.float64)])
    assert_same(e, t)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("clip_value", [0.05, 1, 100.0])
def test_clip_grad_value_matches_torch(clip_value, dtype):
    e, t = models(dtype, unused=True)
    assert clip_grad_value_(e.parameters(), clip_value) is None
    T.clip_grad_value_(t.parameters(), clip_value)
    assert_same_grads(e, t, dtype)


def test_clipping_keeps_the_gradient_tensors_and_runs_outside_autograd():
    e, _ = models()
    grads = [p.grad for p in e.parameters()]
    clip_grad_norm_(e.parameters(), 0.1)
    clip_grad_value_(e.parameters(), 0.001)
    assert all(p.grad is g for p, g in zip(e.parameters(), grads))
    assert all(g.grad_fn is None and not g.requires_grad for g in grads)


def test_deprecated_clip_grad_norm_warns_and_clips():
    e, t = models()
    with pytest.warns(FutureWarning, match="clip_grad_norm_"):
        e_norm = clip_grad_norm(e.parameters(), 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_norm = T.clip_grad_norm(t.parameters(), 0.5)
    assert_same(e_norm, t_norm)
    assert_same_grads(e, t, "float64")
