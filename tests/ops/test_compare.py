"""Behaviour of comparisons and selections that the op table cannot express: ties and
boundaries in gradients, dtypes and promotion, scalars on either side, in-place forms,
``where(condition)``, and errors. Every expected value comes from PyTorch."""

import numpy as np
import pytest
import torch

import ember

NAN = float("nan")


def _pair(values, dtype=None, requires_grad=False):
    e = ember.tensor(values, dtype=getattr(ember, dtype) if dtype else None)
    t = torch.tensor(values, dtype=getattr(torch, dtype) if dtype else None)
    return e.requires_grad_(requires_grad), t.requires_grad_(requires_grad)


def _same(e, t):
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    np.testing.assert_array_equal(e.detach().numpy(), t.detach().numpy())


def _grads_match(fn, *values):
    """fn(lib, *tensors).sum() differentiated in both libraries, inputs from ``values``."""
    pairs = [_pair(v, "float64", True) for v in values]
    e_in, t_in = [p[0] for p in pairs], [p[1] for p in pairs]
    e_g = ember.autograd.grad(fn(ember, *e_in).sum(), e_in, allow_unused=True)
    t_g = torch.autograd.grad(fn(torch, *t_in).sum(), t_in, allow_unused=True)
    for g, r in zip(e_g, t_g):
        r = np.zeros(1) if r is None else r.numpy()
        g = np.zeros(1) if g is None else g.numpy()
        np.testing.assert_array_equal(g, r)


# ---- gradients at ties, NaN and boundaries ---------------------------------------------

TIES = ([1.0, 2.0, 3.0, NAN, 2.0, -0.0], [1.0, 1.0, 4.0, 1.0, NAN, 0.0])


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin"])
def test_tie_and_nan_gradients(name):
    _grads_match(lambda m, a, b: getattr(m, name)(a, b), *TIES)


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin"])
def test_nan_forward(name):
    e_a, t_a = _pair(TIES[0])
    e_b, t_b = _pair(TIES[1])
    _same(getattr(ember, name)(e_a, e_b), getattr(torch, name)(t_a, t_b))


X = [0.0, 1.0, 2.0, 3.0, 4.0, 0.5, 2.0]
LO = [1.0, 1.0, 1.0, 3.0, 5.0, 0.5, 2.0]
HI = [3.0, 3.0, 3.0, 3.0, 2.0, 0.5, 1.0]


@pytest.mark.parametrize("fn", [
    lambda m, x, lo, hi: m.clamp(x, lo, hi),
    lambda m, x, lo, hi: m.clamp(x, min=lo),
    lambda m, x, lo, hi: m.clamp(x, max=hi),
    lambda m, x, lo, hi: m.clamp_min(x, lo) + m.clamp_max(x, hi),
    lambda m, x, lo, hi: m.clamp(x, 1.0, 3.0) + m.clamp(x, min=2.0) + m.clamp(x, max=2.0),
    lambda m, x, lo, hi: m.clamp(x, 3.0, 1.0),  # min > max: everything becomes max
], ids=["both", "min", "max", "min_max_fns", "scalars", "min_above_max"])
def test_clamp_boundary_gradients(fn):
    _grads_match(fn, X, LO, HI)


def test_clamp_forward_min_above_max_and_nan():
    e, t = _pair([0.0, 5.0, 10.0, NAN])
    _same(ember.clamp(e, 6, 4), torch.clamp(t, 6, 4))
    _same(e.clip(min=1), t.clip(min=1))


def test_where_gradients_with_scalars_and_broadcast():
    c_e, c_t = _pair([[True, False, True]])
    _grads_match(lambda m, x, y: m.where(c_e if m is ember else c_t, x, y),
                 [[1.0], [2.0]], [3.0, 4.0, 5.0])
    _grads_match(lambda m, x: m.where(c_e if m is ember else c_t, x, 0.0), [1.0, 2.0, 3.0])


def test_where_second_order():
    x_e, x_t = _pair([1.0, -2.0, 3.0], "float64", True)
    outs = []
    for m, x in ((ember, x_e), (torch, x_t)):
        y = m.where(x > 0, x * x * x, -x)
        (g,) = m.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = m.autograd.grad(g.sum(), x)
        outs.append(gg.numpy())
    np.testing.assert_allclose(outs[0], outs[1])


# ---- dtypes, promotion, scalars ---------------------------------------------------------

@pytest.mark.parametrize("op", ["eq", "ne", "lt", "le", "gt", "ge"])
@pytest.mark.parametrize("other", [1.5, 2, True, -1])
def test_compare_with_scalars_on_both_sides(op, other):
    for dtype in ("int64", "float32", "uint8", "bool"):
        e, t = _pair([0, 1, 2, 3], dtype)
        _same(getattr(ember, op)(e, other), getattr(torch, op)(t, other))
        _same(getattr(e, op)(other), getattr(t, op)(other))


@pytest.mark.parametrize("op", ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"])
def test_compare_operators_scalar_left_and_mixed_dtypes(op):
    e, t = _pair([0.5, 1.0, 2.0], "float32")
    e_i, t_i = _pair([0, 1, 2], "int64")
    ref = {"__eq__": "__eq__", "__ne__": "__ne__", "__lt__": "__gt__", "__le__": "__ge__",
           "__gt__": "__lt__", "__ge__": "__le__"}[op]
    # 1 < x is evaluated by Python as x.__gt__(1)
    _same(getattr(e, ref)(1), getattr(t, ref)(1))
    _same(getattr(e, op)(e_i), getattr(t, op)(t_i))
    _same(getattr(e_i, op)(e.double()), getattr(t_i, op)(t.double()))


def test_eq_with_non_numbers_falls_back_to_python():
    e, t = _pair([1.0])
    assert (e == None) is (t == None) is False
    assert (e != "a") is (t != "a") is True


def test_results_are_bool_without_grad():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    for r in (x == 1, x < 2, ember.isnan(x), ember.logical_not(x), x.isclose(x)):
        assert r.dtype == ember.bool and not r.requires_grad


@pytest.mark.parametrize("dtype", ["int64", "float32", "float64"])
def test_clamp_dtypes(dtype):
    e, t = _pair([-3, 0, 2, 7], dtype)
    _same(ember.clamp(e, 0, 2), torch.clamp(t, 0, 2))
    _same(ember.clamp(e, min=0.5), torch.clamp(t, min=0.5))
    lo_e, lo_t = _pair([1.0, 1.0, 1.0, 1.0], "float64")
    _same(ember.clamp(e, min=lo_e), torch.clamp(t, min=lo_t))


def test_where_dtypes():
    c_e, c_t = _pair([True, False])
    i_e, i_t = _pair([1, 2])
    for a, b in ((1, 0), (1.0, 0), (i_e, 0.5), (i_e, 2), (0.5, i_e)):
        a_t = i_t if a is i_e else a
        b_t = i_t if b is i_e else b
        _same(ember.where(c_e, a, b), torch.where(c_t, a_t, b_t))


def test_where_condition_only():
    c_e, c_t = _pair([[True, False, True], [False, True, False]])
    for e, t in zip(ember.where(c_e), torch.where(c_t)):
        _same(e, t)
    z_e, z_t = _pair(True)
    assert [x.tolist() for x in ember.where(z_e)] == [x.tolist() for x in torch.where(z_t)]


def test_maximum_keeps_ints_and_promotes():
    a_e, a_t = _pair([1, 5, 3])
    b_e, b_t = _pair([2.5, 1.0, 3.0])
    _same(ember.maximum(a_e, a_e), torch.maximum(a_t, a_t))
    _same(ember.minimum(a_e, b_e), torch.minimum(a_t, b_t))


def test_bitwise_and_logical_dtypes():
    i_e, i_t = _pair([-3, 0, 6], "int32")
    b_e, b_t = _pair([True, False, True])
    _same(i_e & b_e, i_t & b_t)
    _same(b_e | True, b_t | True)
    _same(3 ^ i_e, 3 ^ i_t)
    _same(ember.logical_xor(i_e, b_e), torch.logical_xor(i_t, b_t))
    _same(ember.bitwise_not(i_e), torch.bitwise_not(i_t))


def test_predicates():
    e, t = _pair([1.0, NAN, float("inf"), -float("inf"), -0.0, 0.0, -2.0])
    for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit"):
        _same(getattr(ember, name)(e), getattr(torch, name)(t))
        _same(getattr(e, name)(), getattr(t, name)())
    i_e, i_t = _pair([-1, 0, 2])
    for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit"):
        _same(getattr(ember, name)(i_e), getattr(torch, name)(i_t))


def test_isclose_allclose_equal():
    a_e, a_t = _pair([1.0, NAN, 3.0, 1e-9])
    b_e, b_t = _pair([1.0 + 1e-6, NAN, 3.1, 0.0])
    _same(ember.isclose(a_e, b_e), torch.isclose(a_t, b_t))
    _same(ember.isclose(a_e, b_e, equal_nan=True), torch.isclose(a_t, b_t, equal_nan=True))
    _same(a_e.isclose(b_e, rtol=0.1), a_t.isclose(b_t, rtol=0.1))
    assert ember.allclose(a_e, a_e, equal_nan=True) == torch.allclose(a_t, a_t, equal_nan=True)
    assert ember.allclose(a_e, b_e) == torch.allclose(a_t, b_t)
    i_e, i_t = _pair([1, 2, 3])
    _same(ember.isclose(i_e, i_e + 1, atol=1), torch.isclose(i_t, i_t + 1, atol=1))
    assert ember.equal(i_e, i_e.double()) == torch.equal(i_t, i_t.double())
    assert ember.equal(i_e, i_e[None]) == torch.equal(i_t, i_t[None])
    assert a_e.equal(a_e) == torch.equal(a_t, a_t)


# ---- in-place forms ---------------------------------------------------------------------

@pytest.mark.parametrize("call", [
    lambda x, y: x.clamp_(0.0, 1.5), lambda x, y: x.clip_(max=1.0),
    lambda x, y: x.clamp_min_(1.0), lambda x, y: x.clamp_max_(1.0),
    lambda x, y: x.clamp_(min=y), lambda x, y: x.lt_(y), lambda x, y: x.eq_(1.0),
    lambda x, y: x.logical_and_(y), lambda x, y: x.logical_not_(),
], ids=["clamp_", "clip_", "clamp_min_", "clamp_max_", "clamp_tensor", "lt_", "eq_",
        "logical_and_", "logical_not_"])
def test_inplace_matches_torch(call):
    x_e, x_t = _pair([-1.0, 0.5, 1.0, 2.0])
    y_e, y_t = _pair([0.0, 1.0, 1.0, 3.0])
    r_e = call(x_e, y_e)
    call(x_t, y_t)
    assert r_e is x_e
    _same(x_e, x_t)
    assert x_e._vbox[0] == 1


def test_inplace_bitwise_operators():
    x_e, x_t = _pair([1, 2, 7])
    ids = id(x_e)
    x_e &= 3
    x_t &= 3
    x_e |= 8
    x_t |= 8
    x_e ^= 1
    x_t ^= 1
    assert id(x_e) == ids
    _same(x_e, x_t)


def test_inplace_clamp_records_gradient_and_guards_versions():
    x_e, x_t = _pair([-1.0, 0.5, 2.0], "float64", True)
    grads = []
    for m, x in ((ember, x_e), (torch, x_t)):
        y = x * 2
        y.clamp_(-1.0, 1.0)
        (g,) = m.autograd.grad(y.sum(), x)
        grads.append(g.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])
    leaf = ember.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.clamp_(0.0, 0.5)
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = ember.maximum(y, ember.tensor([1.5, 1.5]))
    y.clamp_(0.0, 1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_inplace_int_clamp_to_float_bound_fails_like_torch():
    x_e, x_t = _pair([1, 2, 3])
    with pytest.raises(RuntimeError):
        x_t.clamp_(min=1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        x_e.clamp_(min=1.5)


def test_out_argument():
    e, t = _pair([1.0, 5.0])
    out_e, out_t = ember.empty(2, dtype=ember.bool), torch.empty(2, dtype=torch.bool)
    ember.gt(e, 2, out=out_e)
    torch.gt(t, 2, out=out_t)
    _same(out_e, out_t)
    out_e = ember.empty(2)
    assert ember.clamp(e, 0, 2, out=out_e) is out_e
    _same(out_e, torch.clamp(t, 0, 2))


# ---- errors -----------------------------------------------------------------------------

def test_clamp_without_bounds_raises():
    x = ember.tensor([1.0])
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        ember.clamp(x)
    with pytest.raises(RuntimeError, match="At least one"):
        x.clamp_()


def test_where_needs_bool_condition():
    x = ember.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="boolean"):
        ember.where(x, x, x)
    with pytest.raises(TypeError):
        ember.where(x > 1, x)


def test_bitwise_on_floats_raises():
    x = ember.tensor([1.0])
    with pytest.raises(NotImplementedError, match="bitwise_and"):
        _ = x & x
    with pytest.raises(NotImplementedError, match="bitwise_not"):
        _ = ~x


def test_compare_shape_mismatch_names_op_and_shapes():
    with pytest.raises(RuntimeError, match=r"lt.*\(2,\).*\(3,\)"):
        _ = ember.zeros(2) < ember.zeros(3)


def test_isclose_needs_same_dtype():
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.isclose(ember.zeros(2), ember.zeros(2, dtype=ember.float64))


@pytest.mark.parametrize("name", ["maximum", "minimum", "fmax", "fmin", "clamp"])
def test_infinite_upstream_gradient_does_not_leak_into_the_unchosen_side(name):
    grads = []
    for m in (ember, torch):
        a = m.tensor([1.0, 3.0, 2.0], dtype=m.float64, requires_grad=True)
        b = m.tensor([2.0, 1.0, 2.0], dtype=m.float64, requires_grad=True)
        y = m.clamp(a, max=b) if name == "clamp" else getattr(m, name)(a, b)
        g = m.tensor([float("inf"), -float("inf"), float("inf")], dtype=m.float64)
        grads.append([t.numpy() for t in m.autograd.grad(y, [a, b], g)])
    for e, t in zip(*grads):
        np.testing.assert_array_equal(e, t)
