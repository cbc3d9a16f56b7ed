"""ember.nn.init against torch.nn.init: gains, fans, exact fills, and the statistics of
random fills (the generators differ, so distributions are compared, not values)."""

import math

import numpy as np
import pytest
import torch

import ember
from ember.nn import init

NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                  "leaky_relu", "selu"]


@pytest.mark.parametrize("name", NONLINEARITIES)
def test_calculate_gain_matches_torch(name):
    assert init.calculate_gain(name) == torch.nn.init.calculate_gain(name)


@pytest.mark.parametrize("param", [None, 0.2, 1, 0])
def test_leaky_relu_gain_uses_the_slope_like_torch(param):
    assert init.calculate_gain("leaky_relu", param) == \
        torch.nn.init.calculate_gain("leaky_relu", param)


@pytest.mark.parametrize("args", [("leaky_relu", True), ("leaky_relu", "0.1"), ("gelu",)])
def test_calculate_gain_errors_match_torch(args):
    with pytest.raises(ValueError) as t_err:
        torch.nn.init.calculate_gain(*args)
    with pytest.raises(ValueError) as e_err:
        init.calculate_gain(*args)
    assert str(e_err.value) == str(t_err.value)


@pytest.mark.parametrize("shape", [(2, 3), (4, 3, 5), (4, 3, 2, 2), (2, 3, 1, 1, 2), (0, 3)])
def test_fans_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(ember.empty(shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))


@pytest.mark.parametrize("fn", ["_calculate_fan_in_and_fan_out", "xavier_uniform_",
                                "xavier_normal_", "kaiming_uniform_", "kaiming_normal_"])
@pytest.mark.parametrize("shape", [(5,), ()])
def test_fans_of_fewer_than_two_dims_raise_like_torch(fn, shape):
    with pytest.raises(ValueError) as t_err:
        getattr(torch.nn.init, fn)(torch.empty(shape))
    with pytest.raises(ValueError) as e_err:
        getattr(init, fn)(ember.empty(shape))
    assert str(e_err.value) == str(t_err.value)


def test_fills_work_in_place_on_parameters_and_return_them():
    p = ember.nn.Parameter(ember.empty(3, 4))
    for fn, args in [(init.uniform_, (-1, 1)), (init.normal_, (0, 2)), (init.constant_, (0.3,)),
                     (init.ones_, ()), (init.zeros_, ()), (init.xavier_uniform_, ()),
                     (init.kaiming_normal_, ()), (init.orthogonal_, ()), (init.eye_, ()),
                     (init.trunc_normal_, ()), (init.sparse_, (0.5,))]:
        assert fn(p, *args) is p
        assert p.requires_grad and p.is_leaf and p.grad_fn is None
    np.testing.assert_array_equal(init.constant_(p, 0.3).detach().numpy(),
                                  np.full((3, 4), 0.3, np.float32))
    np.testing.assert_array_equal(init.ones_(p).detach().numpy(), np.ones((3, 4)))
    np.testing.assert_array_equal(init.zeros_(p).detach().numpy(), np.zeros((3, 4)))


def test_fills_keep_the_dtype():
    t = ember.empty(20, 30, dtype=ember.float64)
    for fn in (init.uniform_, init.normal_, init.trunc_normal_, init.orthogonal_,
               init.xavier_normal_, init.kaiming_uniform_, init.eye_):
        assert fn(t).dtype == ember.float64


def _stats(values):
    values = np.asarray(values, dtype=np.float64)
    return values.mean(), values.std(), values.min(), values.max()


def _compare_to_torch(name, shape, *args, **kwargs):
    """Sample statistics of ember's fill against torch's: mean, std and range."""
    e = getattr(init, name)(ember.empty(shape, dtype=ember.float64), *args, **kwargs)
    t = getattr(torch.nn.init, name)(torch.empty(shape, dtype=torch.float64), *args, **kwargs)
    e_stats, t_stats = _stats(e.numpy()), _stats(t.numpy())
    # Five standard errors of the difference of two samples' means and stds.
    n, scale = math.prod(shape), t_stats[1]
    assert abs(e_stats[0] - t_stats[0]) < 5 * math.sqrt(2 / n) * scale, "mean"
    assert abs(e_stats[1] - t_stats[1]) < 5 / math.sqrt(n) * scale, "std"
    return e.numpy(), t.numpy()


@pytest.mark.parametrize("a, b", [(0, 1), (-3, 0.5)])
def test_uniform_matches_torchs_distribution(a, b):
    e, _ = _compare_to_torch("uniform_", (200, 200), a, b)
    assert e.min() >= a and e.max() <= b
    assert abs(e.std() - (b - a) / math.sqrt(12)) < 0.02 * (b - a)


@pytest.mark.parametrize("mean, std", [(0, 1), (2, 0.1)])
def test_normal_matches_torchs_distribution(mean, std):
    e, _ = _compare_to_torch("normal_", (200, 200), mean, std)
    assert abs(e.mean() - mean) < 0.05 * std and abs(e.std() - std) < 0.03 * std


@pytest.mark.parametrize("shape, gain", [((200, 300), 1.0), ((64, 32, 3, 3), 2.0)])
def test_xavier_uniform_bound_and_std(shape, gain):
    e, _ = _compare_to_torch("xavier_uniform_", shape, gain=gain)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(e).max() <= bound and np.abs(e).max() > 0.99 * bound
    assert abs(e.std() - bound / math.sqrt(3)) < 0.03 * bound


@pytest.mark.parametrize("shape, gain", [((200, 300), 1.0), ((64, 32, 3, 3), 0.5)])
def test_xavier_normal_std(shape, gain):
    e, _ = _compare_to_torch("xavier_normal_", shape, gain=gain)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    assert abs(e.std() - std) < 0.03 * std


KAIMING = [({}, (300, 200)), ({"a": math.sqrt(5)}, (300, 200)),
           ({"mode": "fan_out", "nonlinearity": "relu"}, (32, 64, 3, 3)),
           ({"mode": "FAN_IN", "nonlinearity": "tanh"}, (100, 400)),
           ({"a": 0.2, "nonlinearity": "leaky_relu"}, (64, 80, 5))]


@pytest.mark.parametrize("kwargs, shape", KAIMING)
def test_kaiming_uniform_bound_and_std(kwargs, shape):
    e, _ = _compare_to_torch("kaiming_uniform_", shape, **kwargs)
    std = _kaiming_std(shape, **kwargs)
    bound = math.sqrt(3) * std
    assert np.abs(e).max() <= bound and np.abs(e).max() > 0.99 * bound
    assert abs(e.std() - std) < 0.03 * std


@pytest.mark.parametrize("kwargs, shape", KAIMING)
def test_kaiming_normal_std(kwargs, shape):
    e, _ = _compare_to_torch("kaiming_normal_", shape, **kwargs)
    std = _kaiming_std(shape, **kwargs)
    assert abs(e.std() - std) < 0.03 * std


def _kaiming_std(shape, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    fan = fan_in if mode.lower() == "fan_in" else fan_out
    return torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)


def test_kaiming_bad_mode_raises_like_torch():
    with pytest.raises(ValueError) as t_err:
        torch.nn.init.kaiming_uniform_(torch.empty(3, 4), mode="fan_avg")
    with pytest.raises(ValueError) as e_err:
        init.kaiming_uniform_(ember.empty(3, 4), mode="fan_avg")
    assert str(e_err.value) == str(t_err.value)


@pytest.mark.parametrize("fn", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_on_zero_elements_warns_and_does_nothing(fn):
    t = ember.empty(0, 3)
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        assert getattr(init, fn)(t) is t


@pytest.mark.parametrize("mean, std, a, b", [(0, 1, -2, 2), (0.5, 0.02, 0.47, 0.55),
                                             (0, 1, 1.5, 3), (0, 1, -0.1, 0.1)])
def test_trunc_normal_respects_bounds_and_matches_torchs_distribution(mean, std, a, b):
    e, _ = _compare_to_torch("trunc_normal_", (200, 200), mean, std, a, b)
    assert e.min() >= a and e.max() <= b
    assert e.min() < a + 0.05 * (b - a) and e.max() > b - 0.05 * (b - a)


def test_trunc_normal_float32_bounds():
    e = init.trunc_normal_(ember.empty(50000), std=0.02, a=-0.04, b=0.04).numpy()
    assert e.dtype == np.float32
    assert e.min() >= np.float32(-0.04) and e.max() <= np.float32(0.04)


def test_trunc_normal_warns_when_the_mean_is_far_from_the_interval():
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(ember.empty(10), mean=5.0, std=1.0, a=-1.0, b=1.0)


@pytest.mark.parametrize("shape", [(6, 6), (8, 3), (3, 8), (4, 2, 3, 2), (1, 5)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    for gain in (1.0, 2.5):
        w = init.orthogonal_(ember.empty(shape, dtype=ember.float64), gain=gain).numpy()
        flat = w.reshape(shape[0], -1) / gain
        small = min(flat.shape)
        product = flat @ flat.T if flat.shape[0] == small else flat.T @ flat
        np.testing.assert_allclose(product, np.eye(small), atol=1e-12)
        t = torch.nn.init.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=gain)
        np.testing.assert_allclose(np.linalg.norm(w), np.linalg.norm(t.numpy()), rtol=1e-12)


def test_orthogonal_sign_correction_makes_the_distribution_uniform():
    # Without it, QR's diagonal convention biases Q's diagonal; with it the mean is ~0.
    g = ember.Generator().manual_seed(0)
    diagonals = [init.orthogonal_(ember.empty(3, 3, dtype=ember.float64), generator=g)
                 .numpy().diagonal() for _ in range(2000)]
    assert np.abs(np.mean(diagonals, axis=0)).max() < 0.05


def test_orthogonal_errors_match_torch():
    with pytest.raises(ValueError) as t_err:
        torch.nn.init.orthogonal_(torch.empty(3))
    with pytest.raises(ValueError) as e_err:
        init.orthogonal_(ember.empty(3))
    assert str(e_err.value) == str(t_err.value)
    assert init.orthogonal_(ember.empty(0, 3)).shape == (0, 3)


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2)])
def test_eye_matches_torch_exactly(shape):
    np.testing.assert_array_equal(init.eye_(ember.empty(shape)).numpy(),
                                  torch.nn.init.eye_(torch.empty(shape)).numpy())


@pytest.mark.parametrize("shape, groups", [((4, 4, 3), 1), ((6, 2, 3, 3), 3),
                                           ((4, 6, 2, 4), 2), ((2, 3, 3, 2, 5), 1),
                                           ((8, 2, 5), 2)])
def test_dirac_matches_torch_exactly(shape, groups):
    np.testing.assert_array_equal(
        init.dirac_(ember.empty(shape), groups).numpy(),
        torch.nn.init.dirac_(torch.empty(shape), groups).numpy())


def test_dirac_makes_a_convolution_the_identity():
    conv = ember.nn.Conv2d(3, 3, 3, padding=1, bias=False)
    init.dirac_(conv.weight)
    x = ember.randn(2, 3, 5, 5)
    np.testing.assert_allclose(conv(x).detach().numpy(), x.numpy(), atol=1e-6)


@pytest.mark.parametrize("fn, shape, args", [("eye_", (2, 2, 2), ()), ("dirac_", (2, 2), ()),
                                             ("dirac_", (3, 2, 2), (2,)),
                                             ("sparse_", (2, 2, 2), (0.1,))])
def test_shape_errors_match_torch(fn, shape, args):
    with pytest.raises(ValueError) as t_err:
        getattr(torch.nn.init, fn)(torch.empty(shape), *args)
    with pytest.raises(ValueError) as e_err:
        getattr(init, fn)(ember.empty(shape), *args)
    assert str(e_err.value) == str(t_err.value)


@pytest.mark.parametrize("sparsity", [0.1, 0.5, 0.34])
def test_sparse_zeroes_the_same_number_per_column_as_torch(sparsity):
    e = init.sparse_(ember.empty(30, 40, dtype=ember.float64), sparsity, std=0.5).numpy()
    t = torch.nn.init.sparse_(torch.empty(30, 40, dtype=torch.float64), sparsity, std=0.5)
    np.testing.assert_array_equal((e == 0).sum(axis=0), (t.numpy() == 0).sum(axis=0))
    assert abs(e[e != 0].std() - 0.5) < 0.05


def test_generator_makes_fills_reproducible():
    draws = []
    for _ in range(2):
        g = ember.Generator().manual_seed(7)
        draws.append([getattr(init, fn)(ember.empty(4, 5), generator=g).numpy() for fn in (
            "uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_",
            "kaiming_uniform_", "kaiming_normal_", "orthogonal_")])
        draws[-1].append(init.sparse_(ember.empty(4, 5), 0.5, generator=g).numpy())
    for a, b in zip(*draws):
        np.testing.assert_array_equal(a, b)


def test_global_seed_makes_fills_reproducible():
    ember.manual_seed(11)
    a = init.kaiming_uniform_(ember.empty(3, 4)).numpy()
    ember.manual_seed(11)
    b = init.kaiming_uniform_(ember.empty(3, 4)).numpy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("old, args", [("uniform", ()), ("normal", ()), ("constant", (1.0,)),
                                       ("eye", ()), ("xavier_uniform", ()), ("xavier_normal", ()),
                                       ("kaiming_uniform", ()), ("kaiming_normal", ()),
                                       ("orthogonal", ()), ("sparse", (0.1,))])
def test_deprecated_names_warn_and_work(old, args):
    with pytest.warns(FutureWarning, match=f"nn.init.{old}_"):
        out = getattr(init, old)(ember.empty(3, 4), *args)
    assert out.shape == (3, 4)


def test_public_names_match_torch():
    assert sorted(init.__all__) == sorted(torch.nn.init.__all__)
