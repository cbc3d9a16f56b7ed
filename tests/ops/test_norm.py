"""Normalization behaviour the op table cannot express: running statistics, errors."""

import numpy as np
import pytest
import torch

import ember


def _pair(arr, requires_grad=False):
    e = ember.tensor(arr, requires_grad=requires_grad)
    t = torch.tensor(arr, requires_grad=requires_grad)
    return e, t


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (2, 3, 4, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_running_stats_follow_torch(shape, dtype):
    rng = np.random.default_rng(0)
    e_rm, t_rm = _pair(np.zeros(3, dtype))
    e_rv, t_rv = _pair(np.ones(3, dtype))
    for step in range(4):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        e = ember.nn.functional.batch_norm(ember.tensor(x), e_rm, e_rv, training=True,
                                           momentum=0.2)
        t = torch.nn.functional.batch_norm(torch.tensor(x), t_rm, t_rv, training=True,
                                           momentum=0.2)
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(e_rm.numpy(), t_rm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e_rv.numpy(), t_rv.numpy(), rtol=1e-5, atol=1e-6)
    assert e_rm.dtype == ember.float32 if dtype == np.float32 else ember.float64
    x = rng.standard_normal(shape).astype(dtype)
    e = ember.nn.functional.batch_norm(ember.tensor(x), e_rm, e_rv, training=False)
    t = torch.nn.functional.batch_norm(torch.tensor(x), t_rm, t_rv, training=False)
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-4, atol=1e-5)


def test_batch_norm_bumps_running_versions():
    rm, rv = ember.zeros(3), ember.ones(3)
    before = rm._version if hasattr(rm, "_version") else rm._vbox[0]
    ember.nn.functional.batch_norm(ember.randn(4, 3), rm, rv, training=True)
    after = rm._version if hasattr(rm, "_version") else rm._vbox[0]
    assert after == before + 1


def test_batch_norm_eval_gradients_match_torch():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 3, 2)), rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    e_args = [ember.tensor(a, requires_grad=True) for a in (x, w, b)]
    t_args = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    e = ember.nn.functional.batch_norm(e_args[0], ember.tensor(rm), ember.tensor(rv),
                                       e_args[1], e_args[2])
    t = torch.nn.functional.batch_norm(t_args[0], torch.tensor(rm), torch.tensor(rv),
                                       t_args[1], t_args[2])
    (e * e).sum().backward()
    (t * t).sum().backward()
    for a, r in zip(e_args, t_args):
        np.testing.assert_allclose(a.grad.numpy(), r.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("use_input_stats", [True, False])
def test_instance_norm_running_stats_follow_torch(use_input_stats):
    rng = np.random.default_rng(2)
    e_rm, t_rm = _pair(rng.standard_normal(3))
    e_rv, t_rv = _pair(rng.uniform(0.5, 2, 3))
    for _ in range(3):
        x = rng.standard_normal((2, 3, 5)) * 2 + 1
        e = ember.nn.functional.instance_norm(ember.tensor(x), e_rm, e_rv,
                                              use_input_stats=use_input_stats, momentum=0.3)
        t = torch.nn.functional.instance_norm(torch.tensor(x), t_rm, t_rv,
                                              use_input_stats=use_input_stats, momentum=0.3)
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(e_rm.numpy(), t_rm.numpy(), rtol=1e-10)
    np.testing.assert_allclose(e_rv.numpy(), t_rv.numpy(), rtol=1e-10)


def test_batch_norm_training_needs_more_than_one_value():
    with pytest.raises(ValueError, match=r"batch_norm: Expected more than 1 value per channel"):
        ember.nn.functional.batch_norm(ember.randn(1, 3), None, None, training=True)


def test_batch_norm_eval_needs_running_stats():
    with pytest.raises(RuntimeError, match="batch_norm: running_mean and running_var"):
        ember.nn.functional.batch_norm(ember.randn(4, 3), None, None)


def test_batch_norm_wrong_channels():
    with pytest.raises(RuntimeError, match=r"running_mean should contain 4 elements not 3"):
        ember.nn.functional.batch_norm(ember.randn(2, 4), ember.zeros(3), ember.ones(3))
    with pytest.raises(RuntimeError, match=r"weight of shape \(3,\) should contain 4"):
        ember.nn.functional.batch_norm(ember.randn(2, 4), None, None, ember.ones(3),
                                       training=True)


def test_layer_norm_shape_mismatch():
    with pytest.raises(RuntimeError, match=r"layer_norm: given normalized_shape=\[3\].*\(2, 4\)"):
        ember.nn.functional.layer_norm(ember.randn(2, 4), (3,))
    with pytest.raises(RuntimeError, match=r"layer_norm: weight of shape \(3,\)"):
        ember.nn.functional.layer_norm(ember.randn(2, 4), (4,), ember.ones(3))


def test_group_norm_groups_must_divide_channels():
    with pytest.raises(RuntimeError, match=r"group_norm: .*divisible by num_groups.*\(2, 4\)"):
        ember.nn.functional.group_norm(ember.randn(2, 4), 3)


def test_mixed_dtype_refused():
    with pytest.raises(RuntimeError, match="layer_norm: weight has dtype ember.float64"):
        ember.nn.functional.layer_norm(ember.randn(2, 4), (4,), ember.ones(4).double())


def test_rms_norm_default_eps_is_dtype_eps():
    x = np.full((2, 3), 1e-4, np.float32)
    e = ember.nn.functional.rms_norm(ember.tensor(x), (3,))
    t = torch.nn.functional.rms_norm(torch.tensor(x), (3,))
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-5)
    assert e.dtype == ember.float32


def test_float32_output_dtype_and_no_graph_without_grad():
    x = ember.randn(4, 3)
    y = ember.nn.functional.layer_norm(x, (3,), ember.ones(3), ember.zeros(3))
    assert y.dtype == ember.float32 and y.grad_fn is None and not y.requires_grad


@pytest.mark.parametrize("fn", [
    lambda m, x, w, b: m.nn.functional.batch_norm(x, None, None, w[:3], b[:3], training=True),
    lambda m, x, w, b: m.nn.functional.layer_norm(x, (4,), w, b),
    lambda m, x, w, b: m.nn.functional.group_norm(x, 3, w[:3], b[:3]),
    lambda m, x, w, b: m.nn.functional.rms_norm(x, (4,), w),
])
def test_double_backward_matches_torch(fn):
    """The create_graph path (Tensor ops) gives torch's second derivatives."""
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal(4), rng.standard_normal(4)
    c = rng.standard_normal((2, 3, 4))
    results = []
    for m in (ember, torch):
        args = [m.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = fn(m, *args)
        (g,) = m.autograd.grad((y * m.tensor(c)).sum(), args[0], create_graph=True)
        results.append([gg.numpy() for gg in m.autograd.grad((g * g).sum(), args[:2])])
    for mine, ref in zip(*results):
        np.testing.assert_allclose(mine, ref, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("needs", [(False, True, False), (False, False, True), (True, False, False)])
@pytest.mark.parametrize("fn", [
    lambda F, x, w, b: F.layer_norm(x, (4,), w, b),
    lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
    lambda F, x, w, b: F.group_norm(x, 2, w, b),
])
def test_gradients_when_only_some_inputs_require_grad(fn, needs):
    rng = np.random.default_rng(6)
    arrays = (rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(4))
    grads = []
    for m in (ember, torch):
        args = [m.tensor(a, requires_grad=r) for a, r in zip(arrays, needs)]
        y = fn(m.nn.functional, *args)
        (y * y).sum().backward()
        grads.append([a.grad.numpy() for a, r in zip(args, needs) if r])
    for mine, ref in zip(*grads):
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)
