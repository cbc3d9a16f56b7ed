"""parameters_to_vector and vector_to_parameters against torch: values, order, gradients,
shared memory and errors."""

import numpy as np
import pytest
import torch

import ember
from ember.nn.utils import parameters_to_vector, vector_to_parameters
from tests.nn.layer_check import assert_same, copy_from_torch

T = torch.nn.utils


def models():
    torch.manual_seed(0)
    t = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 2), torch.nn.Flatten(),
                            torch.nn.Linear(12, 2, bias=False), torch.nn.PReLU(2)).double()
    e = ember.nn.Sequential(ember.nn.Conv2d(2, 3, 2), ember.nn.Flatten(),
                            ember.nn.Linear(12, 2, bias=False), ember.nn.PReLU(2)).double()
    copy_from_torch(e, t)
    return e, t


def test_parameters_to_vector_matches_torch():
    e, t = models()
    e_vec, t_vec = parameters_to_vector(e.parameters()), T.parameters_to_vector(t.parameters())
    assert e_vec.shape == (sum(p.numel() for p in t.parameters()),)
    assert_same(e_vec, t_vec)
    assert e_vec.requires_grad and e_vec.grad_fn is not None


def test_parameters_to_vector_is_differentiable():
    e, t = models()
    weights = np.random.default_rng(0).standard_normal(sum(p.numel() for p in t.parameters()))
    (parameters_to_vector(e.parameters()) ** 2 * ember.tensor(weights)).sum().backward()
    (T.parameters_to_vector(t.parameters()) ** 2 * torch.tensor(weights)).sum().backward()
    for ep, tp in zip(e.parameters(), t.parameters()):
        assert_same(ep.grad, tp.grad)


def test_round_trip_and_shared_memory_like_torch():
    e, t = models()
    n = sum(p.numel() for p in t.parameters())
    new = np.random.default_rng(1).standard_normal(n + 3)  # extra values are ignored
    e_vec, t_vec = ember.tensor(new), torch.tensor(new)
    vector_to_parameters(e_vec, e.parameters())
    T.vector_to_parameters(t_vec, t.parameters())
    for (name, ep), tp in zip(e.named_parameters(), t.parameters()):
        assert ep.shape == tp.shape, name
        assert_same(ep.detach(), tp.detach(), what=name)
    # Parameters now view the vector, in both frameworks.
    e_vec[0] = 100.0
    t_vec[0] = 100.0
    assert e[0].weight[0, 0, 0, 0].item() == t[0].weight[0, 0, 0, 0].item() == 100.0
    assert all(isinstance(p, ember.nn.Parameter) and p.requires_grad for p in e.parameters())
    np.testing.assert_array_equal(parameters_to_vector(e.parameters()).detach().numpy(),
                                  e_vec.numpy()[:n])
    x = np.random.default_rng(2).standard_normal((2, 2, 3, 3))
    assert_same(e(ember.tensor(x)), t(torch.tensor(x)))


def test_vector_to_parameters_keeps_training_working():
    e, _ = models()
    vector_to_parameters(parameters_to_vector(e.parameters()).detach() * 0.5, e.parameters())
    e(ember.ones(1, 2, 3, 3, dtype=ember.float64)).sum().backward()
    assert all(p.grad is not None for p in e.parameters())


@pytest.mark.parametrize("vec", [[1.0, 2.0], np.zeros(3), 3.0, None])
def test_vector_to_parameters_needs_a_tensor(vec):
    with pytest.raises(TypeError) as t_err:
        T.vector_to_parameters(vec, [torch.zeros(2)])
    with pytest.raises(TypeError) as e_err:
        vector_to_parameters(vec, [ember.zeros(2)])
    assert str(e_err.value) == str(t_err.value).replace("torch.Tensor", "ember.Tensor")


def test_errors_like_torch():
    # Too few values for the parameters.
    with pytest.raises(RuntimeError):
        T.vector_to_parameters(torch.zeros(5), [torch.zeros(2, 3)])
    with pytest.raises(RuntimeError, match="invalid for input of size 5"):
        vector_to_parameters(ember.zeros(5), [ember.zeros(2, 3)])
    # No parameters at all.
    with pytest.raises(ValueError):
        T.parameters_to_vector([])
    with pytest.raises(ValueError, match="non-empty"):
        parameters_to_vector([])
    # A non-contiguous parameter cannot be viewed flat.
    with pytest.raises(RuntimeError):
        T.parameters_to_vector([torch.zeros(3, 4).t()])
    with pytest.raises(RuntimeError, match="reshape"):
        parameters_to_vector([ember.zeros(3, 4).t()])
