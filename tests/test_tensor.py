"""Tensor basics: metadata, conversions, repr, errors."""

import numpy as np
import pytest
import torch

import ember


def test_metadata():
    x = ember.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.size() == (2, 3, 4) and x.size(-1) == 4
    assert x.dim() == x.ndim == 3 and x.numel() == 24
    assert x.shape.numel() == 24 and isinstance(x.shape, tuple)
    assert x.stride() == torch.zeros(2, 3, 4).stride()
    assert x.element_size() == 4 and x.nbytes == 96
    assert str(x.device) == "cpu" and x.is_contiguous()
    assert len(x) == 2


def test_item_and_conversions():
    x = ember.tensor([[2.5]])
    assert x.item() == 2.5 and float(x) == 2.5 and int(x) == 2 and bool(x)
    assert ember.tensor(3).__index__() == 3
    assert [0, 1, 2, 3][ember.tensor(2)] == 2
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        ember.ones(2).item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(ember.ones(2))
    with pytest.raises(TypeError, match="0-d"):
        len(ember.tensor(1.0))
    assert ember.tensor([[1, 2]]).tolist() == [[1, 2]]


def test_numpy_refuses_requires_grad():
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy().tolist() == [1.0, 1.0]
    assert np.asarray(ember.ones(2)).dtype == np.float32


@pytest.mark.parametrize("data,kwargs", [
    ([1.0, 2.0], {}), ([[1.5, -2.25], [3.0, 4.0]], {}), ([1, 2, 3], {}), ([True, False], {}),
    (3.0, {}), ([0.1234567, 100.0], {}), ([1.0, 2.0], {"requires_grad": True}),
    ([1, 2], {"dtype": "int32"}), ([1.0], {"dtype": "float64"}),
])
def test_repr_like_torch(data, kwargs):
    kw = dict(kwargs)
    if "dtype" in kw:
        kw_e = {**kw, "dtype": getattr(ember, kw["dtype"])}
        kw_t = {**kw, "dtype": getattr(torch, kw["dtype"])}
    else:
        kw_e = kw_t = kw
    expected = repr(torch.tensor(data, **kw_t)).replace("torch.", "ember.")
    assert repr(ember.tensor(data, **kw_e)) == expected


def test_repr_shows_grad_fn():
    x = ember.ones(2, requires_grad=True)
    assert repr(x * 2) == "tensor([2., 2.], grad_fn=<MulBackward0>)"


def test_new_factories():
    x = ember.zeros(2, dtype=ember.float64)
    assert x.new_zeros(3).dtype == ember.float64 and x.new_ones((1, 2)).shape == (1, 2)
    assert x.new_full((2,), 3).tolist() == [3.0, 3.0]
    assert x.new_tensor([1, 2]).dtype == ember.float64


def test_data_property():
    x = ember.ones(2, requires_grad=True)
    d = x.data
    assert not d.requires_grad
    with ember.no_grad():
        d.mul_(3)
    assert x.detach().tolist() == [3.0, 3.0]
    x.data = ember.zeros(2)
    assert x.detach().tolist() == [0.0, 0.0] and x.requires_grad


def test_grad_setter_checks_shape():
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="shape"):
        x.grad = ember.ones(3)
    x.grad = ember.ones(2)
    assert x.grad.tolist() == [1.0, 1.0]


def test_numpy_scalars_and_arrays_defer_to_tensor():
    x = ember.ones(2)
    assert isinstance(np.float32(2) * x, ember.Tensor)
    assert isinstance(np.ones(2) + x, ember.Tensor)
