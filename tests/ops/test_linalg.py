"""Linear algebra behaviour the op table cannot express: errors, dtypes, in-place forms,
``out=``, and ``beta == 0``."""

import numpy as np
import pytest
import torch

import ember
from tests.ops.harness import raises_like_torch

EF, TF = ember.nn.functional, torch.nn.functional


def _pair(*shape, seed=0, dtype=np.float64, requires_grad=False):
    arr = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return (ember.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def _close(e, t, tol=1e-12):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def test_linear_mismatch_message_names_both_shapes():
    text = raises_like_torch(lambda m: m.nn.functional.linear(m.ones(64, 100), m.ones(10, 84)))
    assert ("linear: input has 100 features (shape (64, 100)) but weight expects 84 "
            "(shape (10, 84))") in text
    assert "test_linalg.py" in text


@pytest.mark.parametrize("call, words", [
    (lambda m: m.nn.functional.linear(m.ones(3, 4), m.ones(2, 4, dtype=m.float64)), "float64"),
    (lambda m: m.nn.functional.linear(m.ones(3, 4), m.ones(2, 4), m.ones(3)), "bias"),
    (lambda m: m.nn.functional.linear(m.ones(()), m.ones(2, 4)), "1 dimension"),
    (lambda m: m.nn.functional.linear(m.ones(3, 4), m.ones(2, 2, 4)), "2-D"),
    (lambda m: m.nn.functional.linear(m.ones(3, 4), m.ones(4), m.ones(())), "2-D"),
    (lambda m: m.dot(m.ones(3), m.ones(4)), "inconsistent"),
    (lambda m: m.dot(m.ones(3, 1), m.ones(3, 1)), "1D tensors expected"),
    (lambda m: m.dot(m.ones(3), m.ones(3, dtype=m.float64)), "dtype"),
    (lambda m: m.outer(m.ones(3, 1), m.ones(3)), "1-D"),
    (lambda m: m.inner(m.ones(3, 2), m.ones(4, 3)), "last dimension"),
    (lambda m: m.mv(m.ones(3, 2), m.ones(3)), "cannot be multiplied"),
    (lambda m: m.mv(m.ones(3, 2), m.ones(3, 2)), "1-D"),
    (lambda m: m.addmm(m.ones(3, 2), m.ones(2, 4), m.ones(4, 3)), "broadcast"),
    (lambda m: m.addmm(m.ones(2, 3), m.ones(2, 4), m.ones(5, 3)), "cannot be multiplied"),
    (lambda m: m.addmm(m.ones(2, 3, dtype=m.float64), m.ones(2, 4), m.ones(4, 3)), "dtype"),
    (lambda m: m.addmv(m.ones(3), m.ones(2, 4), m.ones(4)), "broadcast"),
    (lambda m: m.baddbmm(m.ones(3), m.ones(2, 2, 4), m.ones(3, 4, 3)), "same number"),
    (lambda m: m.addbmm(m.ones(3), m.ones(2, 2, 4), m.ones(2, 3, 3)), "cannot be multiplied"),
    (lambda m: m.mm(m.ones(2, 3), m.ones(4, 2)), "differ"),
])
def test_errors_like_torch(call, words):
    assert words in raises_like_torch(call)


def test_linear_integer_matches_torch():
    x, w, b = np.arange(12).reshape(3, 4), np.arange(8).reshape(2, 4), np.array([1, -1])
    e = EF.linear(ember.tensor(x), ember.tensor(w), ember.tensor(b))
    t = TF.linear(torch.tensor(x), torch.tensor(w), torch.tensor(b))
    assert e.dtype == ember.int64
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_linear_float32_three_dims_contiguous_output():
    (xe, xt), (we, wt) = _pair(4, 5, 6, dtype=np.float32), _pair(3, 6, seed=1, dtype=np.float32)
    e, t = EF.linear(xe, we), TF.linear(xt, wt)
    assert e.dtype == ember.float32 and e.is_contiguous()
    _close(e, t, 1e-5)


def test_linear_does_not_record_under_no_grad():
    (xe, _), (we, _) = _pair(2, 3, requires_grad=True), _pair(4, 3, seed=1, requires_grad=True)
    with ember.no_grad():
        assert EF.linear(xe, we).grad_fn is None


def test_addmm_beta_zero_ignores_nan_input():
    (ae, at), (be, bt) = _pair(2, 3), _pair(3, 4, seed=1)
    e = ember.addmm(ember.full((2, 4), float("nan"), dtype=ember.float64), ae, be, beta=0)
    t = torch.addmm(torch.full((2, 4), float("nan"), dtype=torch.float64), at, bt, beta=0)
    _close(e, t)


def test_addmm_integer_with_integer_scalars():
    a, b, c = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4), np.ones((2, 4), np.int64)
    e = ember.addmm(ember.tensor(c), ember.tensor(a), ember.tensor(b), beta=3, alpha=2)
    t = torch.addmm(torch.tensor(c), torch.tensor(a), torch.tensor(b), beta=3, alpha=2)
    assert e.dtype == ember.int64
    np.testing.assert_array_equal(e.numpy(), t.numpy())


@pytest.mark.parametrize("name, shapes", [
    ("addmm_", [(2, 4), (2, 3), (3, 4)]),
    ("addmv_", [(2,), (2, 3), (3,)]),
    ("baddbmm_", [(2, 2, 4), (2, 2, 3), (2, 3, 4)]),
    ("addbmm_", [(2, 4), (3, 2, 3), (3, 3, 4)]),
])
def test_inplace_forms_match_torch(name, shapes):
    pairs = [_pair(*s, seed=i) for i, s in enumerate(shapes)]
    (ce, ct), rest = pairs[0], pairs[1:]
    before = ce._vbox[0]
    result = getattr(ce, name)(*(e for e, _ in rest), beta=0.5, alpha=2)
    getattr(ct, name)(*(t for _, t in rest), beta=0.5, alpha=2)
    assert result is ce and ce._vbox[0] == before + 1
    _close(ce, ct)


def test_inplace_on_leaf_requiring_grad_is_refused():
    c = ember.zeros(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        c.addmm_(ember.ones(2, 3, requires_grad=True), ember.ones(3, 2))


def test_inplace_addmm_gradients_match_torch():
    (ce, ct), (ae, at), (be, bt) = (_pair(2, 4, requires_grad=True),
                                    _pair(2, 3, seed=1, requires_grad=True),
                                    _pair(3, 4, seed=2, requires_grad=True))
    ye, yt = ce * 1.0, ct * 1.0
    ye.addmm_(ae, be, alpha=3)
    yt.addmm_(at, bt, alpha=3)
    (ye * ye).sum().backward()
    (yt * yt).sum().backward()
    for e, t in ((ce, ct), (ae, at), (be, bt)):
        _close(e.grad, t.grad)


@pytest.mark.parametrize("name, shapes", [
    ("dot", [(3,), (3,)]), ("mv", [(2, 3), (3,)]), ("outer", [(2,), (3,)]),
    ("inner", [(2, 3), (4, 3)]), ("matmul", [(2, 3), (3, 2)]), ("mm", [(2, 3), (3, 2)]),
])
def test_out_argument(name, shapes):
    pairs = [_pair(*s, seed=i) for i, s in enumerate(shapes)]
    t = getattr(torch, name)(*(t for _, t in pairs))
    out = ember.empty(tuple(t.shape), dtype=ember.float64)
    result = getattr(ember, name)(*(e for e, _ in pairs), out=out)
    assert result is out
    _close(out, t)


def test_methods_exist_like_torch():
    for name in ["dot", "vdot", "inner", "outer", "ger", "mv", "addmm", "addmv", "addbmm",
                 "baddbmm", "addmm_", "addmv_", "addbmm_", "baddbmm_"]:
        assert hasattr(torch.Tensor, name) and hasattr(ember.Tensor, name), name
    assert "linear" in dir(EF) and "bilinear" in dir(EF)


def test_outer_promotes_like_torch():
    e = ember.outer(ember.ones(2), ember.ones(3, dtype=ember.float64))
    t = torch.outer(torch.ones(2), torch.ones(3, dtype=torch.float64))
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
