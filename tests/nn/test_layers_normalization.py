"""LayerNorm, GroupNorm, RMSNorm and InstanceNorm1d/2d/3d against torch."""

import numpy as np
import pytest
import torch

import ember
from tests.nn.layer_check import assert_round_trip, assert_same, check_layer, pair, random_input

CASES = [
    ("LayerNorm", (4,), {}, (3, 4)),
    ("LayerNorm", ((3, 4),), {"eps": 1e-3}, (2, 3, 4)),
    ("LayerNorm", ([4],), {"bias": False}, (2, 3, 4)),
    ("LayerNorm", (4,), {"elementwise_affine": False}, (5, 4)),
    ("GroupNorm", (2, 4), {}, (3, 4, 5)),
    ("GroupNorm", (3, 6), {"eps": 1e-3, "bias": False}, (2, 6, 2, 3)),
    ("GroupNorm", (1, 3), {"affine": False}, (2, 3, 4)),
    ("RMSNorm", (4,), {}, (3, 4)),
    ("RMSNorm", ((2, 4),), {"eps": 1e-3}, (3, 2, 4)),
    ("RMSNorm", (4,), {"elementwise_affine": False}, (2, 3, 4)),
    ("InstanceNorm1d", (3,), {}, (2, 3, 5)),
    ("InstanceNorm1d", (3,), {"affine": True}, (3, 5)),
    ("InstanceNorm2d", (2,), {"affine": True, "bias": False}, (2, 2, 3, 4)),
    ("InstanceNorm2d", (2,), {"track_running_stats": True}, (2, 2, 3, 4)),
    ("InstanceNorm3d", (2,), {"affine": True}, (1, 2, 2, 3, 2)),
]


def _randomize_parameters(e, t, seed=5):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in t.parameters():
            p.copy_(torch.tensor(rng.uniform(0.5, 1.5, tuple(p.shape))))
    e.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                       for k, v in t.state_dict().items()})


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, args, kwargs, shape", CASES)
def test_normalization_matches_torch(name, args, kwargs, shape, dtype):
    e, t = pair(name, *args, dtype=dtype, **kwargs)
    _randomize_parameters(e, t)
    check_layer(e, t, random_input(shape, dtype, low=-2, high=3), dtype=dtype)
    for name_, t_buf in t.named_buffers():  # instance norm's running statistics
        assert_same(dict(e.named_buffers())[name_], t_buf, dtype, name_)


@pytest.mark.parametrize("name, args, kwargs, shape", CASES)
def test_repr_attributes_and_state_dict_match_torch(name, args, kwargs, shape):
    e, t = getattr(ember.nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    for attr in ("normalized_shape", "eps", "elementwise_affine", "num_groups", "num_channels",
                 "affine", "num_features", "momentum", "track_running_stats"):
        assert getattr(e, attr, "absent") == getattr(t, attr, "absent"), attr
    for p_name, t_p in t.named_parameters():  # ones and zeros, as torch's
        np.testing.assert_array_equal(dict(e.named_parameters())[p_name].detach().numpy(),
                                      t_p.detach().numpy())


def test_instance_norm_eval_with_running_stats_matches_torch():
    e, t = pair("InstanceNorm2d", 2, track_running_stats=True, affine=True)
    for step in range(3):
        x = random_input((2, 2, 3, 3), seed=step, low=0, high=3)
        e(ember.tensor(x))
        t(torch.tensor(x))
    e.eval()
    t.eval()
    check_layer(e, t, random_input((2, 2, 3, 3), seed=9))
    assert e.num_batches_tracked.item() == 0 == t.num_batches_tracked.item()


def test_instance_norm_rejects_checkpoints_with_running_stats_like_torch():
    state = {"running_mean": torch.zeros(2), "running_var": torch.ones(2)}
    with pytest.raises(RuntimeError, match="Unexpected running stats buffer"):
        torch.nn.InstanceNorm1d(2).load_state_dict(state)
    with pytest.raises(RuntimeError, match="Unexpected running stats buffer"):
        ember.nn.InstanceNorm1d(2).load_state_dict(
            {k: ember.tensor(v.numpy()) for k, v in state.items()})


def test_instance_norm_checks_like_torch():
    with pytest.raises(ValueError) as t_err:
        torch.nn.InstanceNorm2d(2)(torch.zeros(2, 3))
    with pytest.raises(ValueError) as e_err:
        ember.nn.InstanceNorm2d(2)(ember.zeros(2, 3))
    assert str(e_err.value) == str(t_err.value)
    with pytest.raises(ValueError, match="to match num_features"):
        ember.nn.InstanceNorm1d(3, affine=True)(ember.zeros(2, 4, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        ember.nn.InstanceNorm1d(3)(ember.randn(2, 4, 5))


def test_group_norm_checks_divisibility_like_torch():
    with pytest.raises(ValueError) as t_err:
        torch.nn.GroupNorm(3, 4)
    with pytest.raises(ValueError) as e_err:
        ember.nn.GroupNorm(3, 4)
    assert str(e_err.value) == str(t_err.value)


def test_normalized_shape_is_a_tuple_and_dtype_kwarg_works():
    layer = ember.nn.LayerNorm([2, 3], dtype=ember.float64, device="cpu")
    assert layer.normalized_shape == (2, 3) and layer.weight.dtype == ember.float64
    assert ember.nn.RMSNorm(3, dtype=ember.float64).weight.dtype == ember.float64
    assert ember.nn.GroupNorm(1, 2, dtype=ember.float64).bias.dtype == ember.float64
    assert ember.nn.InstanceNorm1d(2, affine=True, dtype=ember.float64).weight.dtype == \
        ember.float64


@pytest.mark.parametrize("make", [lambda: ember.nn.LayerNorm(3), lambda: ember.nn.GroupNorm(1, 2),
                                  lambda: ember.nn.RMSNorm(3)])
def test_state_dict_round_trip(make):
    layer = make()
    with ember.no_grad():
        for p in layer.parameters():
            p.uniform_()
    assert_round_trip(layer, make)
