"""ReLU with its compiled kernels and without them, against PyTorch."""

import numpy as np
import pytest
import torch

import ember
from ember.backend.activation_kernels import flat_float


def _values(dtype, shape=(37, 29), seed=0):
    x = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    x.flat[:6] = [np.nan, -0.0, 0.0, np.inf, -np.inf, 1e-30]
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "strided"])
def test_relu_forward_and_backward_match_torch(kernels, dtype, layout):
    base = _values(dtype)
    view = {"contiguous": lambda a: a, "transposed": lambda a: a.T,
            "strided": lambda a: a[::2, 1::3]}[layout]
    g = np.random.default_rng(1).standard_normal(view(base).shape).astype(dtype)
    e_x = ember.tensor(base).requires_grad_()
    t_x = torch.tensor(base, requires_grad=True)
    e_y, t_y = ember.relu(view(e_x)), torch.relu(view(t_x))
    np.testing.assert_array_equal(e_y.detach().numpy(), t_y.detach().numpy())
    e_y.backward(ember.tensor(g))
    t_y.backward(torch.tensor(g))
    # ember's slope is 0 where x is nan (PyTorch passes the gradient there); elsewhere equal.
    keep = ~np.isnan(base)
    np.testing.assert_array_equal(e_x.grad.numpy()[keep], t_x.grad.numpy()[keep])


def test_relu_backward_of_a_broadcast_gradient(kernels):
    x = ember.tensor(_values(np.float32)).requires_grad_()
    ember.relu(x).sum().backward()  # the gradient arrives as a broadcast (stride 0) view
    expected = (np.nan_to_num(x.detach().numpy(), nan=-1.0) > 0).astype(np.float32)
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_relu_gradient_is_differentiable_again(kernels):
    x = ember.tensor(_values(np.float64, (5, 4), seed=2)[1:]).requires_grad_()
    (g,) = ember.autograd.grad(ember.relu(x).pow(2).sum(), x, create_graph=True)
    (gg,) = ember.autograd.grad(g.sum(), x)
    t = torch.tensor(x.detach().numpy(), requires_grad=True)
    (tg,) = torch.autograd.grad(torch.relu(t).pow(2).sum(), t, create_graph=True)
    (tgg,) = torch.autograd.grad(tg.sum(), t)
    np.testing.assert_allclose(g.detach().numpy(), tg.detach().numpy())
    np.testing.assert_allclose(gg.numpy(), tgg.numpy())


@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.int64])
def test_relu_of_other_dtypes_takes_numpys_path(kernels, dtype):
    x = (np.arange(-6, 6).reshape(3, 4)).astype(dtype)
    assert flat_float(x) is None
    np.testing.assert_array_equal(ember.relu(ember.tensor(x)).numpy(),
                                  torch.relu(torch.tensor(x)).numpy())


def test_flat_float_takes_contiguous_float32_and_float64_only():
    a = np.zeros((4, 6), np.float32)
    assert flat_float(a).shape == (24,) and np.shares_memory(flat_float(a), a)
    assert flat_float(a.T) is None
    assert flat_float(a[:, ::2]) is None
    assert flat_float(np.zeros(3, np.float64)) is not None
