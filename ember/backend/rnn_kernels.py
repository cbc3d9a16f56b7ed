"""One LSTM time step's gate math, forward and backward, as array functions.

``ember.nn.modules._lstm_seq`` runs a whole sequence as one op; per step it makes one
matrix product and calls one of these functions, which do the elementwise rest in one
pass (compiled) or a few whole-array passes (NumPy), writing into buffers the caller
owns. For float32 with OpenBLAS found, ``lstm_forward_loop`` and ``lstm_backward_loop``
run a whole time loop (products and gate math of every step) as one compiled call. Gate
order is PyTorch's ``i, f, g, o``; rows are batch entries, ``H`` the hidden size.
Forward, the caller adds the recurrent product ``h_prev W_hh^T`` into the gates' rows
itself (small products in place, ``ember.backend.small_products``); backward's product
arrives transposed (``(H, N)``), the orientation OpenBLAS runs faster for a few dozen
rows: 218 us against 280 us for (32, 256) rows and a (1024, 256) float32 weight, one
thread.

float32 runs in float32 arithmetic with an ``exp`` that vectorizes: a degree-7 polynomial
after a Cody-Waite range reduction, scaled by ``2**k`` built from its bits (relative
error about 1e-7); ``tanh(x) = 2 sigmoid(2x) - 1`` (absolute error about 1e-7). A loop
over libm's scalar ``expf`` and ``tanhf`` took 337 us a step of (32, 4 x 256) against
35 us. float64 takes NumPy's vectorized ``exp`` and ``tanh`` forward (a loop over libm's
scalar ones ran 2x slower than NumPy); the backward, free of transcendental functions,
is compiled for both dtypes.
"""

import numpy as np

from ember.backend.conv_kernels import _Gemm, _gemm_at, _GemmLoop, _run
from ember.backend.fast_math import exp32_reduced
from ember.backend.kernel_helpers import bind_helpers, helper, helper_kernel
from ember.backend.small_products import SMALL

__all__ = ["lstm_backward_loop", "lstm_forward_loop", "lstm_loops_available",
           "lstm_step_backward", "lstm_step_forward"]

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


@_helper
def _step_forward32(act, bias, c_prev, c, tc, h):
    """``lstm_step_forward`` for float32 (the kernel, and each step of the whole loop)."""
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
def _forward32(act, bias, c_prev, c, tc, h):
    _step_forward32(act, bias, c_prev, c, tc, h)


@_helper
def _step_backward(grad_h, dh_t, act, tc, c_prev, dc, d_gates):
    """``lstm_step_backward`` (the kernel, and each step of the whole loop)."""
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


@_kernel
def _backward(grad_h, dh_t, act, tc, c_prev, dc, d_gates):
    _step_backward(grad_h, dh_t, act, tc, c_prev, dc, d_gates)


# ---- whole time loops -------------------------------------------------------------------

def lstm_loops_available(dtype):
    """True when ``lstm_forward_loop`` and ``lstm_backward_loop`` run for ``dtype``: float32,
    compiled kernels on, and OpenBLAS found (``ember.backend.small_products``)."""
    return dtype == np.float32 and _forward_loop.ready() and _Gemm.get(dtype) is not None


def lstm_forward_loop(acts, hx, cbuf, tc, bias, w_t, table, index, reverse, lo, hi):
    """Every forward step of batch rows ``lo:hi``, in place, as one compiled call.

    Each step is what the caller's Python loop does (``ember.nn.modules._lstm_seq``): the
    step's input projections are rows of ``table`` picked by ``index`` (when ``table`` has
    rows; else ``acts`` holds them already), ``h_prev W_hh^T`` is added into the gates by
    column blocks of at most ``SMALL`` multiply-adds, then ``lstm_step_forward``.

    Args:
        acts: ``(L, N, 4H + k)`` gate rows (spare columns untouched).
        hx: ``(L + 1, N, H + I)``: step t reads ``h_prev`` from block ``t + reverse`` and
            writes its ``h`` into block ``t + 1 - reverse`` (first ``H`` columns).
        cbuf: ``(L + 1, N, H)`` cell states, indexed as ``hx``; tc: ``(L, N, H)`` output.
        bias: ``(4H,)``; w_t: ``(H, 4H)``, ``W_hh^T``.
        table, index: ``(V, 4H)`` and ``(L, N)`` intp, or ``(0, 0)`` arrays.
        reverse: run from the last step to the first.

    All arrays C-contiguous: the loop takes rows ``lo:hi`` itself, so that Numba knows
    every row it reads is contiguous and vectorizes the gate math (views of a run of rows
    compiled to code that ran the forward loop 1.8x slower).
    """
    hs = cbuf.shape[2]
    cols = max(1, SMALL // (hs * (hi - lo)))
    _run(_forward_loop, acts.dtype, acts, hx, cbuf, tc, bias, w_t, table, index, reverse,
         lo, hi, cols)


def lstm_backward_loop(grad_out, dh_t, acts, tc, cbuf, dc, d_rows, right, w, reverse,
                       last_product, lo, hi):
    """Every backward step of batch rows ``lo:hi``, in place, as one compiled call.

    Each step is ``lstm_step_backward`` into ``d_rows[t, lo:hi]``, a transposed copy of
    its gates' gradients into ``right`` (``(4H, hi - lo)``), and ``dh_t = w right`` in row
    blocks of at most ``SMALL`` multiply-adds (``w`` is ``W_hh^T``, ``(H, 4H)``), skipped
    after the last step unless ``last_product`` (h0 needs it). ``grad_out`` (``(L, hi -
    lo, H)``), ``dh_t`` (``(H, hi - lo)``) and ``right`` are the rows' own; ``acts``,
    ``tc``, ``cbuf``, ``dc`` and ``d_rows`` are whole, as the step kernel takes them with
    a leading time axis where the step has one. All C-contiguous.
    """
    block = max(1, SMALL // (right.shape[0] * (hi - lo)))
    _run(_backward_loop, acts.dtype, grad_out, dh_t, acts, tc, cbuf, dc, d_rows, right, w,
         reverse, last_product, lo, hi, block)


class _LoopKernel(_GemmLoop):
    """A loop calling ``_gemm_at`` and this module's ``@helper`` functions."""

    __slots__ = ()

    def _compile(self):
        bind_helpers(self.py_func.__globals__)
        return super()._compile()


def _loop_kernel(py_func):
    return _LoopKernel(py_func, _OPTIONS)


@_loop_kernel
def _forward_loop(address, double, item, acts, hx, cbuf, tc, bias, w_t, table, index,
                  reverse, lo, hi, cols):
    steps, rows, hs = tc.shape[0], hi - lo, tc.shape[2]
    gates, prev = 4 * hs, 1 if reverse else 0
    lda, ldo = hx.shape[2], acts.shape[2]
    for k in range(steps):
        t = steps - 1 - k if reverse else k
        act, h_prev = acts[t][lo:hi], hx[t + prev][lo:hi]
        if table.shape[0]:
            for n in range(rows):
                act[n, :gates] = table[index[t, lo + n]]
        out = act.ctypes.data
        for start in range(0, gates, cols):
            _gemm_at(address, double, 111, rows, min(cols, gates - start), hs,
                     h_prev.ctypes.data, lda, w_t.ctypes.data + start * item, gates, 1.0,
                     out + start * item, ldo)
        _step_forward32(act, bias, cbuf[t + prev][lo:hi], cbuf[t + 1 - prev][lo:hi],
                        tc[t][lo:hi], hx[t + 1 - prev][lo:hi])


@_loop_kernel
def _backward_loop(address, double, item, grad_out, dh_t, acts, tc, cbuf, dc, d_rows, right,
                   w, reverse, last_product, lo, hi, block):
    steps, rows, hs = tc.shape[0], hi - lo, tc.shape[2]
    gates, prev = 4 * hs, 1 if reverse else 0
    dc = dc[lo:hi]
    for k in range(steps):
        t = k if reverse else steps - 1 - k
        d = d_rows[t][lo:hi]
        _step_backward(grad_out[t], dh_t, acts[t][lo:hi], tc[t][lo:hi],
                       cbuf[t + prev][lo:hi], dc, d)
        if k + 1 == steps and not last_product:
            break
        for col in range(gates):
            column = right[col]
            for n in range(rows):
                column[n] = d[n, col]
        for start in range(0, hs, block):
            _gemm_at(address, double, 111, min(block, hs - start), rows, gates,
                     w.ctypes.data + start * gates * item, gates, right.ctypes.data, rows,
                     0.0, dh_t.ctypes.data + start * rows * item, rows)
