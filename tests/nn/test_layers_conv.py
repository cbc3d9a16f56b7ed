"""Conv1d/2d/3d and ConvTranspose1d/2d/3d against torch."""

import math

import numpy as np
import pytest
import torch

import ember
from tests.nn.layer_check import assert_round_trip, check_layer, pair, random_input

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")

CONV_CASES = [
    ("Conv1d", (2, 4, 3), {}, (2, 2, 7)),
    ("Conv1d", (2, 4, 3), {"stride": 2, "padding": 1, "bias": False}, (2, 2, 8)),
    ("Conv1d", (4, 2, 2), {"dilation": 2, "groups": 2}, (1, 4, 7)),
    ("Conv1d", (2, 3, 4), {"padding": "same", "dilation": 2}, (2, 2, 9)),
    ("Conv1d", (2, 3, 3), {"padding": "valid"}, (1, 2, 5)),
    ("Conv1d", (2, 3, 3), {"padding": 2, "padding_mode": "reflect"}, (2, 2, 6)),
    ("Conv1d", (2, 3, 3), {"padding": 1, "padding_mode": "replicate"}, (2, 2, 6)),
    ("Conv1d", (2, 3, 3), {"padding": 2, "padding_mode": "circular"}, (2, 2, 6)),
    ("Conv1d", (2, 3, 2), {"padding": "same", "padding_mode": "circular"}, (2, 2, 6)),
    ("Conv1d", (2, 3, 3), {}, (2, 6)),  # unbatched
    ("Conv2d", (2, 4, 3), {}, (2, 2, 5, 6)),
    ("Conv2d", (2, 4, (3, 2)), {"stride": (2, 1), "padding": (1, 0)}, (2, 2, 6, 5)),
    ("Conv2d", (4, 6, 3), {"groups": 2, "dilation": (2, 1), "bias": False}, (1, 4, 7, 6)),
    ("Conv2d", (2, 3, (2, 3)), {"padding": "same"}, (1, 2, 5, 4)),
    ("Conv2d", (2, 3, 3), {"padding": (1, 2), "padding_mode": "reflect"}, (2, 2, 4, 5)),
    ("Conv2d", (2, 3, 3), {"padding": 1, "padding_mode": "replicate"}, (1, 2, 4, 4)),
    ("Conv2d", (2, 3, 3), {"padding": (2, 1), "padding_mode": "circular"}, (1, 2, 4, 4)),
    ("Conv2d", (2, 3, 3), {"padding": 1}, (2, 4, 4)),  # unbatched
    ("Conv3d", (2, 3, 2), {"padding": 1, "stride": 2}, (1, 2, 3, 4, 3)),
]

TRANSPOSE_CASES = [
    ("ConvTranspose1d", (2, 4, 3), {}, (2, 2, 5)),
    ("ConvTranspose1d", (2, 4, 3), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 2, 5)),
    ("ConvTranspose1d", (4, 2, 2), {"groups": 2, "dilation": 2, "bias": False}, (1, 4, 4)),
    ("ConvTranspose1d", (2, 3, 3), {}, (2, 4)),  # unbatched
    ("ConvTranspose2d", (2, 4, 3), {}, (2, 2, 3, 4)),
    ("ConvTranspose2d", (2, 4, (3, 2)), {"stride": (2, 3), "padding": (1, 0),
                                         "output_padding": (1, 2)}, (1, 2, 3, 3)),
    ("ConvTranspose2d", (4, 6, 3), {"groups": 2, "dilation": 2, "bias": False}, (2, 4, 3, 3)),
    ("ConvTranspose3d", (2, 3, 2), {"stride": 2}, (1, 2, 2, 3, 2)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, args, kwargs, shape", CONV_CASES + TRANSPOSE_CASES)
def test_conv_matches_torch(name, args, kwargs, shape, dtype):
    e, t = pair(name, *args, dtype=dtype, **kwargs)
    check_layer(e, t, random_input(shape, dtype), dtype=dtype)


@pytest.mark.parametrize("name, args, kwargs, shape", CONV_CASES + TRANSPOSE_CASES)
def test_repr_attributes_and_state_dict_match_torch(name, args, kwargs, shape):
    e, t = getattr(ember.nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation",
                 "groups", "padding_mode", "output_padding", "transposed",
                 "_reversed_padding_repeated_twice"):
        assert tuple(np.atleast_1d(getattr(e, attr))) == \
            tuple(np.atleast_1d(getattr(t, attr))), attr
    assert e.weight.shape == tuple(t.weight.shape)


@pytest.mark.parametrize("name, shape, output_size", [
    ("ConvTranspose2d", (1, 2, 4, 4), [8, 8]),
    ("ConvTranspose2d", (1, 2, 4, 4), [1, 3, 7, 8]),
    ("ConvTranspose2d", (2, 4, 4), [3, 8, 7]),
    ("ConvTranspose1d", (1, 2, 4), [8]),
])
def test_transposed_output_size_matches_torch(name, shape, output_size):
    e, t = pair(name, 2, 3, 3, stride=2, padding=1)
    e_in, t_in = ember.tensor(random_input(shape)), torch.tensor(random_input(shape))
    e_out, t_out = e(e_in, output_size=output_size), t(t_in, output_size=output_size)
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10)


def test_transposed_output_size_out_of_range_raises_like_torch():
    e, t = pair("ConvTranspose2d", 2, 3, 3, stride=2, padding=1)
    x = random_input((1, 2, 4, 4))
    with pytest.raises(ValueError, match="requested an output size of"):
        t(torch.tensor(x), output_size=[10, 10])
    with pytest.raises(ValueError, match="requested an output size of"):
        e(ember.tensor(x), output_size=[10, 10])
    with pytest.raises(ValueError, match="output_size must have 2 or 4 elements"):
        e(ember.tensor(x), output_size=[7])


@pytest.mark.parametrize("name, args, kwargs", [
    ("Conv2d", (4, 6, 3), {"groups": 4}),
    ("Conv2d", (4, 6, 3), {"groups": 0}),
    ("Conv2d", (3, 6, 3), {"groups": 2}),
    ("Conv2d", (2, 2, 3), {"padding": "full"}),
    ("Conv2d", (2, 2, 3), {"padding": "same", "stride": 2}),
    ("Conv1d", (2, 2, 3), {"padding_mode": "mirror"}),
    ("ConvTranspose2d", (2, 2, 3), {"padding_mode": "reflect"}),
])
def test_bad_arguments_raise_like_torch(name, args, kwargs):
    with pytest.raises(ValueError) as t_err:
        getattr(torch.nn, name)(*args, **kwargs)
    with pytest.raises(ValueError) as e_err:
        getattr(ember.nn, name)(*args, **kwargs)
    # The valid modes are a set, printed in hash order: compare the start of the message.
    assert str(e_err.value)[:30] == str(t_err.value)[:30]


@pytest.mark.parametrize("name, args, kwargs", [
    ("Conv1d", (8, 300, 5), {}), ("Conv2d", (6, 200, 3), {"groups": 2}),
    ("ConvTranspose2d", (8, 300, 3), {"groups": 2}),
])
def test_initialization_is_torchs_distribution(name, args, kwargs):
    e, t = getattr(ember.nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    fan_in = math.prod(t.weight.shape[1:])
    bound = 1 / math.sqrt(fan_in)
    for e_p, t_p in ((e.weight, t.weight), (e.bias, t.bias)):
        e_np, t_np = e_p.detach().numpy(), t_p.detach().numpy()
        slack = 3 * bound / math.sqrt(e_np.size)  # several standard errors of a std
        assert np.abs(e_np).max() <= bound
        assert abs(e_np.std() - t_np.std()) < slack
        assert abs(e_np.std() - bound / math.sqrt(3)) < slack


def test_dtype_factory_kwarg_and_round_trip():
    layer = ember.nn.Conv2d(2, 3, 3, dtype=ember.float64, device="cpu")
    assert layer.weight.dtype == ember.float64 and layer.bias.dtype == ember.float64
    assert ember.nn.ConvTranspose1d(2, 3, 3, dtype=ember.float64).weight.dtype == ember.float64
    assert_round_trip(layer, lambda: ember.nn.Conv2d(2, 3, 3, dtype=ember.float64))


def test_conv_forward_uses_the_given_weight():
    # Subclasses (weight standardization, ...) call _conv_forward with their own weight.
    e, t = pair("Conv2d", 2, 3, 3, padding=1, padding_mode="reflect")
    x = random_input((1, 2, 4, 4))
    w = random_input((3, 2, 3, 3), seed=3)
    e_out = e._conv_forward(ember.tensor(x), ember.tensor(w), None)
    t_out = t._conv_forward(torch.tensor(x), torch.tensor(w), None)
    np.testing.assert_allclose(e_out.numpy(), t_out.detach().numpy(), rtol=1e-10)
