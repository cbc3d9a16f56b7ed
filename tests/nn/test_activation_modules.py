"""Activation layers against torch: outputs, input gradients, PReLU's weight gradient,
in-place forms, attributes and repr."""

import warnings

import numpy as np
import pytest
import torch

import ember
from tests.nn.layer_check import assert_same, check_layer, pair, random_input

# (name, args, kwargs, input shape, input range): ranges cover each function's kinks and
# saturated regions; random floats never land exactly on a kink.
CASES = [
    ("ReLU", (), {}, (3, 4), 2),
    ("ReLU6", (), {}, (3, 4), 8),
    ("LeakyReLU", (), {}, (3, 4), 2),
    ("LeakyReLU", (0.2,), {}, (2, 3, 2), 2),
    ("ELU", (), {}, (3, 4), 3),
    ("ELU", (0.5,), {}, (5,), 3),
    ("SELU", (), {}, (3, 4), 3),
    ("CELU", (), {}, (3, 4), 3),
    ("CELU", (2.0,), {}, (4, 2), 3),
    ("GELU", (), {}, (3, 4), 3),
    ("GELU", (), {"approximate": "tanh"}, (3, 4), 3),
    ("SiLU", (), {}, (3, 4), 4),
    ("Mish", (), {}, (3, 4), 4),
    ("Softplus", (), {}, (3, 4), 4),
    ("Softplus", (), {"beta": 2.0, "threshold": 3.0}, (3, 4), 4),
    ("Hardtanh", (), {}, (3, 4), 2),
    ("Hardtanh", (-0.5, 1.5), {}, (3, 4), 2),
    ("Hardswish", (), {}, (3, 4), 5),
    ("Hardsigmoid", (), {}, (3, 4), 5),
    ("Hardshrink", (), {}, (3, 4), 2),
    ("Hardshrink", (1.0,), {}, (3, 4), 2),
    ("Softshrink", (), {}, (3, 4), 2),
    ("Softshrink", (0.25,), {}, (3, 4), 2),
    ("Tanhshrink", (), {}, (3, 4), 2),
    ("Softsign", (), {}, (3, 4), 3),
    ("LogSigmoid", (), {}, (3, 4), 4),
    ("Sigmoid", (), {}, (3, 4), 4),
    ("Tanh", (), {}, (3, 4), 3),
    ("Threshold", (0.1, 20.0), {}, (3, 4), 1),
    ("Threshold", (-0.3, -1.0), {}, (3, 4), 1),
    ("PReLU", (), {}, (3, 4), 2),
    ("PReLU", (4,), {"init": 0.1}, (2, 4, 3), 2),
    ("PReLU", (3,), {}, (2, 3), 2),
    ("GLU", (), {}, (3, 4), 2),
    ("GLU", (0,), {}, (4, 3), 2),
    ("RReLU", (), {}, (3, 4), 2),  # compared in eval mode (deterministic)
    ("Softmax", (1,), {}, (3, 4), 3),
    ("Softmax", (-1,), {}, (2, 3, 4), 3),
    ("LogSoftmax", (1,), {}, (3, 4), 3),
    ("LogSoftmax", (0,), {}, (3, 4), 3),
    ("Softmin", (1,), {}, (3, 4), 3),
    ("Softmax2d", (), {}, (2, 3, 2, 2), 3),
    ("Softmax2d", (), {}, (3, 2, 2), 3),
]

# torch's hardsigmoid backward uses the float32 constant 1.0f / 6 even in float64, so its
# float64 gradient is off by ~3e-8 relative; ember uses the exact 1 / 6.
GRAD_TOL = {"Hardsigmoid": "float32"}


def _ids(case):
    name, args, kwargs = case[:3]
    return name + "-" + ",".join([repr(a) for a in args] + [f"{k}={v}" for k, v in
                                                             kwargs.items()])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_forward_and_gradients_match_torch(case, dtype):
    name, args, kwargs, shape, bound = case
    e, t = pair(name, *args, dtype=dtype, **kwargs)
    e.eval()
    t.eval()
    check_layer(e, t, random_input(shape, dtype, low=-bound, high=bound),
                dtype=GRAD_TOL.get(name, dtype))


INPLACE = [("ReLU", ()), ("ReLU6", ()), ("LeakyReLU", (0.1,)), ("ELU", (1.5,)),
           ("CELU", (0.5,)), ("SELU", ()), ("SiLU", ()), ("Mish", ()), ("Hardtanh", (-2., 2.)),
           ("Hardswish", ()), ("Hardsigmoid", ()), ("Threshold", (0.2, -3.0)), ("RReLU", ())]


@pytest.mark.parametrize("name, args", INPLACE)
def test_inplace_overwrites_the_input_and_keeps_gradients(name, args):
    x = random_input((3, 5), low=-4, high=4)
    results = []
    for lib in (ember, torch):
        layer = getattr(lib.nn, name)(*args, inplace=True).double().eval()
        leaf = lib.tensor(x.copy(), requires_grad=True)
        y = leaf * 1.0
        out = layer(y)
        assert out is y
        out.sum().backward()
        results.append((out, leaf.grad))
    assert_same(results[0][0], results[1][0])
    assert_same(results[0][1], results[1][1], GRAD_TOL.get(name, "float64"), what="gradient")


def test_prelu_weight_gradient_and_parameters():
    e, t = pair("PReLU", 3, init=0.3)
    assert e.weight.shape == (3,) and e.init == 0.3 and e.num_parameters == 3
    np.testing.assert_array_equal(ember.nn.PReLU(3, init=0.3).weight.detach().numpy(),
                                  t.weight.detach().numpy())
    check_layer(e, t, random_input((4, 3, 2), low=-2, high=2))
    assert e.weight.grad is not None
    assert list(e.state_dict()) == ["weight"]
    assert ember.nn.PReLU(dtype=ember.float64).weight.dtype == ember.float64
    assert ember.nn.PReLU().weight.dtype == ember.float32


def test_rrelu_training_draws_slopes_in_range():
    layer = ember.nn.RReLU(0.1, 0.3)
    x = ember.tensor(random_input((50, 40), low=-2, high=2))
    out = layer(x).numpy()
    neg = x.numpy() < 0
    np.testing.assert_array_equal(out[~neg], x.numpy()[~neg])
    slopes = out[neg] / x.numpy()[neg]
    assert slopes.min() >= 0.1 - 1e-12 and slopes.max() <= 0.3 + 1e-12
    assert slopes.std() > 0.01  # random, not the eval-mode mean
    layer.eval()
    np.testing.assert_allclose(layer(x).numpy()[neg], 0.2 * x.numpy()[neg])


@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax", "Softmin"])
@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 4), (2, 3, 2, 2)])
def test_implicit_dim_warns_and_matches_torch(name, shape):
    x = random_input(shape)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        e_out = getattr(ember.nn, name)()(ember.tensor(x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_out = getattr(torch.nn, name)()(torch.tensor(x))
    assert_same(e_out, t_out)


def test_softmax2d_rejects_other_ranks_as_torch():
    for shape in [(3, 4), (1, 2, 3, 4, 5)]:
        with pytest.raises(ValueError) as t_err:
            torch.nn.Softmax2d()(torch.zeros(shape))
        with pytest.raises(ValueError) as e_err:
            ember.nn.Softmax2d()(ember.zeros(shape))
        assert str(e_err.value) == str(t_err.value)


def test_hardtanh_checks_and_deprecated_keywords():
    with pytest.raises(AssertionError, match="must be greater than"):
        ember.nn.Hardtanh(1.0, 1.0)
    with pytest.warns(FutureWarning, match="min_value"):
        e = ember.nn.Hardtanh(min_value=-2.0)
    with pytest.warns(FutureWarning, match="max_value"):
        e2 = ember.nn.Hardtanh(max_value=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, t2 = torch.nn.Hardtanh(min_value=-2.0), torch.nn.Hardtanh(max_value=3.0)
    assert repr(e) == repr(t) and repr(e2) == repr(t2)


# Several constructor configurations per layer, for repr and attributes.
CONFIGS = [
    ("ReLU", (), {}), ("ReLU", (), {"inplace": True}), ("ReLU6", (True,), {}),
    ("LeakyReLU", (), {}), ("LeakyReLU", (0.2, True), {}), ("LeakyReLU", (1,), {}),
    ("ELU", (), {}), ("ELU", (0.5,), {"inplace": True}), ("CELU", (2,), {}),
    ("SELU", (), {}), ("SELU", (True,), {}), ("GELU", (), {}), ("GELU", ("tanh",), {}),
    ("SiLU", (), {}), ("SiLU", (True,), {}), ("Mish", (), {"inplace": True}),
    ("Softplus", (), {}), ("Softplus", (2, 10), {}), ("Hardtanh", (), {}),
    ("Hardtanh", (-2, 3.5, True), {}), ("Hardswish", (), {}), ("Hardswish", (True,), {}),
    ("Hardsigmoid", (), {}), ("Hardsigmoid", (True,), {}), ("Hardshrink", (), {}),
    ("Hardshrink", (1,), {}), ("Softshrink", (), {}), ("Softshrink", (0.75,), {}),
    ("Tanhshrink", (), {}), ("Softsign", (), {}), ("LogSigmoid", (), {}), ("Sigmoid", (), {}),
    ("Tanh", (), {}), ("Threshold", (0.1, 20), {}), ("Threshold", (0.1, 20, True), {}),
    ("PReLU", (), {}), ("PReLU", (5,), {"init": 0.5}), ("GLU", (), {}), ("GLU", (1,), {}),
    ("RReLU", (), {}), ("RReLU", (0.1, 0.2, True), {}), ("Softmax", (), {}),
    ("Softmax", (1,), {}), ("Softmax", (), {"dim": -1}), ("LogSoftmax", (0,), {}),
    ("LogSoftmax", (), {}), ("Softmin", (2,), {}), ("Softmax2d", (), {}),
]


@pytest.mark.parametrize("name, args, kwargs", CONFIGS)
def test_repr_and_attributes_match_torch(name, args, kwargs):
    e, t = getattr(ember.nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(e) == repr(t)

    def public(layer):
        return {k: v for k, v in vars(layer).items() if not k.startswith("_")}
    assert public(e) == public(t)
    assert list(e.state_dict()) == list(t.state_dict())


def test_every_torch_activation_exists():
    names = {c[0] for c in CONFIGS}
    assert all(hasattr(ember.nn, n) for n in names)
    assert isinstance(ember.nn.ReLU6(), ember.nn.Hardtanh) == isinstance(
        torch.nn.ReLU6(), torch.nn.Hardtanh)
    assert not isinstance(ember.nn.CELU(), ember.nn.ELU)


def test_modules_in_a_sequential_print_like_torch():
    layers = [("Linear", (3, 4)), ("PReLU", (4,)), ("GELU", ("tanh",)), ("Dropout", (0.1,)),
              ("Linear", (4, 2)), ("LogSoftmax", (1,))]
    e = ember.nn.Sequential(*[getattr(ember.nn, n)(*a) for n, a in layers])
    t = torch.nn.Sequential(*[getattr(torch.nn, n)(*a) for n, a in layers])
    assert repr(e) == repr(t)
