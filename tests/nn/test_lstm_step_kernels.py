"""The LSTM step functions of ``ember.backend.rnn_kernels`` (compiled and NumPy paths)
against the step's formulas in float64, on the padded rows ``LSTMSequence`` gives them
(``act`` and ``d_gates`` of ``(N, 4H + k)``): the first ``4H`` columns get the results and
the ``k`` spare columns are left as they were."""

import numpy as np
import pytest

from ember.backend.rnn_kernels import lstm_step_backward, lstm_step_forward


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _forward_reference(pre, bias, c_prev):
    """``(activations, c, tanh(c), h)`` of one step, in float64."""
    hs = c_prev.shape[1]
    z = pre + bias
    act = np.concatenate([_sigmoid(z[:, :2 * hs]), np.tanh(z[:, 2 * hs:3 * hs]),
                          _sigmoid(z[:, 3 * hs:])], axis=1)
    i, f, g, o = (act[:, k * hs:(k + 1) * hs] for k in range(4))
    c = f * c_prev + i * g
    return act, c, np.tanh(c), o * np.tanh(c)


def _backward_reference(grad_h, dh_t, act, tc, c_prev, dc):
    """``(d_gates, dc_prev)`` of one step, in float64."""
    hs = dc.shape[1]
    i, f, g, o = (act[:, k * hs:(k + 1) * hs] for k in range(4))
    dh = grad_h + dh_t.T
    cell = dc + dh * o * (1 - tc * tc)
    d_gates = np.concatenate([cell * g * i * (1 - i), cell * c_prev * f * (1 - f),
                              cell * i * (1 - g * g), dh * tc * o * (1 - o)], axis=1)
    return d_gates, cell * f


def _padded(rng, rows, cols, spare, dtype):
    """A ``(rows, cols + spare)`` array of random values (spare columns included)."""
    return rng.standard_normal((rows, cols + spare)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, hs, spare", [(32, 256, 16), (16, 256, 16), (3, 5, 0),
                                             (7, 20, 16), (1, 256, 0)])
def test_step_forward_matches_formulas(kernels, dtype, rows, hs, spare):
    rng = np.random.default_rng(rows + hs + spare)
    act = _padded(rng, rows, 4 * hs, spare, dtype)
    before = act.copy()
    bias = rng.standard_normal(4 * hs).astype(dtype)
    c_prev = rng.standard_normal((rows, hs)).astype(dtype)
    c, tc = np.empty((rows, hs), dtype), np.empty((rows, hs), dtype)
    h = np.full((rows, hs + 3), 7.0, dtype)  # [h | x] rows: the x columns stay
    lstm_step_forward(act, bias, c_prev, c, tc, h)
    want = _forward_reference(before[:, :4 * hs].astype(np.float64), bias, c_prev)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for got, expected in zip((act[:, :4 * hs], c, tc, h[:, :hs]), want):
        np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    np.testing.assert_array_equal(act[:, 4 * hs:], before[:, 4 * hs:])
    np.testing.assert_array_equal(h[:, hs:], 7.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, hs, spare", [(32, 256, 16), (16, 256, 16), (3, 5, 0),
                                             (7, 20, 16), (1, 256, 0)])
def test_step_backward_matches_formulas(kernels, dtype, rows, hs, spare):
    rng = np.random.default_rng(10 * rows + hs + spare)
    act = _padded(rng, rows, 4 * hs, spare, dtype)
    act[:, :4 * hs] = rng.uniform(-1, 1, (rows, 4 * hs))  # activations: tanh's range holds all
    tc = rng.uniform(-1, 1, (rows, hs)).astype(dtype)
    c_prev, grad_h, dc = (rng.standard_normal((rows, hs)).astype(dtype) for _ in range(3))
    dh_t = rng.standard_normal((hs, rows)).astype(dtype)
    d_gates = _padded(rng, rows, 4 * hs, spare, dtype)
    spare_before, dc_before = d_gates[:, 4 * hs:].copy(), dc.copy()
    lstm_step_backward(grad_h, dh_t, act, tc, c_prev, dc, d_gates)
    want_gates, want_dc = _backward_reference(grad_h, dh_t, act[:, :4 * hs], tc, c_prev,
                                              dc_before)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(d_gates[:, :4 * hs], want_gates, rtol=tol, atol=tol)
    np.testing.assert_allclose(dc, want_dc, rtol=tol, atol=tol)
    np.testing.assert_array_equal(d_gates[:, 4 * hs:], spare_before)
