"""Identity, Linear and Bilinear against torch: outputs, gradients, state, repr, init."""

import math

import numpy as np
import pytest
import torch

import ember
from tests.nn.layer_check import assert_round_trip, check_layer, pair, random_input

LINEAR_CASES = [((3, 4), {}, (5, 3)), ((3, 4), {"bias": False}, (5, 3)),
                ((6, 2), {}, (2, 3, 6)), ((4, 1), {}, (4,))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("args, kwargs, shape", LINEAR_CASES)
def test_linear_matches_torch(args, kwargs, shape, dtype):
    e, t = pair("Linear", *args, dtype=dtype, **kwargs)
    check_layer(e, t, random_input(shape, dtype), dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", [{}, {"bias": False}])
def test_bilinear_matches_torch(kwargs, dtype):
    e, t = pair("Bilinear", 3, 4, 2, dtype=dtype, **kwargs)
    check_layer(e, t, random_input((5, 3), dtype), random_input((5, 4), dtype, seed=2),
                dtype=dtype)


def test_identity_returns_its_input_and_ignores_arguments():
    x = ember.randn(2, 3)
    layer = ember.nn.Identity(54, unused_argument1=0.1)
    assert layer(x) is x
    assert repr(layer) == repr(torch.nn.Identity(54, unused_argument1=0.1)) == "Identity()"


@pytest.mark.parametrize("name, args, kwargs", [
    ("Linear", (3, 4), {}), ("Linear", (3, 4), {"bias": False}), ("Linear", (1, 1), {}),
    ("Bilinear", (2, 3, 4), {}), ("Bilinear", (2, 3, 4), {"bias": False}),
])
def test_repr_state_dict_and_attributes_match_torch(name, args, kwargs):
    e, t = getattr(ember.nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    for attr in ("in_features", "in1_features", "in2_features", "out_features"):
        assert getattr(e, attr, None) == getattr(t, attr, None)
    assert (e.bias is None) == (t.bias is None)


def test_state_dict_round_trip():
    layer = ember.nn.Linear(3, 2)
    assert_round_trip(layer, lambda: ember.nn.Linear(3, 2))


def test_dtype_and_device_factory_kwargs():
    layer = ember.nn.Linear(3, 2, dtype=ember.float64, device="cpu")
    assert layer.weight.dtype == ember.float64 and layer.bias.dtype == ember.float64
    assert ember.nn.Linear(3, 2).weight.dtype == ember.float32
    with pytest.raises(RuntimeError):
        ember.nn.Linear(3, 2, device="cuda")
    assert ember.nn.Bilinear(2, 2, 2, dtype=ember.float64).weight.dtype == ember.float64


def _uniform_stats(e_param, t_param, bound):
    e_np, t_np = e_param.detach().numpy(), t_param.detach().numpy()
    assert np.abs(e_np).max() <= bound
    # Both are U(-bound, bound): std bound / sqrt(3), within sampling error of torch's.
    assert abs(e_np.std() - t_np.std()) < 0.1 * bound
    assert abs(e_np.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert abs(e_np.mean()) < 0.1 * bound


def test_linear_initialization_is_torchs_distribution():
    ember.manual_seed(0)
    torch.manual_seed(0)
    e, t = ember.nn.Linear(50, 400), torch.nn.Linear(50, 400)
    bound = 1 / math.sqrt(50)  # kaiming_uniform_(a=sqrt(5)) gives the same bound as the bias
    _uniform_stats(e.weight, t.weight, bound)
    _uniform_stats(e.bias, t.bias, bound)
    assert e.weight.requires_grad and e.weight.is_leaf


def test_bilinear_initialization_is_torchs_distribution():
    e, t = ember.nn.Bilinear(16, 8, 200), torch.nn.Bilinear(16, 8, 200)
    _uniform_stats(e.weight, t.weight, 1 / math.sqrt(16))
    _uniform_stats(e.bias, t.bias, 1 / math.sqrt(16))


def test_reset_parameters_draws_new_values():
    layer = ember.nn.Linear(4, 4)
    before = layer.weight.detach().numpy().copy()
    layer.reset_parameters()
    assert not np.array_equal(before, layer.weight.detach().numpy())
    assert layer.weight.grad_fn is None


def test_bilinear_rejects_zero_in1_features_like_torch():
    with pytest.raises(ValueError, match="in1_features must be > 0"):
        ember.nn.Bilinear(0, 2, 2)
    with pytest.raises(ValueError, match="in1_features must be > 0"):
        torch.nn.Bilinear(0, 2, 2)


def test_shape_mismatch_raises():
    with pytest.raises(RuntimeError, match="input has 5 features"):
        ember.nn.Linear(3, 2)(ember.randn(4, 5))


def test_training_step_reduces_loss():
    ember.manual_seed(0)
    layer = ember.nn.Linear(3, 1)
    x, y = ember.randn(16, 3), ember.randn(16, 1)
    losses = []
    for _ in range(3):
        loss = ((layer(x) - y) ** 2).mean()
        losses.append(loss.item())
        layer.zero_grad()
        loss.backward()
        with ember.no_grad():
            for p in layer.parameters():
                p -= 0.1 * p.grad
    assert losses[-1] < losses[0]
