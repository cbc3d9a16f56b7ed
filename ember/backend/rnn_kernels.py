"""One LSTM time step's gate math, forward and backward, as array functions.

``ember.nn.modules._lstm_seq`` runs a whole sequence as one op; per step it makes one
matrix product and calls one of these functions, which do the elementwise rest in one
pass (compiled) or a few whole-array passes (NumPy), writing into buffers the caller
owns. Gate order is PyTorch's ``i, f, g, o``; rows are batch entries, ``H`` the hidden
size. Forward, the caller adds the recurrent product ``h_prev W_hh^T`` into the gates'
rows itself (small products in place, ``ember.backend.small_products``); backward's
product arrives transposed (``(H, N)``), the orientation OpenBLAS runs faster for a few
dozen rows: 218 us against 280 us for (32, 256) rows and a (1024, 256) float32 weight,
one thread.

float32 runs in float32 arithmetic with an ``exp`` that vectorizes: a degree-7 polynomial
after a Cody-Waite range reduction, scaled by ``2**k`` built from its bits (relative
error about 1e-7); ``tanh(x) = 2 sigmoid(2x) - 1`` (absolute error about 1e-7). A loop
over libm's scalar ``expf`` and ``tanhf`` took 337 us a step of (32, 4 x 256) against
35 us. float64 takes NumPy's vectorized ``exp`` and ``tanh`` forward (a loop over libm's
scalar ones ran 2x slower than NumPy); the backward, free of transcendental functions,
is compiled for both dtypes.
"""

import numpy as np

from ember.backend.fast_math import exp32_reduced
from ember.backend.kernel_helpers import helper, helper_kernel

__all__ = ["lstm_step_backward", "lstm_step_forward"]

_f32 = np.float32


def lstm_step_forward(act, bias, c_prev, c, tc, h):
    """Gates and cell update of one step, in place.

    Args:
        act: ``(N, 4H + k)``: on entry its first ``4H`` columns hold the step's gates
            before bias and activation, ``x W_ih^T + h_prev W_hh^T`` (the caller adds the
            recurrent product into the input projection); on exit the activations
            ``sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)``. The ``k`` spare columns (the
            caller pads ``acts``, see ``_ROW_PAD`` in ember/nn/modules/_lstm_seq.py) are
            not touched.
        bias: ``(4H,)``, ``b_ih + b_hh``.
        c_prev: ``(N, H)``, the previous cell state.
        c, tc: ``(N, H)`` outputs: the cell state and ``tanh(c)``.
        h: ``(N, H + k)`` output: its first ``H`` columns get ``h = o * tanh(c)`` (the
            caller keeps ``[h | x]`` rows; a C-contiguous block compiles to faster code
            than a strided view of its first columns).
    """
    if act.dtype == np.float32 and _forward32.ready():
        _forward32(act, bias, c_prev, c, tc, h)
        return
    hs = c.shape[1]
    act = act[:, :4 * hs]
    act += bias
    g = np.tanh(act[:, 2 * hs:3 * hs])
    with np.errstate(over="ignore"):  # exp(-x) = inf for very negative x gives 0, correctly
        np.exp(np.negative(act, out=act), out=act)
    act += 1
    np.reciprocal(act, out=act)
    act[:, 2 * hs:3 * hs] = g
    np.multiply(act[:, hs:2 * hs], c_prev, out=c)
    g *= act[:, :hs]
    c += g
    np.tanh(c, out=tc)
    np.multiply(act[:, 3 * hs:], tc, out=h[:, :hs])


def lstm_step_backward(grad_h, dh_t, act, tc, c_prev, dc, d_gates):
    """Gradients of one step, in place.

    Args:
        grad_h: ``(N, H)``, the gradient reaching ``h`` from the step's output.
        dh_t: ``(H, N)``, the gradient reaching ``h`` from the next step (transposed).
        act, tc, c_prev: what ``lstm_step_forward`` left for this step (``act`` with its
            spare columns).
        dc: ``(N, H)``: on entry the gradient of ``c``, on exit that of ``c_prev``.
        d_gates: ``(N, 4H + k)`` output: its first ``4H`` columns get the gradient of the
            gates before activation (rows padded as ``act``'s, see ``_backward``).
    """
    if _backward.ready() and act.dtype in (np.float32, np.float64):
        _backward(grad_h, dh_t, act, tc, c_prev, dc, d_gates)
        return
    hs = dc.shape[1]
    act, d_gates = act[:, :4 * hs], d_gates[:, :4 * hs]
    i, f, g, o = (act[:, k * hs:(k + 1) * hs] for k in range(4))
    dh = grad_h + dh_t.T
    np.multiply(dh, tc, out=d_gates[:, 3 * hs:])
    dh *= o
    dh *= 1 - tc * tc
    dc += dh
    np.multiply(dc, g, out=d_gates[:, :hs])
    np.multiply(dc, c_prev, out=d_gates[:, hs:2 * hs])
    np.multiply(dc, i, out=d_gates[:, 2 * hs:3 * hs])
    deriv = act * (1 - act)  # sigmoid'; the g block is replaced by tanh'
    np.subtract(1, g * g, out=deriv[:, 2 * hs:3 * hs])
    d_gates *= deriv
    dc *= f


# ---- compiled loops ---------------------------------------------------------------------

_OPTIONS = {"fastmath": True, "error_model": "numpy"}
_kernel = helper_kernel(**_OPTIONS)
_helper = helper(inline="always", **_OPTIONS)


@_helper
def _exp32(x):
    """``exp(x)`` in float32 for ``x`` clamped to [-87, 88] (the finite normal range)."""
    return exp32_reduced(min(max(x, _f32(-87.0)), _f32(88.0)))


@_helper
def _sigmoid32(x):
    return _f32(1.0) / (_f32(1.0) + _exp32(-x))


@_helper
def _tanh32(x):
    return _f32(2.0) / (_f32(1.0) + _exp32(_f32(-2.0) * x)) - _f32(1.0)


@_kernel
def _forward32(act, bias, c_prev, c, tc, h):
    rows, hs = c.shape
    if_bias, g_bias, o_bias = bias[:2 * hs], bias[2 * hs:3 * hs], bias[3 * hs:4 * hs]
    for n in range(rows):
        a = act[n]
        # Slices, so that every loop counts from 0: Numba wraps negative indices, and LLVM
        # only vectorizes when it can prove the index is never negative.
        if_gates, g_gate, o_gate = a[:2 * hs], a[2 * hs:3 * hs], a[3 * hs:4 * hs]
        for j in range(2 * hs):
            if_gates[j] = _sigmoid32(if_gates[j] + if_bias[j])
        for j in range(hs):
            g_gate[j] = _tanh32(g_gate[j] + g_bias[j])
            o_gate[j] = _sigmoid32(o_gate[j] + o_bias[j])
        i_gate, f_gate = a[:hs], a[hs:2 * hs]
        c_row, tc_row, h_row, c_prev_row = c[n], tc[n], h[n, :hs], c_prev[n]
        for j in range(hs):
            cell = f_gate[j] * c_prev_row[j] + i_gate[j] * g_gate[j]
            t = _tanh32(cell)
            c_row[j] = cell
            tc_row[j] = t
            h_row[j] = o_gate[j] * t


@_kernel
def _backward(grad_h, dh_t, act, tc, c_prev, dc, d_gates):
    rows, hs = dc.shape
    # dh = grad_h + dh_t^T parks in the g block of d_gates: read along dh_t's rows, store
    # down d_gates' columns (padded rows, as in _forward32). A step of (32, 4 x 256) took
    # 14.7 us so, against 18.4 us reading down dh_t's columns.
    for j in range(hs):
        dh_row = dh_t[j]
        for n in range(rows):
            d_gates[n, 2 * hs + j] = grad_h[n, j] + dh_row[n]
    for n in range(rows):
        a, d = act[n], d_gates[n]
        i_gate, f_gate, g_gate = a[:hs], a[hs:2 * hs], a[2 * hs:3 * hs]
        o_gate = a[3 * hs:4 * hs]
        d_i, d_f, d_g, d_o = d[:hs], d[hs:2 * hs], d[2 * hs:3 * hs], d[3 * hs:4 * hs]
        tc_row, c_prev_row, dc_row = tc[n], c_prev[n], dc[n]
        for j in range(hs):
            i, f, g, o, t, dh = i_gate[j], f_gate[j], g_gate[j], o_gate[j], tc_row[j], d_g[j]
            d_o[j] = dh * t * o * (1 - o)
            cell = dc_row[j] + dh * o * (1 - t * t)
            d_i[j] = cell * g * i * (1 - i)
            d_f[j] = cell * c_prev_row[j] * f * (1 - f)
            d_g[j] = cell * i * (1 - g * g)
            dc_row[j] = cell * f
