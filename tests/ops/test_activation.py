"""Activations beyond the op table: in-place forms, kinks, extreme values, dtypes, errors."""

import warnings

import numpy as np
import pytest
import torch

import ember
from ember.ops import activation

EF, TF = ember.nn.functional, torch.nn.functional

# Points on and around every kink of the piecewise activations.
KINKS = [-6.0, -3.0, -2.0, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 2.0, 3.0, 6.0, 7.0]


def _pair(values, dtype=np.float64, requires_grad=True):
    arr = np.asarray(values, dtype=dtype)
    e = ember.tensor(arr, requires_grad=requires_grad)
    t = torch.tensor(arr, requires_grad=requires_grad)
    return e, t


def _close(mine, ref, atol=1e-7, rtol=1e-6):
    ref = ref.detach().numpy() if isinstance(ref, torch.Tensor) else ref
    np.testing.assert_allclose(mine.detach().numpy(), ref, atol=atol, rtol=rtol)


def _value_and_grad(lib, fn, x):
    y = fn(lib, x)
    (g,) = lib.autograd.grad(y.sum(), x)
    return y, g


def test_names_exist_in_torch():
    for name in activation.__all__:
        assert hasattr(torch, name), name
    for name in activation.FUNCTIONAL:
        assert hasattr(TF, name), name
        assert hasattr(EF, name), name
    for name in activation.METHODS:
        assert hasattr(torch.Tensor, name), name


KINKED = {
    "relu": lambda m, x: m.nn.functional.relu(x),
    "relu6": lambda m, x: m.nn.functional.relu6(x),
    "leaky_relu": lambda m, x: m.nn.functional.leaky_relu(x, 0.1),
    "hardtanh": lambda m, x: m.nn.functional.hardtanh(x, -1.0, 2.0),
    "hardsigmoid": lambda m, x: m.nn.functional.hardsigmoid(x),
    "hardswish": lambda m, x: m.nn.functional.hardswish(x),
    "hardshrink": lambda m, x: m.nn.functional.hardshrink(x, 0.5),
    "softshrink": lambda m, x: m.nn.functional.softshrink(x, 0.5),
    "threshold": lambda m, x: m.nn.functional.threshold(x, 1.0, -2.0),
    "elu": lambda m, x: m.nn.functional.elu(x),
    "celu": lambda m, x: m.nn.functional.celu(x, 2.0),
    "softplus": lambda m, x: m.nn.functional.softplus(x, beta=2.0, threshold=2.0),
    "rrelu_eval": lambda m, x: m.nn.functional.rrelu(x),
    "prelu": lambda m, x: m.nn.functional.prelu(x, m.tensor([0.25], dtype=m.float64)),
}


@pytest.mark.parametrize("name", sorted(KINKED))
def test_values_and_gradients_at_kinks_match_torch(name):
    fn = KINKED[name]
    e, t = _pair(KINKS)
    ey, eg = _value_and_grad(ember, fn, e)
    ty, tg = _value_and_grad(torch, fn, t)
    _close(ey, ty)
    _close(eg, tg)


SMOOTH = {
    "silu": "silu", "mish": "mish", "softplus": "softplus", "logsigmoid": "logsigmoid",
    "gelu": "gelu", "elu": "elu", "selu": "selu", "softsign": "softsign",
    "tanhshrink": "tanhshrink", "hardswish": "hardswish",
}


@pytest.mark.parametrize("name", sorted(SMOOTH))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_stay_finite_without_warnings(name, dtype):
    values = [-1000.0, -80.0, -30.0, -1e-8, 0.0, 1e-8, 30.0, 80.0, 1000.0]
    e, t = _pair(values, dtype)
    fn = getattr(EF, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ey, eg = _value_and_grad(ember, lambda m, x: fn(x), e)
    ty, tg = _value_and_grad(torch, lambda m, x: getattr(TF, name)(x), t)
    tol = 1e-5 if dtype == np.float32 else 1e-7
    _close(ey, ty, atol=tol, rtol=tol)
    _close(eg, tg, atol=tol, rtol=tol)


def test_gelu_tanh_extreme_inputs():
    e, t = _pair([-30.0, -5.0, 0.0, 5.0, 30.0])
    ey, eg = _value_and_grad(ember, lambda m, x: m.nn.functional.gelu(x, approximate="tanh"), e)
    ty, tg = _value_and_grad(torch, lambda m, x: m.nn.functional.gelu(x, approximate="tanh"), t)
    _close(ey, ty)
    _close(eg, tg)


@pytest.mark.parametrize("name", ["relu", "relu6", "hardtanh", "leaky_relu", "elu", "selu",
                                  "celu", "gelu", "silu", "mish", "softplus", "hardswish",
                                  "hardsigmoid", "hardshrink", "tanhshrink", "softsign",
                                  "logsigmoid"])
def test_nan_propagates(name):
    e, t = _pair([np.nan, 1.0], requires_grad=False)
    out = getattr(EF, name)(e).numpy()
    ref = getattr(TF, name)(t).numpy()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))


# ---- in place ---------------------------------------------------------------------------

INPLACE = {
    "relu": {}, "relu6": {}, "leaky_relu": {"negative_slope": 0.2}, "elu": {"alpha": 0.7},
    "selu": {}, "celu": {"alpha": 1.5}, "silu": {}, "mish": {}, "hardtanh": {"min_val": -0.5},
    "hardswish": {}, "hardsigmoid": {}, "rrelu": {}, "threshold": {"threshold": 0.2, "value": 9.0},
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_argument_overwrites_input_and_keeps_gradients(name):
    kwargs = INPLACE[name]
    results = []
    for lib, fn in ((ember, getattr(EF, name)), (torch, getattr(TF, name))):
        x = lib.tensor(np.linspace(-4, 4, 12), requires_grad=True)
        a = x * 1.5
        out = fn(a, inplace=True, **kwargs)
        assert out is a
        out.backward(lib.tensor(np.arange(12.0)))
        results.append((a.detach().numpy().copy(), x.grad.numpy().copy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6, atol=1e-7)


TRAILING = [
    ("relu_", (), "F"), ("relu_", (), "torch"), ("relu_", (), "method"),
    ("elu_", (0.5,), "F"), ("leaky_relu_", (0.3,), "F"), ("hardtanh_", (-0.5, 0.5), "F"),
    ("selu_", (), "F"), ("selu_", (), "torch"), ("celu_", (2.0,), "F"), ("celu_", (), "torch"),
    ("threshold_", (0.1, -3.0), "F"), ("threshold_", (0.1, -3.0), "torch"),
    ("rrelu_", (), "F"), ("rrelu_", (0.2, 0.4), "torch"),
]


def _underscore(lib, name, where):
    if where == "F":
        return getattr(lib.nn.functional, name)
    if where == "torch":
        return getattr(lib, name)
    return getattr(lib.Tensor, name)


@pytest.mark.parametrize("name,args,where", TRAILING)
def test_underscore_forms_match_torch(name, args, where):
    outs = []
    for lib in (ember, torch):
        x = lib.tensor(np.linspace(-2, 2, 9))
        out = _underscore(lib, name, where)(x, *args)
        assert out is x
        outs.append(x.numpy().copy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-7, atol=1e-12)


def test_inplace_on_leaf_that_requires_grad_raises():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        EF.relu(x, inplace=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.relu_()
    with torch.no_grad(), ember.no_grad():
        ember.relu_(x)  # allowed without recording, as in PyTorch


def test_overwriting_a_saved_input_is_detected():
    for lib in (ember, torch):
        x = lib.tensor([-1.0, 2.0], requires_grad=True)
        a = x * 1
        y = lib.nn.functional.gelu(a)
        lib.relu_(a)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


# ---- dtypes -----------------------------------------------------------------------------

INT_OK = {
    "relu": lambda m, x: m.relu(x),
    "relu6": lambda m, x: m.nn.functional.relu6(x),
    "hardtanh": lambda m, x: m.nn.functional.hardtanh(x, -1.5, 2.5),
    "threshold": lambda m, x: m.nn.functional.threshold(x, 1.5, 2.7),
    "tanhshrink": lambda m, x: m.nn.functional.tanhshrink(x),
    "softsign": lambda m, x: m.nn.functional.softsign(x),
    "relu_inplace": lambda m, x: m.relu_(x),
}


@pytest.mark.parametrize("name", sorted(INT_OK))
def test_integer_inputs_match_torch(name):
    arr = np.array([-3, -1, 0, 1, 2, 3, 9])
    mine = INT_OK[name](ember, ember.tensor(arr))
    ref = INT_OK[name](torch, torch.tensor(arr))
    assert str(mine.dtype).split(".")[-1] == str(ref.dtype).split(".")[-1]
    np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
                                  "softplus", "hardswish", "hardsigmoid", "hardshrink",
                                  "softshrink", "logsigmoid", "rrelu", "glu"])
def test_float_only_activations_refuse_integers_like_torch(name):
    with pytest.raises(NotImplementedError):
        getattr(TF, name)(torch.tensor([1, 2]))
    with pytest.raises(NotImplementedError, match=name):
        getattr(EF, name)(ember.tensor([1, 2]))


def test_bool_inputs_refused():
    for lib in (ember, torch):
        b = lib.tensor([True, False])
        with pytest.raises(RuntimeError):
            lib.relu(b)
        with pytest.raises(RuntimeError):
            lib.nn.functional.hardtanh(b)
        with pytest.raises(RuntimeError):
            lib.nn.functional.threshold(b, 0, 1)


@pytest.mark.parametrize("name", ["relu", "gelu", "silu", "softplus", "elu", "hardswish"])
def test_float32_stays_float32(name):
    x = ember.randn(4, dtype=ember.float32, requires_grad=True)
    y = getattr(EF, name)(x)
    assert y.dtype == ember.float32
    (g,) = ember.autograd.grad(y.sum(), x)
    assert g.dtype == ember.float32


# ---- errors -----------------------------------------------------------------------------

ERRORS = [
    (RuntimeError, lambda m: m.nn.functional.gelu(m.ones(2), approximate="fast")),
    (ValueError, lambda m: m.nn.functional.hardtanh(m.ones(2), 2.0, 1.0)),
    (RuntimeError, lambda m: m.nn.functional.softshrink(m.ones(2), -1.0)),
    (RuntimeError, lambda m: m.nn.functional.celu(m.ones(2), 0.0)),
    (RuntimeError, lambda m: m.nn.functional.rrelu(m.ones(2), 0.5, 0.1, training=True)),
    (RuntimeError, lambda m: m.nn.functional.prelu(m.ones(2, 3), m.ones(2))),
    (RuntimeError, lambda m: m.nn.functional.prelu(m.ones(3), m.ones(3))),
    (RuntimeError, lambda m: m.nn.functional.prelu(m.ones(2, 3), m.ones(3, 1))),
    (RuntimeError, lambda m: m.nn.functional.prelu(m.ones(2, 3), m.ones(3, dtype=m.float64))),
    (RuntimeError, lambda m: m.nn.functional.glu(m.ones(2, 3))),
    (RuntimeError, lambda m: m.nn.functional.glu(m.tensor(1.0))),
    (IndexError, lambda m: m.nn.functional.glu(m.ones(2, 4), 2)),
]


@pytest.mark.parametrize("error,fn", ERRORS)
def test_errors_match_torch(error, fn):
    with pytest.raises(error):
        fn(torch)
    with pytest.raises(error):
        fn(ember)


def test_error_names_the_op_and_the_shapes():
    with pytest.raises(RuntimeError, match=r"prelu: .*weight has 2 elements.*\(2, 3\)"):
        EF.prelu(ember.ones(2, 3), ember.ones(2))
    with pytest.raises(RuntimeError, match=r"glu: halving dimension .* size 3"):
        EF.glu(ember.ones(2, 3))


# ---- rrelu in training ------------------------------------------------------------------

def test_rrelu_training_draws_slopes_in_range_and_is_reproducible():
    x = ember.tensor(np.linspace(-3, 3, 2000), requires_grad=True)
    ember.manual_seed(7)
    y = EF.rrelu(x, 0.1, 0.3, training=True)
    ember.manual_seed(7)
    again = EF.rrelu(x, 0.1, 0.3, training=True)
    np.testing.assert_array_equal(y.detach().numpy(), again.detach().numpy())
    xs, ys = x.detach().numpy(), y.detach().numpy()
    slopes = ys[xs < 0] / xs[xs < 0]
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert len(np.unique(slopes.round(12))) > 100  # one draw per element
    np.testing.assert_array_equal(ys[xs > 0], xs[xs > 0])
    (g,) = ember.autograd.grad(y.sum(), x)
    np.testing.assert_allclose(g.numpy()[xs < 0], slopes)
    np.testing.assert_array_equal(g.numpy()[xs > 0], 1.0)


def test_rrelu_eval_uses_the_mean_slope():
    e, t = _pair([-2.0, -1.0, 1.0], requires_grad=False)
    _close(ember.rrelu(e, 0.1, 0.5), torch.rrelu(t, 0.1, 0.5))


# ---- gradients of gradients against torch -----------------------------------------------

@pytest.mark.parametrize("name", ["gelu", "silu", "mish", "softplus", "elu", "logsigmoid",
                                  "softsign", "tanhshrink", "hardswish", "selu"])
def test_second_derivative_matches_torch(name):
    e, t = _pair(np.linspace(-3.3, 3.1, 11))
    grads = []
    for lib, x in ((ember, e), (torch, t)):
        y = getattr(lib.nn.functional, name)(x)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        grads.append(gg.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, atol=1e-9)


def test_prelu_weight_gradient_per_channel():
    arr = np.random.default_rng(0).standard_normal((2, 3, 4))
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(arr, requires_grad=True)
        w = lib.tensor([0.1, 0.2, 0.3], dtype=lib.float64, requires_grad=True)
        (gx, gw) = lib.autograd.grad((lib.nn.functional.prelu(x, w) ** 2).sum(), (x, w))
        grads.append((gx.numpy(), gw.numpy()))
    for mine, ref in zip(*grads):
        np.testing.assert_allclose(mine, ref, rtol=1e-7)


@pytest.mark.parametrize("x_shape,w_shape", [((), (1,)), ((), ()), ((5,), (1,)),
                                             ((2, 3, 4), (1,)), ((2, 3, 4), (3,))])
def test_prelu_output_shape_matches_torch(x_shape, w_shape):
    mine = EF.prelu(-ember.ones(x_shape), ember.full(w_shape, 0.25))
    ref = TF.prelu(-torch.ones(x_shape), torch.full(w_shape, 0.25))
    assert tuple(mine.shape) == tuple(ref.shape)
    np.testing.assert_allclose(mine.numpy(), ref.numpy())
