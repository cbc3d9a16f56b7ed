"""BatchNorm1d/2d/3d against torch: training and eval outputs, gradients, running
statistics over several steps, num_batches_tracked, state dicts and repr."""

import numpy as np
import pytest
import torch

import ember
from tests.nn.layer_check import assert_round_trip, assert_same, check_layer, pair, random_input

CASES = [
    ("BatchNorm1d", (3,), {}, (5, 3)),
    ("BatchNorm1d", (3,), {}, (4, 3, 6)),
    ("BatchNorm1d", (3,), {"affine": False}, (5, 3)),
    ("BatchNorm2d", (2,), {}, (3, 2, 4, 3)),
    ("BatchNorm2d", (2,), {"momentum": None}, (3, 2, 4, 3)),
    ("BatchNorm2d", (2,), {"bias": False, "eps": 1e-3}, (3, 2, 4, 3)),
    ("BatchNorm2d", (2,), {"track_running_stats": False}, (3, 2, 4, 3)),
    ("BatchNorm3d", (2,), {"momentum": 0.3}, (2, 2, 3, 2, 3)),
]


def _randomize_affine(e, t, seed=5):
    """Non-trivial weight and bias (torch's initial ones are 1 and 0) in both layers."""
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in t.parameters():
            p.copy_(torch.tensor(rng.uniform(0.5, 1.5, tuple(p.shape))))
    e.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                       for k, v in t.state_dict().items()})


def _assert_same_buffers(e, t, dtype="float64"):
    e_buf, t_buf = dict(e.named_buffers()), dict(t.named_buffers())
    assert list(e_buf) == list(t_buf)
    for name, t_value in t_buf.items():
        assert_same(e_buf[name], t_value, dtype, name)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, args, kwargs, shape", CASES)
def test_training_forward_backward_and_running_stats_match_torch(name, args, kwargs, shape,
                                                                 dtype):
    e, t = pair(name, *args, dtype=dtype, **kwargs)
    _randomize_affine(e, t)
    for step in range(3):
        check_layer(e, t, random_input(shape, dtype, seed=step, low=-2, high=3), dtype=dtype,
                    seed=step)
        e.zero_grad()
        t.zero_grad()
        _assert_same_buffers(e, t, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, args, kwargs, shape", CASES)
def test_eval_uses_running_stats_like_torch(name, args, kwargs, shape, dtype):
    e, t = pair(name, *args, dtype=dtype, **kwargs)
    _randomize_affine(e, t)
    for step in range(4):
        x = random_input(shape, dtype, seed=10 + step, low=-1, high=4)
        e(ember.tensor(x))
        t(torch.tensor(x))
    e.eval()
    t.eval()
    check_layer(e, t, random_input(shape, dtype, seed=20), dtype=dtype)
    _assert_same_buffers(e, t, dtype)  # eval leaves the statistics alone


def test_num_batches_tracked_is_an_int64_buffer_in_the_state_dict():
    e, t = ember.nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3)
    assert list(e.state_dict()) == list(t.state_dict()) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert e.num_batches_tracked.dtype == ember.int64 and e.num_batches_tracked.shape == ()
    for _ in range(3):
        e(ember.randn(2, 3, 2, 2))
    assert e.num_batches_tracked.item() == 3
    e.eval()(ember.randn(2, 3, 2, 2))
    assert e.num_batches_tracked.item() == 3
    e.reset_running_stats()
    assert e.num_batches_tracked.item() == 0
    np.testing.assert_array_equal(e.running_var.numpy(), np.ones(3, np.float32))


def test_without_running_stats_there_are_no_buffers_and_eval_uses_batch_stats():
    e, t = pair("BatchNorm1d", 3, track_running_stats=False)
    assert e.running_mean is None and e.num_batches_tracked is None
    assert list(e.state_dict()) == list(t.state_dict()) == ["weight", "bias"]
    e.eval()
    t.eval()
    check_layer(e, t, random_input((4, 3), low=1, high=3))


def test_load_state_dict_without_num_batches_tracked_like_torch():
    source = torch.nn.BatchNorm1d(2)
    state = {k: v for k, v in source.state_dict().items() if k != "num_batches_tracked"}
    torch.nn.BatchNorm1d(2).load_state_dict(dict(state))  # plain dicts: accepted by torch
    e = ember.nn.BatchNorm1d(2)
    e(ember.randn(3, 2))
    result = e.load_state_dict({k: ember.tensor(v.numpy()) for k, v in state.items()})
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    assert e.num_batches_tracked.item() == 1


def test_state_dict_round_trip_keeps_statistics():
    e = ember.nn.BatchNorm2d(2)
    for _ in range(2):
        e(ember.randn(3, 2, 2, 2) * 3 + 1)
    assert_round_trip(e, lambda: ember.nn.BatchNorm2d(2))


@pytest.mark.parametrize("name, args, kwargs", [
    ("BatchNorm1d", (3,), {}), ("BatchNorm2d", (4,), {"eps": 1e-3, "momentum": None}),
    ("BatchNorm2d", (4,), {"affine": False, "track_running_stats": False}),
    ("BatchNorm3d", (2,), {"bias": False}),
])
def test_repr_and_attributes_match_torch(name, args, kwargs):
    e, t = getattr(ember.nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(e) == repr(t)
    for attr in ("num_features", "eps", "momentum", "affine", "track_running_stats"):
        assert getattr(e, attr) == getattr(t, attr)


@pytest.mark.parametrize("name, shape", [("BatchNorm1d", (2, 3, 4, 5)), ("BatchNorm2d", (2, 3)),
                                         ("BatchNorm3d", (2, 3, 4, 5))])
def test_wrong_input_rank_raises_like_torch(name, shape):
    with pytest.raises(ValueError) as t_err:
        getattr(torch.nn, name)(3)(torch.zeros(shape))
    with pytest.raises(ValueError) as e_err:
        getattr(ember.nn, name)(3)(ember.zeros(shape))
    assert str(e_err.value) == str(t_err.value)


def test_one_value_per_channel_in_training_raises():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        ember.nn.BatchNorm1d(3)(ember.randn(1, 3))
    ember.nn.BatchNorm1d(3).eval()(ember.randn(1, 3))  # fine in eval


def test_dtype_factory_kwarg_keeps_the_counter_int64():
    e = ember.nn.BatchNorm1d(3, dtype=ember.float64, device="cpu")
    assert e.weight.dtype == e.running_mean.dtype == ember.float64
    assert e.num_batches_tracked.dtype == ember.int64
    e.double()
    assert e.num_batches_tracked.dtype == ember.int64
