"""Gradient modes and anomaly detection."""

import numpy as np
import pytest

import ember


def test_no_grad_records_nothing_and_restores():
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        y = x * 2
        assert not ember.is_grad_enabled()
    assert ember.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_as_decorator_and_enable_grad_inside():
    x = ember.ones(2, requires_grad=True)

    @ember.no_grad()
    def f():
        with ember.enable_grad():
            inner = x * 2
        return x * 2, inner

    outer, inner = f()
    assert not outer.requires_grad and inner.requires_grad


def test_set_grad_enabled_as_function_and_context():
    x = ember.ones(1, requires_grad=True)
    with ember.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert ember.is_grad_enabled()
    ember.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        ember.set_grad_enabled(True)


def test_inference_mode():
    x = ember.ones(1, requires_grad=True)
    with ember.inference_mode():
        assert ember.is_inference_mode_enabled()
        assert not (x * 2).requires_grad
    assert not ember.is_inference_mode_enabled()
    with ember.inference_mode(False):
        assert (x * 2).requires_grad


def test_no_grad_restores_after_exception():
    with pytest.raises(ValueError):
        with ember.no_grad():
            raise ValueError
    assert ember.is_grad_enabled()


def test_detect_anomaly_names_op_and_user_line():
    x = ember.tensor([0.0, 1.0], requires_grad=True)
    with ember.autograd.detect_anomaly():
        y = x ** 0.5          # d/dx at 0 is inf; times 0 below gives nan
        z = (y * 0).sum()
        with pytest.raises(RuntimeError, match=r"nan values.*test_modes\.py:\d+") as info:
            z.backward()
    assert "powscalar" in str(info.value).lower() or "mul" in str(info.value).lower()


def test_without_anomaly_mode_nan_passes_silently():
    x = ember.tensor([0.0], requires_grad=True)
    ((x ** 0.5) * 0).sum().backward()
    assert np.isnan(x.grad.numpy()).all()
