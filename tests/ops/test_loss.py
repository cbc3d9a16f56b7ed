"""Loss behaviour the op table cannot express: errors, edge cases, legacy arguments."""

import warnings

import numpy as np
import pytest
import torch

import ember

EF, TF = ember.nn.functional, torch.nn.functional


def _both(fn, *arrays, grad=False):
    """``fn`` run on ember and on torch tensors made from the same arrays."""
    e = [ember.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    t = [torch.tensor(a, requires_grad=grad and a.dtype.kind == "f") for a in arrays]
    return (fn(EF, *e), e), (fn(TF, *t), t)


def test_all_targets_ignored_gives_nan_like_torch():
    x = np.random.default_rng(0).standard_normal((3, 4))
    y = np.array([-100, -100, -100])
    for kw in ({}, {"label_smoothing": 0.2}, {"weight": None}):
        (e, _), (t, _) = _both(lambda F, a, b, kw=kw: F.cross_entropy(a, b, **kw), x, y)
        assert np.isnan(e.item()) and np.isnan(t.item())


def test_empty_batch_mean_is_nan():
    e = EF.cross_entropy(ember.zeros(0, 5), ember.zeros(0, dtype=ember.int64))
    assert np.isnan(e.item())
    assert np.isnan(EF.mse_loss(ember.zeros(0), ember.zeros(0)).item())


def test_cross_entropy_out_of_bounds_target_names_the_class():
    x = ember.randn(3, 10)
    with pytest.raises(IndexError, match="cross_entropy: target 12 is out of bounds for 10"):
        EF.cross_entropy(x, ember.tensor([1, 12, 3]))
    with pytest.raises(IndexError, match="nll_loss: target -1 is out of bounds"):
        EF.nll_loss(x, ember.tensor([1, -1, 3]))


def test_cross_entropy_target_shape_mismatch():
    with pytest.raises(ValueError, match=r"cross_entropy: expected a target of shape \(3,\).*"
                                         r"\(3, 5\), got \(2,\)"):
        EF.cross_entropy(ember.randn(3, 5), ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match=r"cross_entropy: expected class indices .*float32"):
        EF.cross_entropy(ember.randn(3, 5), ember.rand(3, 4))


def test_cross_entropy_option_errors():
    x, y = ember.randn(3, 5), ember.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0"):
        EF.cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(RuntimeError, match=r"weight should be defined for all 5 classes"):
        EF.cross_entropy(x, y, weight=ember.ones(4))
    with pytest.raises(ValueError, match="avg is not a valid value for reduction"):
        EF.cross_entropy(x, y, reduction="avg")
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        EF.cross_entropy(x, ember.rand(3, 5), ignore_index=1)


def test_integer_targets_of_other_widths_are_accepted():
    x = np.random.default_rng(1).standard_normal((3, 5))
    for dtype in (np.int32, np.uint8):
        e = EF.cross_entropy(ember.tensor(x), ember.tensor(np.array([1, 2, 4], dtype)))
        t = TF.cross_entropy(torch.tensor(x), torch.tensor([1, 2, 4]))
        np.testing.assert_allclose(e.item(), t.item(), rtol=1e-12)


def test_legacy_size_average_and_reduce():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    for size_average, reduce in [(False, None), (None, False), (True, True)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (e, _), (t, _) = _both(lambda F, a, b, s=size_average, r=reduce: F.nll_loss(
                a, b, size_average=s, reduce=r), x, y)
        np.testing.assert_allclose(e.numpy(), t.detach().numpy(), rtol=1e-12)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        EF.mse_loss(ember.tensor(x), ember.tensor(x), size_average=False)


@pytest.mark.parametrize("kw", [
    {}, {"label_smoothing": 0.3}, {"weight": [0.5, 2.0, 1.0]},
    {"weight": [0.5, 2.0, 1.0], "label_smoothing": 0.2, "ignore_index": 1},
])
def test_cross_entropy_double_backward_matches_torch(kw):
    rng = np.random.default_rng(3)
    x, y, c = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1]), rng.standard_normal((4, 3))
    results = []
    for m, F in ((ember, EF), (torch, TF)):
        args = dict(kw)
        if "weight" in args:
            args["weight"] = m.tensor(args["weight"], dtype=m.float64)
        xt = m.tensor(x, requires_grad=True)
        loss = F.cross_entropy(xt, m.tensor(y), **args)
        (g,) = m.autograd.grad(loss, xt, create_graph=True)
        (gg,) = m.autograd.grad((g * m.tensor(c)).sum(), xt)
        results.append(gg.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-8, atol=1e-12)


def test_cross_entropy_probability_target_gradient_matches_torch():
    rng = np.random.default_rng(4)
    x, p = rng.standard_normal((2, 4, 3)), rng.uniform(0, 1, (2, 4, 3))
    (e, e_in), (t, t_in) = _both(lambda F, a, b: F.cross_entropy(
        a, b, weight=None, label_smoothing=0.1), x, p, grad=True)
    e.backward()
    t.backward()
    for a, b in zip(e_in, t_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10)


def test_cross_entropy_float32_stays_float32():
    x = ember.randn(4, 3, requires_grad=True)
    loss = EF.cross_entropy(x, ember.tensor([0, 1, 2, 0]), label_smoothing=0.1)
    loss.backward()
    assert loss.dtype == ember.float32 and x.grad.dtype == ember.float32


def test_binary_cross_entropy_clamps_log_and_checks_range():
    x = np.array([0.0, 1.0, 0.5, 1.0])
    y = np.array([1.0, 0.0, 1.0, 1.0])
    (e, _), (t, _) = _both(lambda F, a, b: F.binary_cross_entropy(a, b, reduction="none"), x, y)
    np.testing.assert_allclose(e.numpy(), t.numpy())
    with pytest.raises(RuntimeError, match="binary_cross_entropy: all elements of input should "
                                           "be between 0 and 1"):
        EF.binary_cross_entropy(ember.tensor([1.5]), ember.tensor([1.0]))
    with pytest.raises(ValueError, match=r"target of shape \(3,\) .* input's shape \(3, 1\)"):
        EF.binary_cross_entropy(ember.rand(3, 1), ember.rand(3))


def test_bce_with_logits_is_stable_for_large_logits():
    x = np.array([-200.0, -50.0, 0.0, 50.0, 200.0])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    (e, _), (t, _) = _both(lambda F, a, b: F.binary_cross_entropy_with_logits(
        a, b, reduction="none"), x, y)
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12)


def test_gaussian_nll_clamped_var_gradient_matches_torch():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal(4), rng.standard_normal(4)
    var = np.array([1e-9, 0.5, 2e-7, 1.0])
    (e, e_in), (t, t_in) = _both(lambda F, a, b, v: F.gaussian_nll_loss(a, b, v), x, y, var,
                                 grad=True)
    np.testing.assert_allclose(e.item(), t.item(), rtol=1e-10)
    e.backward()
    t.backward()
    for a, b in zip(e_in, t_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative"):
        EF.gaussian_nll_loss(ember.zeros(3), ember.zeros(3), ember.tensor([1.0, -1, 1]))
    with pytest.raises(ValueError, match=r"var of shape \(2,\) is of incorrect size"):
        EF.gaussian_nll_loss(ember.zeros(3, 4), ember.zeros(3, 4), ember.ones(2))


def test_mse_loss_warns_on_broadcast_and_checks_weight():
    with pytest.warns(UserWarning, match="Using a target size"):
        EF.mse_loss(ember.zeros(3, 4), ember.zeros(4))
    with pytest.raises(ValueError, match=r"mse_loss: weight of shape \(4,\)"):
        EF.mse_loss(ember.zeros(3, 4), ember.zeros(3, 4), weight=ember.ones(4))


def test_kl_div_mean_warns():
    with pytest.warns(UserWarning, match="batchmean"):
        EF.kl_div(ember.zeros(3), ember.ones(3) / 3)


def test_multi_margin_loss_errors():
    with pytest.raises(IndexError, match="multi_margin_loss: target 3 is out of bounds for 3"):
        EF.multi_margin_loss(ember.randn(2, 3), ember.tensor([0, 3]))
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        EF.multi_margin_loss(ember.randn(2, 3), ember.tensor([0, 1]), p=3)
