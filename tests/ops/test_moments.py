"""var/std behaviour the op table cannot express: argument forms, edge cases, errors."""

import numpy as np
import pytest
import torch

import ember


def _pair(arr, requires_grad=False):
    arr = np.asarray(arr)
    return (ember.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def _same(e, t):
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-6, atol=1e-7,
                               equal_nan=True)


ARR = np.array([[1.0, 2.0, 4.0, 7.0], [0.5, -1.0, 3.0, 2.0], [2.0, 2.0, 2.0, 2.0]])


@pytest.mark.parametrize("call", [
    lambda m, x: m.var(x, 1, True, True),
    lambda m, x: m.var(x, False),
    lambda m, x: m.std(x, dim=0, unbiased=False, keepdim=True),
    lambda m, x: m.std(x, (0, 1), correction=2.5),
    lambda m, x: x.var(-1, correction=0),
    lambda m, x: x.std(),
])
def test_argument_forms_match_torch(call):
    e, t = _pair(ARR)
    _same(call(ember, e), call(torch, t))


def test_var_mean_and_std_mean_return_plain_tuples():
    e, t = _pair(ARR.astype(np.float32))
    for name in ["var_mean", "std_mean"]:
        out_e, out_t = getattr(ember, name)(e, 1), getattr(torch, name)(t, 1)
        assert type(out_e) is tuple and len(out_e) == 2
        for a, b in zip(out_e, out_t):
            _same(a, b)


def test_std_gradient_of_constant_slice_is_zero_like_torch():
    e, t = _pair(ARR, requires_grad=True)
    e.std(1).sum().backward()
    t.std(1).sum().backward()
    assert not np.isnan(e.grad.numpy()).any()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), atol=1e-12)


def test_too_few_elements_give_nan_or_inf_like_torch():
    e, t = _pair(np.array([[3.0], [1.0]]))
    with pytest.warns(UserWarning):
        ref = torch.var(t, 1)
    _same(ember.var(e, 1), ref)
    with pytest.warns(UserWarning):
        ref = torch.std(t, 0, correction=3)
    _same(ember.std(e, 0, correction=3), ref)


def test_errors():
    with pytest.raises(RuntimeError, match="floating"):
        ember.var(ember.tensor([1, 2, 3]))
    with pytest.raises(TypeError, match="correction"):
        ember.var(ember.ones(3), 0, unbiased=True, correction=1)
    with pytest.raises(IndexError):
        ember.std(ember.ones(3), 1)
