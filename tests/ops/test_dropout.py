"""Dropout in training: the masks are random (and not PyTorch's), so their properties are
tested: the fraction dropped, the scale, reproducibility under a seed, channel-wise
zeroing, gradients equal to mask times scale; plus eval mode, p = 0/1 and errors."""

import math
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.ops import dropout as family

EF, TF = ember.nn.functional, torch.nn.functional
ALPHA = 1.7580993408473766  # SELU's -scale * alpha


def test_names_exist_in_torch():
    for name in family.__all__:
        assert hasattr(torch, name), name
        assert hasattr(ember, name), name
    for name in family.FUNCTIONAL:
        assert hasattr(TF, name), name
        assert hasattr(EF, name), name


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_fraction_dropped_and_scale(p):
    ember.manual_seed(0)
    x = ember.ones(200_000, dtype=ember.float64)
    y = EF.dropout(x, p).numpy()
    dropped = y == 0
    assert abs(dropped.mean() - p) < 0.01
    np.testing.assert_allclose(y[~dropped], 1 / (1 - p))
    assert abs(y.mean() - 1.0) < 0.03  # the expected value is preserved


def test_mean_preserved_on_random_input():
    ember.manual_seed(1)
    x = ember.rand(100_000, dtype=ember.float64) + 1
    y = EF.dropout(x, 0.3)
    assert abs(y.mean().item() - x.mean().item()) < 0.02


def test_same_seed_same_mask_and_successive_calls_differ():
    x = ember.ones(1000)
    ember.manual_seed(42)
    a = EF.dropout(x, 0.5).numpy()
    b = EF.dropout(x, 0.5).numpy()
    ember.manual_seed(42)
    again = EF.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, again)
    assert (a != b).any()


def test_rng_state_restores_the_mask():
    x = ember.ones(100)
    state = ember.get_rng_state()
    a = EF.dropout(x, 0.5).numpy()
    ember.set_rng_state(state)
    np.testing.assert_array_equal(EF.dropout(x, 0.5).numpy(), a)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.nn.functional.dropout(x, 0.5, training=False),
    lambda m, x: m.nn.functional.dropout(x, 0.0),
    lambda m, x: m.nn.functional.dropout2d(x, 0.5, training=False),
    lambda m, x: m.nn.functional.alpha_dropout(x, 0.5),
    lambda m, x: m.nn.functional.feature_alpha_dropout(x, 0.5),
    lambda m, x: m.dropout(x, 0.5, False),
])
def test_identity_returns_the_input_itself_like_torch(fn):
    t = torch.ones(2, 3, 4, 4)
    assert fn(torch, t) is t
    e = ember.ones(2, 3, 4, 4)
    assert fn(ember, e) is e


@pytest.mark.parametrize("p", [0.3, 0.6])
def test_gradient_is_mask_times_scale(p):
    ember.manual_seed(3)
    x = ember.rand(50, 40, dtype=ember.float64, requires_grad=True)
    y = EF.dropout(x * 1 + 1, p)
    g = np.random.default_rng(0).standard_normal((50, 40))
    y.backward(ember.tensor(g))
    kept = y.detach().numpy() != 0
    np.testing.assert_allclose(x.grad.numpy(), g * kept / (1 - p))


def test_gradient_of_gradient_through_dropout():
    ember.manual_seed(4)
    x = ember.rand(30, dtype=ember.float64, requires_grad=True)
    y = EF.dropout(x, 0.5)
    (g,) = ember.autograd.grad((y * y).sum(), x, create_graph=True)
    (gg,) = ember.autograd.grad(g.sum(), x)
    kept = y.detach().numpy() != 0
    np.testing.assert_allclose(gg.numpy(), 2 * kept * 4.0)  # d/dx 2 (m s)^2 x, s = 2


def test_p_one_gives_zeros_and_zero_gradient():
    for lib in (ember, torch):
        x = lib.ones(3, 4, requires_grad=True)
        y = lib.nn.functional.dropout(x, 1.0)
        y.sum().backward()
        assert not y.detach().numpy().any()
        assert not x.grad.numpy().any()


@pytest.mark.parametrize("name", ["dropout", "dropout1d", "dropout2d", "dropout3d",
                                  "alpha_dropout", "feature_alpha_dropout"])
@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_p_outside_unit_interval_raises(name, p):
    with pytest.raises(ValueError, match="between 0 and 1"):
        getattr(TF, name)(torch.ones(2, 3, 4, 4), p)
    with pytest.raises(ValueError, match="between 0 and 1"):
        getattr(EF, name)(ember.ones(2, 3, 4, 4), p)


def _channels_all_or_nothing(y, lead):
    """Each channel (the first ``lead`` dims index channels) is all zero or all nonzero."""
    flat = y.reshape(int(np.prod(y.shape[:lead])), -1)
    zero = (flat == 0).all(axis=1)
    assert ((flat != 0).all(axis=1) | zero).all()
    return zero


def test_dropout2d_zeroes_whole_channels():
    ember.manual_seed(5)
    x = ember.rand(40, 50, 3, 3) + 1
    y = EF.dropout2d(x, 0.4).numpy()
    zero = _channels_all_or_nothing(y, 2)
    assert abs(zero.mean() - 0.4) < 0.05
    kept = y[y != 0]
    np.testing.assert_allclose(kept, (x.numpy()[y != 0]) / 0.6, rtol=1e-6)


@pytest.mark.parametrize("fn,shape,lead", [
    (lambda x: EF.dropout1d(x, 0.5), (8, 16, 5), 2),
    (lambda x: EF.dropout1d(x, 0.5), (16, 5), 1),
    (lambda x: EF.dropout3d(x, 0.5), (4, 8, 2, 2, 2), 2),
    (lambda x: EF.dropout3d(x, 0.5), (8, 2, 2, 2), 1),
    (lambda x: ember.feature_dropout(x, 0.5, True), (8, 16, 3), 2),
])
def test_feature_dropout_variants_are_channelwise(fn, shape, lead):
    ember.manual_seed(6)
    y = fn(ember.rand(*shape) + 1).numpy()
    assert y.shape == shape
    zero = _channels_all_or_nothing(y, lead)
    assert 0 < zero.mean() < 1


def test_dropout1d_and_feature_dropout_shape_errors():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
            lib.nn.functional.dropout1d(lib.ones(4), 0.5)
        with pytest.raises(RuntimeError, match="at least 2 dimensions"):
            lib.feature_dropout(lib.ones(4), 0.5, True)


@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4)])
def test_dropout2d_warns_about_ranks_like_torch(shape):
    with pytest.warns(UserWarning, match="dropout2d"):
        TF.dropout2d(torch.ones(*shape), 0.5)
    with pytest.warns(UserWarning, match="dropout2d"):
        EF.dropout2d(ember.ones(*shape), 0.5)


def test_dropout2d_4d_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EF.dropout2d(ember.ones(2, 3, 4, 4), 0.5)


def test_alpha_dropout_keeps_mean_and_variance():
    ember.manual_seed(7)
    x = ember.randn(200_000, dtype=ember.float64)
    y = EF.alpha_dropout(x, 0.2, training=True).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1) < 0.02
    t = TF.alpha_dropout(torch.randn(200_000, dtype=torch.float64), 0.2, training=True)
    assert abs(t.mean().item()) < 0.02 and abs(t.std().item() - 1) < 0.02


def test_alpha_dropout_values_and_gradient():
    p = 0.3
    a = 1 / math.sqrt((ALPHA ** 2 * p + 1) * (1 - p))
    ember.manual_seed(8)
    x = ember.randn(1000, dtype=ember.float64, requires_grad=True)
    y = EF.alpha_dropout(x, p, training=True)
    yv, xv = y.detach().numpy(), x.detach().numpy()
    dropped = np.isclose(yv, -ALPHA * a * (1 - p))
    assert abs(dropped.mean() - p) < 0.05
    np.testing.assert_allclose(yv[~dropped], a * xv[~dropped] + ALPHA * a * p)
    (g,) = ember.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(g.numpy(), a * ~dropped)


def test_feature_alpha_dropout_is_channelwise():
    ember.manual_seed(9)
    y = EF.feature_alpha_dropout(ember.randn(10, 20, 6), 0.5, training=True).numpy()
    per_channel = y.reshape(200, 6)
    constant = np.ptp(per_channel, axis=1) == 0  # dropped channels hold one value
    assert 0.3 < constant.mean() < 0.7


def test_inplace_overwrites_input_and_gradient_uses_mask():
    ember.manual_seed(10)
    x = ember.ones(100, dtype=ember.float64, requires_grad=True)
    a = x * 2
    out = EF.dropout(a, 0.5, inplace=True)
    assert out is a
    kept = a.detach().numpy() != 0
    np.testing.assert_allclose(a.detach().numpy()[kept], 4.0)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 4.0 * kept)


@pytest.mark.parametrize("fn,shape", [
    (lambda x: ember.dropout_(x, 0.5, True), (4, 8, 3)),
    (lambda x: ember.feature_dropout_(x, 0.5, True), (4, 8, 3)),
    (lambda x: ember.alpha_dropout_(x, 0.5, True), (4, 8, 3)),
    (lambda x: ember.feature_alpha_dropout_(x, 0.5, True), (4, 8, 3)),
    (lambda x: EF.dropout1d(x, 0.5, inplace=True), (8, 3)),
    (lambda x: EF.dropout2d(x, 0.5, inplace=True), (4, 8, 3, 3)),
    (lambda x: EF.dropout3d(x, 0.5, inplace=True), (8, 3, 3, 3)),
])
def test_inplace_forms_overwrite_the_input(fn, shape):
    ember.manual_seed(11)
    x = ember.ones(*shape)
    assert fn(x) is x
    assert (x.numpy() != 1).any()


def test_inplace_on_leaf_that_requires_grad_raises():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="leaf"):
            lib.nn.functional.dropout(lib.ones(3, requires_grad=True), 0.5, inplace=True)


def test_integer_input():
    for lib in (ember, torch):
        x = lib.tensor([1, 2, 3])
        with pytest.raises(RuntimeError):
            lib.nn.functional.dropout(x, 0.5)
        assert lib.nn.functional.dropout(x, 0.5, training=False) is x


def test_float32_stays_float32():
    y = EF.dropout(ember.ones(10, dtype=ember.float32), 0.5)
    assert y.dtype == ember.float32
    y = EF.alpha_dropout(ember.ones(10, dtype=ember.float32), 0.5, training=True)
    assert y.dtype == ember.float32
