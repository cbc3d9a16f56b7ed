"""Dropout layers: identity in eval, torch's statistics and masks' shapes in training."""

import numpy as np
import pytest
import torch

import ember

NAMES = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
         "FeatureAlphaDropout"]
SHAPES = {"Dropout": (40, 50), "Dropout1d": (8, 50, 5), "Dropout2d": (8, 50, 2, 3),
          "Dropout3d": (8, 50, 2, 1, 3), "AlphaDropout": (40, 50),
          "FeatureAlphaDropout": (8, 50, 5)}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kwargs", [{}, {"p": 0.2}, {"p": 0.7, "inplace": True}, {"p": 0}])
def test_repr_and_attributes_match_torch(name, kwargs):
    e, t = getattr(ember.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(e) == repr(t)
    assert (e.p, e.inplace) == (t.p, t.inplace)
    assert list(e.state_dict()) == []


@pytest.mark.parametrize("name", NAMES)
def test_eval_is_the_identity(name):
    layer = getattr(ember.nn, name)(0.5).eval()
    x = ember.randn(*SHAPES[name], requires_grad=True)
    y = layer(x)
    np.testing.assert_array_equal(y.detach().numpy(), x.detach().numpy())
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(x.shape, np.float32))


@pytest.mark.parametrize("p", [0.2, 0.6])
def test_dropout_zeroes_a_fraction_p_and_rescales_like_torch(p):
    ember.manual_seed(0)
    x = ember.ones(100, 100, requires_grad=True)
    y = ember.nn.Dropout(p)(x)
    values = y.detach().numpy()
    t_values = torch.nn.Dropout(p)(torch.ones(100, 100)).numpy()
    assert set(np.unique(values)) <= {0.0, np.float32(1 / (1 - p))}
    assert abs((values == 0).mean() - p) < 0.03
    assert abs((values == 0).mean() - (t_values == 0).mean()) < 0.04
    y.backward(ember.ones(100, 100))
    np.testing.assert_allclose(x.grad.numpy(), values, rtol=1e-6)  # gradient uses the mask


@pytest.mark.parametrize("name", ["Dropout1d", "Dropout2d", "Dropout3d", "FeatureAlphaDropout"])
def test_channel_dropout_drops_whole_channels(name):
    ember.manual_seed(1)
    shape = SHAPES[name]
    y = getattr(ember.nn, name)(0.5)(ember.ones(*shape)).numpy()
    per_channel = y.reshape(shape[0], shape[1], -1)
    assert (per_channel == per_channel[..., :1]).all()  # one value per channel
    dropped = (per_channel[..., 0] != per_channel.max()).mean()
    assert 0.35 < dropped < 0.65


def test_channel_dropout_accepts_unbatched_input_like_torch():
    assert ember.nn.Dropout1d(0.5)(ember.ones(3, 4)).shape == (3, 4)
    # A 3-D input to Dropout2d is ambiguous: torch and ember warn and take it as (N, C, L).
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        torch.nn.Dropout2d(0.5)(torch.ones(3, 4, 4))
    with pytest.warns(UserWarning, match="Received a 3D input to dropout2d"):
        assert ember.nn.Dropout2d(0.5)(ember.ones(3, 4, 4)).shape == (3, 4, 4)


def test_alpha_dropout_keeps_mean_and_variance_like_torch():
    ember.manual_seed(0)
    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((200, 200)).astype(np.float32)
    e = ember.nn.AlphaDropout(0.3)(ember.tensor(x)).numpy()
    t = torch.nn.AlphaDropout(0.3)(torch.tensor(x)).numpy()
    assert abs(e.mean() - t.mean()) < 0.03 and abs(e.std() - t.std()) < 0.03
    assert abs(e.mean()) < 0.03 and abs(e.std() - 1) < 0.03
    # Dropped elements all take one value (the most frequent one): torch's.
    modes = []
    for out in (e, t):
        values, counts = np.unique(out, return_counts=True)
        modes.append(values[counts.argmax()])
    assert abs(modes[0] - modes[1]) < 1e-5


def test_inplace_overwrites_the_input():
    x = ember.ones(50, 50)
    y = ember.nn.Dropout(0.5, inplace=True)(x)
    np.testing.assert_array_equal(x.numpy(), y.numpy())
    assert (x.numpy() == 0).any()


@pytest.mark.parametrize("p", [0.0, 1.0])
def test_extreme_probabilities_match_torch(p):
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    e = ember.nn.Dropout(p)(ember.tensor(x)).numpy()
    t = torch.nn.Dropout(p)(torch.tensor(x)).numpy()
    np.testing.assert_array_equal(e, t)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_bad_probability_raises_like_torch(p):
    with pytest.raises(ValueError) as t_err:
        torch.nn.Dropout(p)
    with pytest.raises(ValueError) as e_err:
        ember.nn.Dropout(p)
    assert str(e_err.value) == str(t_err.value)


def test_generator_seed_makes_masks_reproducible():
    ember.manual_seed(3)
    a = ember.nn.Dropout()(ember.ones(10, 10)).numpy()
    ember.manual_seed(3)
    b = ember.nn.Dropout()(ember.ones(10, 10)).numpy()
    np.testing.assert_array_equal(a, b)
