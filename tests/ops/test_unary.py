"""Behaviour of elementwise math that the op table cannot express: integer and bool inputs,
accuracy of erf/erfinv, extreme values, zero gradients of step functions, in-place forms,
and errors. Every expected value comes from PyTorch (ember.ops.unary and ember.ops.pointwise).
"""

import warnings

import numpy as np
import pytest
import torch

import ember

NAN, INF = float("nan"), float("inf")


def _pair(values, dtype=None, requires_grad=False):
    e = ember.tensor(values, dtype=getattr(ember, dtype) if dtype else None)
    t = torch.tensor(values, dtype=getattr(torch, dtype) if dtype else None)
    return e.requires_grad_(requires_grad), t.requires_grad_(requires_grad)


def _same(e, t, rtol=1e-6):
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=0,
                               equal_nan=True)


FLOAT_FNS = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "sin",
             "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
             "atanh", "sigmoid", "logit", "erf", "erfc", "erfinv", "deg2rad", "rad2deg", "sinc"]
INT_KEEPING = ["abs", "sign", "sgn", "floor", "ceil", "round", "trunc", "fix", "nan_to_num"]


# ---- dtypes -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", FLOAT_FNS)
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "bool"])
def test_integer_and_bool_inputs_give_default_float(name, dtype):
    values = [True, False, True] if dtype == "bool" else [0, 1, 3]
    e, t = _pair(values, dtype)
    _same(getattr(ember, name)(e), getattr(torch, name)(t))


@pytest.mark.parametrize("name", ["exp", "sigmoid", "atan"])
def test_integer_inputs_follow_default_dtype(name):
    e, t = _pair([1, 2])
    ember.set_default_dtype(ember.float64)
    torch.set_default_dtype(torch.float64)
    try:
        _same(getattr(ember, name)(e), getattr(torch, name)(t))
    finally:
        ember.set_default_dtype(ember.float32)
        torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("name", INT_KEEPING)
@pytest.mark.parametrize("dtype", ["int64", "int16", "uint8"])
def test_integer_dtype_kept(name, dtype):
    e, t = _pair([0, 1, 3, 7] if dtype == "uint8" else [-3, 0, 2, -7], dtype)
    _same(getattr(ember, name)(e), getattr(torch, name)(t))


@pytest.mark.parametrize("name", ["abs", "floor", "ceil", "round", "trunc", "frac"])
def test_bool_inputs_raise_like_torch(name):
    e, t = _pair([True, False])
    with pytest.raises(NotImplementedError):
        getattr(torch, name)(t)
    with pytest.raises(NotImplementedError, match=name):
        getattr(ember, name)(e)


def test_sign_of_bool_and_frac_round_of_int():
    e, t = _pair([True, False])
    _same(ember.sign(e), torch.sign(t))
    i_e, i_t = _pair([1, 2])
    for fn in (lambda m, x: m.frac(x), lambda m, x: m.round(x, decimals=1)):
        with pytest.raises(NotImplementedError):
            fn(torch, i_t)
        with pytest.raises(NotImplementedError):
            fn(ember, i_e)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_float_dtypes_kept(dtype):
    e, t = _pair([0.25, 1.5, -2.0], dtype)
    rtol = 1e-3 if dtype == "float16" else 1e-6
    for name in ("exp", "tanh", "sigmoid", "abs", "floor", "erf", "sinc"):
        _same(getattr(ember, name)(e), getattr(torch, name)(t), rtol=rtol)


def test_pointwise_dtypes_and_scalars():
    i_e, i_t = _pair([1, 2, 3])
    f_e, f_t = _pair([0.5, 1.0, 2.0])
    _same(ember.atan2(i_e, i_e), torch.atan2(i_t, i_t))
    _same(ember.xlogy(i_e, i_e), torch.xlogy(i_t, i_t))
    _same(ember.xlogy(2, f_e), torch.xlogy(2, f_t))
    _same(ember.xlogy(f_e, 3), torch.xlogy(f_t, 3))
    _same(ember.addcmul(i_e, i_e, i_e, value=2), torch.addcmul(i_t, i_t, i_t, value=2))
    _same(ember.addcmul(f_e, f_e.double(), f_e), torch.addcmul(f_t, f_t.double(), f_t))
    _same(ember.lerp(f_e, f_e * 3, 0.25), torch.lerp(f_t, f_t * 3, 0.25))


# ---- accuracy and special values --------------------------------------------------------

def test_erf_family_accuracy_float64():
    x = np.concatenate([np.linspace(-7, 7, 2001), [0.0, -0.0, 1e-300, 30.0, -30.0]])
    e, t = ember.from_numpy(x), torch.from_numpy(x)
    np.testing.assert_allclose(ember.erf(e).numpy(), torch.erf(t).numpy(), rtol=1e-14, atol=0)
    mine, ref = ember.erfc(e).numpy(), torch.erfc(t).numpy()
    np.testing.assert_allclose(mine, ref, rtol=1e-13, atol=1e-300)
    y = np.concatenate([np.linspace(-0.999999, 0.999999, 2001), [1 - 2 ** -53, 1e-300, 0.0]])
    mine = ember.erfinv(ember.from_numpy(y)).numpy()
    np.testing.assert_allclose(mine, torch.erfinv(torch.from_numpy(y)).numpy(), rtol=1e-13)


def test_special_values_are_quiet_and_match_torch():
    values = [NAN, INF, -INF, 0.0, -0.0, -1.0, 1.0, 1e-30, 1000.0, -1000.0]
    e, t = _pair(values, "float64")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in FLOAT_FNS + ["abs", "sign", "floor", "round", "frac", "nan_to_num"]:
            _same(getattr(ember, name)(e), getattr(torch, name)(t), rtol=1e-12)


def test_sigmoid_extremes_float32():
    e, t = _pair([-200.0, -100.0, -20.0, 0.0, 20.0, 100.0])
    _same(ember.sigmoid(e), torch.sigmoid(t))
    _same(ember.sigmoid(e[0]), torch.sigmoid(t[0]))


def test_erfinv_edges():
    e, t = _pair([-1.0, 1.0, 1.5, -2.0, NAN, 0.5], "float32")
    _same(ember.erfinv(e), torch.erfinv(t), rtol=1e-6)


def test_round_decimals_matches_torch():
    values = [1.005, 2.675, 15.0, 25.0, -0.5, 0.5, 1.5, 2.5, 1234.5678, -35.0]
    for dtype in ("float16", "float32", "float64"):
        e, t = _pair(values, dtype)
        for d in (0, 1, 2, 3, -1, -2):
            _same(ember.round(e, decimals=d), torch.round(t, decimals=d))
            _same(e.round(decimals=d), t.round(decimals=d))


def test_nan_to_num_values():
    e, t = _pair([NAN, INF, -INF, 1.0], "float32")
    _same(ember.nan_to_num(e), torch.nan_to_num(t))
    _same(e.nan_to_num(nan=2.0, posinf=9.0), t.nan_to_num(nan=2.0, posinf=9.0))
    _same(ember.nan_to_num(e, neginf=-1.0), torch.nan_to_num(t, neginf=-1.0))


def test_xlogy_and_logaddexp_special_values():
    a_e, a_t = _pair([0.0, 0.0, 0.0, 2.0, 1.0], "float64")
    b_e, b_t = _pair([0.0, NAN, -1.0, INF, 0.0], "float64")
    _same(ember.xlogy(a_e, b_e), torch.xlogy(a_t, b_t))
    c_e, c_t = _pair([-INF, INF, 1000.0, -INF], "float64")
    d_e, d_t = _pair([-INF, INF, 1000.0, 0.0], "float64")
    _same(ember.logaddexp(c_e, d_e), torch.logaddexp(c_t, d_t))
    _same(ember.logaddexp2(c_e, d_e), torch.logaddexp2(c_t, d_t))


# ---- gradients the table cannot express -------------------------------------------------

def _grads(fn, *values):
    pairs = [_pair(v, "float64", True) for v in values]
    e_in, t_in = [p[0] for p in pairs], [p[1] for p in pairs]
    e_g = ember.autograd.grad(fn(ember, *e_in).sum(), e_in, allow_unused=True)
    t_g = torch.autograd.grad(fn(torch, *t_in).sum(), t_in, allow_unused=True)
    for g, r in zip(e_g, t_g):
        r = np.zeros(1) if r is None else r.numpy()
        g = np.zeros(1) if g is None else g.numpy()
        np.testing.assert_allclose(g, r, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("name", ["floor", "ceil", "round", "trunc", "sign", "fix"])
def test_step_functions_have_zero_gradient(name):
    _grads(lambda m, x: getattr(m, name)(x) * x, [-1.5, 0.0, 0.5, 2.0])


def test_abs_gradient_at_zero_is_zero():
    _grads(lambda m, x: m.abs(x), [-1.0, 0.0, -0.0, 2.0])


def test_logit_eps_gradient_outside_is_zero():
    _grads(lambda m, x: m.logit(x, eps=0.1), [0.0, 0.05, 0.1, 0.5, 0.9, 0.95, 1.0])
    _grads(lambda m, x: m.logit(x), [0.2, 0.5, 0.7])


def test_nan_to_num_gradient_masks_non_finite():
    _grads(lambda m, x: m.nan_to_num(m.log(x)), [-1.0, 0.0, 2.0])


def test_xlogy_gradient_at_zero():
    _grads(lambda m, x, y: m.xlogy(x, y), [0.0, 0.0, 1.0, 0.0], [0.0, -1.0, 2.0, 3.0])


def test_clamped_round_trip_sqrt_at_zero():
    _grads(lambda m, x: m.sqrt(x), [0.0, 4.0])
    _grads(lambda m, x: m.rsqrt(x), [1.0, 4.0])


# ---- in-place forms ---------------------------------------------------------------------

INPLACE = ["exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "abs",
           "absolute", "sign", "sgn", "sin", "cos", "tan", "asin", "arcsin", "acos", "arccos",
           "atan", "arctan", "sinh", "cosh", "tanh", "asinh", "arcsinh", "acosh", "arccosh",
           "atanh", "arctanh", "sigmoid", "logit", "erf", "erfc", "erfinv", "floor", "ceil",
           "round", "trunc", "fix", "frac", "deg2rad", "rad2deg", "sinc", "nan_to_num"]


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_unary_matches_torch(name):
    e, t = _pair([0.3, 0.6, 0.9], "float64")
    view = e[1:]
    out = getattr(e, name + "_")()
    getattr(t, name + "_")()
    assert out is e and e._vbox[0] == 1
    _same(e, t)
    np.testing.assert_array_equal(view.numpy(), e.numpy()[1:])  # views see the new values


@pytest.mark.parametrize("call", [
    lambda m, x, y: x.atan2_(y), lambda m, x, y: x.hypot_(y), lambda m, x, y: x.xlogy_(y),
    lambda m, x, y: x.lerp_(y, 0.3), lambda m, x, y: x.lerp_(y, y),
    lambda m, x, y: x.addcmul_(y, y, value=0.5), lambda m, x, y: x.addcdiv_(y, y + 1, value=2),
    lambda m, x, y: x.arctan2_(y),
], ids=["atan2_", "hypot_", "xlogy_", "lerp_", "lerp_tensor", "addcmul_", "addcdiv_",
        "arctan2_"])
def test_inplace_pointwise_matches_torch(call):
    x_e, x_t = _pair([0.3, 0.6, 0.9], "float64")
    y_e, y_t = _pair([0.5, 0.2, 0.1], "float64")
    assert call(ember, x_e, y_e) is x_e
    call(torch, x_t, y_t)
    _same(x_e, x_t)


def test_inplace_float_op_on_int_tensor_raises_like_torch():
    e, t = _pair([1, 2])
    with pytest.raises(RuntimeError):
        t.exp_()
    with pytest.raises(RuntimeError, match="can't be cast"):
        e.exp_()
    e.abs_()  # int-keeping ops are fine in place
    e.floor_()


def test_inplace_records_gradient_and_checks_versions():
    grads = []
    for m in (ember, torch):
        x = m.tensor([0.5, -1.0, 2.0], dtype=m.float64, requires_grad=True)
        y = x * 2
        y.sin_()
        y.tanh_()
        (g,) = m.autograd.grad(y.sum(), x)
        grads.append(g.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.sigmoid_()
    for m in (torch, ember):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        z = (x * 1).exp()  # exp saves its output, which sigmoid_ then overwrites
        z.sigmoid_()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


def test_optimizer_style_addcmul_addcdiv_inplace():
    for m in (ember, torch):
        g = m.tensor([0.1, -0.2, 0.3])
        v = m.zeros(3)
        p = m.ones(3)
        for _ in range(3):
            v.mul_(0.9).addcmul_(g, g, value=0.1)
            p.addcdiv_(g, v.sqrt().add_(1e-8), value=-0.01)
        if m is ember:
            mine = p.numpy().copy()
    np.testing.assert_allclose(mine, p.numpy(), rtol=1e-6)


def test_abs_operator_and_out():
    e, t = _pair([-1.5, 2.0])
    _same(abs(e), abs(t))
    out = ember.empty(2)
    assert ember.exp(e, out=out) is out
    _same(out, torch.exp(t))


# ---- errors -----------------------------------------------------------------------------

def test_python_numbers_are_rejected_like_torch():
    with pytest.raises(TypeError):
        torch.exp(2.0)
    with pytest.raises(TypeError, match="exp"):
        ember.exp(2.0)


@pytest.mark.parametrize("name", ["hypot", "logaddexp", "logaddexp2"])
def test_float_only_binary_ops_reject_ints(name):
    i_e, i_t = _pair([1, 2])
    with pytest.raises(NotImplementedError):
        getattr(torch, name)(i_t, i_t)
    with pytest.raises(NotImplementedError, match=name):
        getattr(ember, name)(i_e, i_e)


def test_addcdiv_rejects_integer_division():
    i_e, i_t = _pair([1, 2])
    with pytest.raises(RuntimeError):
        torch.addcdiv(i_t, i_t, i_t)
    with pytest.raises(RuntimeError, match="addcdiv"):
        ember.addcdiv(i_e, i_e, i_e)


def test_shape_mismatch_names_the_op():
    with pytest.raises(RuntimeError, match=r"atan2.*\(2,\).*\(3,\)"):
        ember.atan2(ember.zeros(2), ember.zeros(3))
