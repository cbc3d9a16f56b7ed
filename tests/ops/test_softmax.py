"""The softmax family beyond the op table: implicit dim, dtypes, stability, edge cases."""

import numpy as np
import pytest
import torch

import ember
from ember.ops import softmax as family

NAMES = ["softmax", "log_softmax", "softmin"]


def _fn(lib, name):
    return getattr(lib.nn.functional, name)


def test_names_exist_in_torch():
    for name in family.__all__:
        assert hasattr(torch, name), name
    for name in family.FUNCTIONAL:
        assert hasattr(torch.nn.functional, name), name
    for name in family.METHODS:
        assert hasattr(torch.Tensor, name), name


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 3, 2), (2, 3, 2, 2)])
def test_implicit_dim_follows_torch_legacy_rule_with_a_warning(name, shape):
    arr = np.random.default_rng(0).standard_normal(shape)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        mine = _fn(ember, name)(ember.tensor(arr))
    with pytest.warns(UserWarning):
        ref = _fn(torch, name)(torch.tensor(arr))
    np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_integer_input_needs_dtype(name):
    ints = [[1, 2, 3], [0, 0, 5]]
    with pytest.raises(NotImplementedError):
        _fn(torch, name)(torch.tensor(ints), 1)
    with pytest.raises(NotImplementedError, match=name):
        _fn(ember, name)(ember.tensor(ints), 1)
    mine = _fn(ember, name)(ember.tensor(ints), 1, dtype=ember.float64)
    ref = _fn(torch, name)(torch.tensor(ints), 1, dtype=torch.float64)
    assert mine.dtype == ember.float64
    np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-7)


def test_dtype_argument_casts_before_computing():
    x = ember.tensor([1.0, 2.0, 3.0], dtype=ember.float16)
    y = ember.softmax(x, 0, dtype=ember.float32)
    assert y.dtype == ember.float32
    ref = torch.softmax(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float16), 0,
                        dtype=torch.float32)
    np.testing.assert_allclose(y.numpy(), ref.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dim", [2, -3])
def test_dim_out_of_range(name, dim):
    with pytest.raises(IndexError):
        _fn(torch, name)(torch.zeros(2, 3), dim)
    with pytest.raises(IndexError, match="out of range"):
        _fn(ember, name)(ember.zeros(2, 3), dim)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_and_infinite_inputs_match_torch(name, dtype):
    arr = np.array([[1000.0, 999.0, -1000.0], [-np.inf, 0.0, 1.0], [-np.inf, -np.inf, -np.inf],
                    [1e30, -1e30, 0.0]], dtype=dtype)
    mine = _fn(ember, name)(ember.tensor(arr), 1).numpy()
    ref = _fn(torch, name)(torch.tensor(arr), 1).numpy()
    np.testing.assert_allclose(mine, ref, rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape,dim", [((0,), 0), ((0, 3), 0), ((2, 0), 1), ((2, 0), 0)])
def test_empty_tensors(name, shape, dim):
    mine = _fn(ember, name)(ember.zeros(*shape), dim)
    ref = _fn(torch, name)(torch.zeros(*shape), dim)
    assert tuple(mine.shape) == tuple(ref.shape)


def test_rows_sum_to_one_and_log_softmax_is_its_log():
    x = ember.randn(5, 7, dtype=ember.float64)
    y = ember.softmax(x, -1)
    np.testing.assert_allclose(y.sum(-1).numpy(), np.ones(5), rtol=1e-12)
    np.testing.assert_allclose(ember.log_softmax(x, -1).numpy(), np.log(y.numpy()), rtol=1e-12)


def test_float16_matches_torch():
    arr = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float16)
    for name in NAMES:
        mine = _fn(ember, name)(ember.tensor(arr), 1)
        ref = _fn(torch, name)(torch.tensor(arr), 1)
        assert mine.dtype == ember.float16
        np.testing.assert_allclose(mine.numpy().astype(np.float32),
                                   ref.numpy().astype(np.float32), rtol=5e-3, atol=2e-3)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_second_derivative_matches_torch(name, dim):
    arr = np.random.default_rng(2).standard_normal((3, 4))
    weights = np.random.default_rng(3).standard_normal((3, 4))
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(arr, requires_grad=True)
        y = _fn(lib, name)(x, dim)
        (g,) = lib.autograd.grad((y * lib.tensor(weights)).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        grads.append(gg.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, atol=1e-10)


def test_backward_refuses_an_overwritten_output():
    x = ember.randn(2, 3, requires_grad=True)
    y = ember.softmax(x * 1, 1)
    with ember.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_methods():
    arr = np.random.default_rng(4).standard_normal((2, 3))
    e, t = ember.tensor(arr), torch.tensor(arr)
    np.testing.assert_allclose(e.softmax(0).numpy(), t.softmax(0).numpy(), rtol=1e-7)
    np.testing.assert_allclose(e.log_softmax(dim=-1).numpy(), t.log_softmax(dim=-1).numpy(),
                               rtol=1e-7)


# ---- gumbel_softmax (random: properties, not values) ------------------------------------

def test_gumbel_softmax_samples_follow_the_probabilities():
    ember.manual_seed(0)
    probs = np.array([0.1, 0.2, 0.7])
    logits = ember.tensor(np.log(np.tile(probs, (20_000, 1))))
    hard = ember.nn.functional.gumbel_softmax(logits, tau=0.5, hard=True).numpy()
    assert set(np.unique(hard)) == {0.0, 1.0}
    np.testing.assert_array_equal(hard.sum(1), 1.0)
    np.testing.assert_allclose(hard.mean(0), probs, atol=0.015)


def test_gumbel_softmax_soft_rows_sum_to_one_along_dim():
    y = ember.nn.functional.gumbel_softmax(ember.randn(4, 3), dim=0)
    np.testing.assert_allclose(y.sum(0).numpy(), np.ones(3), rtol=1e-6)


def test_gumbel_softmax_hard_is_straight_through():
    weights = ember.tensor(np.random.default_rng(5).standard_normal((3, 4)))
    grads = []
    for hard in (False, True):
        ember.manual_seed(9)
        x = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
        y = ember.nn.functional.gumbel_softmax(x, tau=0.7, hard=hard)
        (g,) = ember.autograd.grad((y * weights).sum(), x)
        grads.append(g.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10)


def test_gumbel_softmax_eps_is_deprecated():
    with pytest.warns(UserWarning, match="eps"):
        torch.nn.functional.gumbel_softmax(torch.zeros(2, 3), eps=1e-3)
    with pytest.warns(UserWarning, match="eps"):
        ember.nn.functional.gumbel_softmax(ember.zeros(2, 3), eps=1e-3)


def test_dtype_passed_positionally_to_method_and_function():
    x, t = ember.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0])
    for mine, ref in ((x.softmax(0, ember.float64), t.softmax(0, torch.float64)),
                      (ember.log_softmax(x, 0, ember.float64),
                       torch.log_softmax(t, 0, torch.float64))):
        assert mine.dtype == ember.float64
        np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-12)
