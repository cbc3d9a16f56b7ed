"""One LSTM layer direction over a padded batch as one op: ``LSTMSequence`` (and
``LSTMSequenceFromTable``, the same op fed its input projections as rows of a table).

Run step by step, ``L`` steps record ``3 L`` autograd nodes and backward makes two small
matrix products per step, adding into the weight's gradient ``L`` times. As one op,
forward keeps every step's activations in buffers, and backward (backpropagation through
time, by hand) makes one small product per step, ``dh_{t-1} = dgates_t W_hh``; the
weights' gradients are then one large product over all steps,
``[dW_hh | dW_ih] = dgates^T [h_{t-1} | x_t]``, and the input's another.

Layout: every array is time-major, so that all steps' gates form one ``(L N, 4H)``
matrix; ``h_{t-1}`` and ``x_t`` sit side by side in one ``(L + 1, N, H + I)`` buffer
(one product over both: 15.7 ms against 17.8 ms for two at the benchmark's sizes, one
thread). The gates' buffers (activations, and their gradients in backward) have rows of
``4H + _ROW_PAD`` elements, so that the step kernels' stores down their columns do not all
land in one cache set (the ``lstm`` benchmark's LSTM op 4.3% faster, one thread; see
``_ROW_PAD``). Outputs
are copies, so changing them in place cannot touch what backward reads. Double backward
(``create_graph=True``) re-runs the forward as ordinary differentiable ops and
differentiates that graph instead.

Threads: the batch's rows never interact, so with two BLAS threads each thread runs both
time loops (forward and backward) for its own half of the batch (``ember.backend.threads
.split``), each product at one BLAS thread; the large products outside the loops are
split by rows the same way (``_matmul``). A half-batch product costs 110 us against
190 us for the whole (one thread), and nothing spins while the other thread runs Python:
with another process holding a core, the op takes about its one-thread time instead of
the many times longer that spinning OpenBLAS threads take. The op's forward and backward
at the benchmark's sizes, idle machine: 30.9 ms at two threads against 56.1 ms at one
(time loops 8.7 + 9.4 ms against 15.5 + 16.5 ms; PyTorch's layer 23.4 ms at two).

Each step's recurrent product runs as small products that OpenBLAS does not pack
(``ember.backend.small_products``): forward ``h_prev W_hh^T`` is added straight into the
gates' rows in column blocks, backward ``W_hh^T dgates^T`` reads a C-contiguous copy of
the step's gate gradients in row blocks (``_recurrent_add``, ``_recurrent_product``).
The ``lstm`` benchmark's training step, against one product per step (alternating
processes, best of 3 x 15 steps each, idle machine): one thread 51.7-52.5 ms against
54.3-56.1 ms; two threads 30.1-34.8 ms against 31.6-35.7 ms (medians 31.0 and 32.0).

For float32, with Numba and OpenBLAS, each thread's time loop is one compiled call
(``lstm_forward_loop`` and ``lstm_backward_loop`` in ``ember.backend.rnn_kernels``): no
Python runs between the steps, so the two threads never wait for the GIL, and the
backward's transposed copy of the gate gradients is made in the same loop. The op's
forward and backward at the benchmark's sizes (alternating processes, best of 5 x 10):
two threads 24.8-25.7 ms against 27.4-28.1 ms step by step in Python, one thread
48.1-50.0 against 50.5-50.6 ms; the compiled ``lstm`` training step 23.7-24.0 ms against
26.8-27.4 ms, the eager one 28.5-29.4 against 30.6 ms (PyTorch 26.1-26.9 ms).

An input that is the unchanged output of an embedding lookup is projected one distinct
row at a time, and its gradient handed to the lookup summed per row when nothing else
sees it (``ember/nn/modules/_lstm_tables.py``).

Measured on the ``lstm`` benchmark (Embedding 65x64, LSTM 64 -> 256 over 32 x 64 tokens,
Linear 256 -> 65, Adam), one thread, CPU time of a training step on a busy machine:
61.6 ms against 87.7 ms step by step; PyTorch 2.13 (whose CPU LSTM is oneDNN's fused
layer) 50.4 ms. Nearly all that is left is matrix products (OpenBLAS, at ~40 GMAC/s).
"""

import numpy as np

from ember.autograd.deferred import RowsGradient, deferrable
from ember.autograd.engine import grad as _grad
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.backend.rnn_kernels import (
    lstm_backward_loop,
    lstm_forward_loop,
    lstm_loops_available,
    lstm_step_backward,
    lstm_step_forward,
)
from ember.backend.small_products import (
    small_product,
    small_product_columns,
    small_products_available,
)
from ember.backend.threads import pieces, split
from ember.nn.modules._lstm_tables import check_index, distinct_rows, lookup_of, table_grad
from ember.ops.embedding import TakeRows
from ember.ops.join import stack
from ember.ops.linalg import Linear
from ember.ops.shape import Reshape
from ember.tensor import Tensor

__all__ = ["LSTMSequence", "LSTMSequenceFromTable", "lstm_sequence"]

_make = Tensor._make

# Per-step multiply-adds of the recurrent product from which the batch's rows are split
# over the BLAS threads (each runs its own time loop): below it, a half-product is too
# small for the saving to pay for the threads' hand-offs.
_SPLIT_STEP_WORK = 1 << 20
# Multiply-adds of a large product (the input projections, the weights' gradients) from
# which its rows are split over the threads (about 0.1 ms of work).
_SPLIT_PRODUCT_WORK = 1 << 22
# The table and index the forward loop takes when the input projections are made before it.
_NO_TABLE = np.zeros((0, 0), np.float32)
_NO_INDEX = np.zeros((0, 0), np.intp)
# Spare elements at the end of each row of the gates' buffers (activations, gradients):
# the step kernels store down their columns, and rows a multiple of 4 KB apart (4H = 1,024
# float32) would all fall in one set of the L1 cache (``_forward32`` in
# ember/backend/rnn_kernels.py). The backward step's product reads the padded rows faster
# too: (256, 1,024) x (1,024, 32) in 191 us against 211 us, one thread.
_ROW_PAD = 16


def lstm_sequence(x, w_ih, w_hh, b_ih, b_hh, h0, c0, batch_first, reverse):
    """``(out, (h_n, c_n))`` of one LSTM layer in one direction over a padded batch.

    Args:
        x: ``(L, N, I)``, or ``(N, L, I)`` when ``batch_first``.
        w_ih, w_hh: ``(4H, I)`` and ``(4H, H)``, gates in PyTorch's order ``i, f, g, o``.
        b_ih, b_hh: ``(4H,)`` each, or both None.
        h0, c0: ``(N, H)``.
        batch_first: the layout of ``x`` and of the output.
        reverse: run from the last step to the first.
    """
    biases = () if b_ih is None else (b_ih, b_hh)
    params = {"batch_first": batch_first, "reverse": reverse}
    lookup = lookup_of(x)
    if lookup is not None:
        params["lookup"] = lookup
    out, h_n, c_n = LSTMSequence.apply(x, w_ih, w_hh, h0, c0, *biases, **params)
    return out, (h_n, c_n)


class LSTMSequence(Op):
    """``(x, w_ih, w_hh, h0, c0[, b_ih, b_hh]) -> (out, h_n, c_n)`` for a whole sequence.

    Fused because the step-by-step graph's overhead and small products dominated the
    ``lstm`` benchmark (see the module docstring for the layout of the work). Params:
    ``batch_first`` (``x`` and ``out`` are ``(N, L, *)``) and ``reverse`` (run from the
    last step to the first).
    """

    table = index = distinct = present = None  # projections from a table: see _run_table

    def forward(self, x, w_ih, w_hh, h0, c0, b_ih=None, b_hh=None, *, batch_first, reverse,
                lookup=None):
        self.save_inputs(*range(5 if b_ih is None else 7))
        x_tm = x.transpose(1, 0, 2) if batch_first else x
        steps, rows = x_tm.shape[:2]
        found = None if lookup is None else distinct_rows(x, lookup)
        if found is not None:
            self.distinct, index, self.present = found
            self._buffers(steps, rows, 0, h0, c0, batch_first, reverse)
            return self._run_table(self.distinct @ w_ih.T, index, w_hh, b_ih, b_hh)
        # x_t sits beside h_prev in the [h | x] rows, so that one product gives both
        # weights' gradients.
        hx = self._buffers(steps, rows, x.shape[2], h0, c0, batch_first, reverse)
        hx[self.prev:steps + self.prev, :, hx.shape[2] - x.shape[2]:] = x_tm
        flat = self._gate_buffer(steps, rows, w_ih.shape[0], np.result_type(x, w_ih))
        _matmul(self._rows(steps, with_h=False), w_ih.T, out=flat)
        return self._run(w_hh, b_ih, b_hh)

    def _gate_buffer(self, steps, rows, gates, dtype):
        """Make ``self.acts``, ``(L, N, 4H)``, a view of ``self.act_rows`` (rows of ``4H +
        _ROW_PAD``, C-contiguous: the kernels take each step's rows whole); returns it as
        an ``(L N, 4H)`` matrix view."""
        self.act_rows = np.empty((steps, rows, gates + _ROW_PAD), dtype)
        self.acts = self.act_rows[:, :, :gates]
        return self.act_rows.reshape(steps * rows, gates + _ROW_PAD)[:, :gates]

    def _buffers(self, steps, rows, extra, h0, c0, batch_first, reverse):
        """The ``[h | extra columns]`` rows and the cell states, time-major, one block
        more than ``steps``: step t reads h_prev at block t + prev and writes its h at
        block t + 1 - prev. Returns the ``[h | ...]`` buffer."""
        self.batch_first, self.prev = batch_first, 1 if reverse else 0
        hs, start = h0.shape[1], steps * self.prev
        self.hx = hx = np.empty((steps + 1, rows, hs + extra), h0.dtype)
        hx[start, :, :hs] = h0
        self.cbuf = np.empty((steps + 1, rows, hs), h0.dtype)
        self.cbuf[start] = c0
        self.tc = np.empty((steps, rows, hs), h0.dtype)
        return hx

    def _run(self, w_hh, b_ih, b_hh):
        """Every step over ``self.acts`` (the input projections); ``(out, h_n, c_n)``."""
        steps, hs, prev = self.tc.shape[0], self.tc.shape[2], self.prev
        gates = self.acts.shape[2]
        bias = np.zeros(gates, self.acts.dtype) if b_ih is None else b_ih + b_hh
        rows = self.tc.shape[1]
        self.out = np.empty((rows, steps, hs) if self.batch_first else (steps, rows, hs),
                            self.tc.dtype)
        self._run_steps(w_hh, bias)
        out, self.out = self.out, None
        end = 0 if prev else steps
        return out, self.hx[end, :, :hs].copy(), self.cbuf[end].copy()

    def _run_steps(self, w_hh, bias):
        rows = self.acts.shape[1]
        count = pieces(rows, self.acts[0].size * self.cbuf.shape[2], _SPLIT_STEP_WORK)
        # The loops hand its address to BLAS as the gates' dtype.
        w_t = np.ascontiguousarray(w_hh.T, dtype=self.acts.dtype)
        _over_rows(lambda lo, hi: self._run_rows(w_t, bias, lo, hi), rows, count)

    def _run_rows(self, w_t, bias, lo, hi):
        """The forward time loop for batch rows ``lo:hi`` (rows never interact), as one
        compiled call where it can (``lstm_forward_loop``), else step by step in Python."""
        acts, hx, cbuf, tc = (a[:, lo:hi] for a in (self.act_rows, self.hx, self.cbuf,
                                                     self.tc))
        prev, steps, hs = self.prev, acts.shape[0], cbuf.shape[2]
        if _whole_loops(acts):
            table, index = self._table_and_index()
            lstm_forward_loop(self.act_rows, self.hx, self.cbuf, self.tc, bias, w_t, table,
                              index, bool(prev), lo, hi)
        else:
            add, gates = _recurrent_add(w_t), self.acts.shape[2]
            for t in (range(steps - 1, -1, -1) if prev else range(steps)):
                self._step_input(acts[t], t, lo, hi)
                add(hx[t + prev, :, :hs], acts[t, :, :gates])
                lstm_step_forward(acts[t], bias, cbuf[t + prev], cbuf[t + 1 - prev], tc[t],
                                  hx[t + 1 - prev])
        # The output is a copy in the caller's layout, made here so that each thread
        # copies its own rows.
        hs_rows = hx[1 - prev:steps + 1 - prev, :, :hs]
        if self.batch_first:
            self.out[lo:hi] = hs_rows.transpose(1, 0, 2)
        else:
            self.out[:, lo:hi] = hs_rows

    def _run_table(self, table, index, w_hh, b_ih, b_hh):
        """``_run`` with step t's input projections the rows ``table[index[t]]`` (``index``
        in the input's layout), gathered step by step into the block the step's kernel
        reads next, from a table that stays in cache."""
        self.index = index.T if self.batch_first else index  # time-major (L, N)
        self.table = table
        self._gate_buffer(*self.index.shape, table.shape[1], table.dtype)
        try:
            return self._run(w_hh, b_ih, b_hh)
        finally:
            self.table = None

    def _table_and_index(self):
        """``(table, index)`` for ``lstm_forward_loop``, C-contiguous: none when the
        product before the loop made the input projections."""
        if self.table is None:
            return _NO_TABLE, _NO_INDEX
        return (np.ascontiguousarray(self.table),
                np.ascontiguousarray(self.index, dtype=np.intp))

    def _step_input(self, act, t, lo, hi):
        """Step ``t``'s input projections for batch rows ``lo:hi`` into ``act``, from the
        table (when there is none, the product before the loop made them all)."""
        if self.table is not None:
            np.take(self.table, self.index[t, lo:hi], axis=0,
                    out=act[:, :self.table.shape[1]])

    def backward(self, grad_out, grad_h, grad_c):
        inputs = self.saved_inputs
        if GradMode.enabled:
            return _graph_backward(self, inputs, (grad_out, grad_h, grad_c))
        d_rows, dh_t, dc = self._through_time(inputs[2]._data, grad_out, grad_h, grad_c)
        return self._input_grads(inputs, d_rows, dh_t, dc)

    def _through_time(self, w_hh, grad_out, grad_h, grad_c):
        """Backward over the steps: every step's gate gradients (``(L, N, 4H + _ROW_PAD)``,
        the spare columns unset, as ``act_rows``), and those of h0 and c0."""
        tc = self.tc
        rows = tc.shape[1]
        # (H, 4H): the product below runs faster so; BLAS reads it as the gates' dtype.
        w_hh_t = np.ascontiguousarray(w_hh.T, dtype=tc.dtype)
        dc = np.zeros(tc.shape[1:], tc.dtype) if grad_c is None else grad_c._data.copy()
        d_rows = np.empty(self.act_rows.shape, self.act_rows.dtype)
        count = pieces(rows, self.acts[0].size * tc.shape[2], _SPLIT_STEP_WORK)
        parts = _over_rows(
            lambda lo, hi: self._back_rows(w_hh_t, grad_out, grad_h, dc, d_rows, lo, hi),
            rows, count)
        dh_t = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        return d_rows, dh_t, dc

    def _back_rows(self, w_hh_t, grad_out, grad_h, dc, d_rows, lo, hi):
        """Backward through time for batch rows ``lo:hi``, in place in ``dc[lo:hi]`` and
        ``d_rows[:, lo:hi]``; returns the (transposed) gradient of ``h0``'s rows."""
        tc, prev, gates = self.tc[:, lo:hi], self.prev, self.acts.shape[2]
        g = _time_major(grad_out, self.batch_first, tc, lo, hi)
        steps, hs = tc.shape[0], tc.shape[2]
        dh_t = np.zeros((hs, hi - lo), tc.dtype) if grad_h is None else \
            grad_h._data[lo:hi].T.copy()
        need_h0 = self.needs_input_grad[3]
        if _whole_loops(tc):
            right = np.empty((gates, hi - lo), tc.dtype)
            lstm_backward_loop(g, dh_t, self.act_rows, self.tc, self.cbuf, dc, d_rows, right,
                               w_hh_t, bool(prev), need_h0, lo, hi)
            return dh_t
        acts, cbuf, d_rows, dc = self.act_rows[:, lo:hi], self.cbuf[:, lo:hi], \
            d_rows[:, lo:hi], dc[lo:hi]
        order = range(steps) if prev else range(steps - 1, -1, -1)
        product = _recurrent_product(w_hh_t, gates, hi - lo)
        for k, t in enumerate(order):
            lstm_step_backward(g[t], dh_t, acts[t], tc[t], cbuf[t + prev], dc, d_rows[t])
            if need_h0 or k + 1 < steps:
                product(d_rows[t, :, :gates].T, dh_t)
        return dh_t

    def _input_grads(self, inputs, d_rows, dh_t, dc):
        need = self.needs_input_grad
        steps, rows, width = d_rows.shape
        flat = d_rows.reshape(steps * rows, width)[:, :self.acts.shape[2]]  # (L N, 4H), a view
        grads = [None] * len(inputs)
        self._projection_grads(inputs, d_rows, flat, grads)
        if need[3]:
            grads[3] = np.ascontiguousarray(dh_t.T)
        if need[4]:
            grads[4] = dc
        if len(inputs) > 5 and (need[5] or need[6]):
            bias = flat.sum(0)
            grads[5], grads[6] = bias, bias.copy()  # two leaves must not share one array
        return tuple(None if g is None or not n else g if type(g) is RowsGradient else _make(g)
                     for g, n in zip(grads, need))

    def _projection_grads(self, inputs, d_rows, flat, grads):
        """The gradients of ``x``, ``w_ih`` and ``w_hh`` into ``grads[:3]``, from the gates'
        gradients ``flat`` (``d_rows``, as ``_through_time`` made it)."""
        need = self.needs_input_grad
        steps, rows, hs = self.tc.shape
        w_ih, batch_first = inputs[1]._data, self.batch_first

        def input_grad():
            dx = _matmul(flat, w_ih).reshape(steps, rows, w_ih.shape[1])
            return np.ascontiguousarray(dx.transpose(1, 0, 2)) if batch_first else dx

        # When nothing else sees x's gradient, its lookup takes it summed per distinct row
        # (ember.autograd.deferred): the product with w_ih is then made for those rows only.
        defer = need[0] and self.distinct is not None and deferrable(inputs[0])
        if need[0] and not defer:
            grads[0] = input_grad()
        if self.distinct is not None:
            # x's rows are the distinct rows picked by the index: dW_ih = dgates^T x sums
            # each row's gates' gradients first.
            summed = table_grad(d_rows, flat, self.index, len(self.distinct)) \
                if defer or need[1] else None
            if defer:
                grads[0] = RowsGradient(summed, self.present, w_ih, input_grad)
            if need[1]:
                grads[1] = summed.T @ self.distinct
            if need[2]:
                grads[2] = _matmul(flat.T, self._rows(steps, with_h=True))
        elif need[1] or need[2]:
            both = _matmul(flat.T, self._rows(steps, with_h=True))
            grads[1], grads[2] = both[:, hs:].copy(), both[:, :hs].copy()

    def _graph_inputs(self, inputs):
        """The input projections as a Tensor (no bias), and the other inputs from w_hh on."""
        return Linear.apply(inputs[0], inputs[1]), inputs[2:]

    def _rows(self, steps, with_h):
        """``x_t`` (or ``[h_prev | x_t]``) of every step as one ``(L N, *)`` matrix."""
        block = self.hx[self.prev:steps + self.prev]
        if not with_h:
            block = block[:, :, self.cbuf.shape[2]:]
        return block.reshape(steps * block.shape[1], block.shape[2])


class LSTMSequenceFromTable(LSTMSequence):
    """``(index, table, w_hh, h0, c0[, b_ih, b_hh]) -> (out, h_n, c_n)``: ``LSTMSequence``
    whose step inputs' projections ``x_t W_ih^T`` are rows of ``table`` picked by ``index``.

    For an embedding feeding the layer, ``x = E[index]``, so ``x W_ih^T = T[index]`` with
    ``T = E W_ih^T``: the compiled training step's ``project_embeddings`` pass
    (``ember/jit/passes/embedding_projection.py``) rewrites ``LSTMSequence(embedding(index,
    E), w_ih, ...)`` into this op of ``Linear(E, w_ih)``. The projection is then made for
    the ``V`` rows of the table instead of the ``L N`` positions, and backward sums the
    gates' gradients into ``V`` rows instead of making two ``(L N, 4H)`` products with
    ``w_ih`` (the ``lstm`` benchmark: 65 rows against 2,048). Params as ``LSTMSequence``;
    ``index`` is ``(N, L)`` when ``batch_first``, else ``(L, N)``.
    """

    def forward(self, index, table, w_hh, h0, c0, b_ih=None, b_hh=None, *, batch_first,
                reverse):
        self.save_inputs(*range(5 if b_ih is None else 7))
        check_index(index, table.shape[0])
        steps, rows = index.shape[::-1] if batch_first else index.shape
        self._buffers(steps, rows, 0, h0, c0, batch_first, reverse)
        return self._run_table(table, index, w_hh, b_ih, b_hh)

    def _projection_grads(self, inputs, d_rows, flat, grads):
        need = self.needs_input_grad
        if need[1]:
            grads[1] = np.ascontiguousarray(table_grad(d_rows, flat, self.index,
                                                       inputs[1].shape[0]))
        if need[2]:
            grads[2] = _matmul(flat.T, self._rows(self.tc.shape[0], with_h=True))

    def _graph_inputs(self, inputs):
        xw = TakeRows.apply(inputs[1], index=self.index.T if self.batch_first else self.index)
        return xw, inputs[2:]


def _whole_loops(rows):
    """True when the time loops over ``rows`` (a run of batch rows of one of the op's
    time-major buffers) run as one compiled call each
    (``ember.backend.rnn_kernels.lstm_forward_loop``)."""
    return rows.shape[1] > 0 and lstm_loops_available(rows.dtype)


def _over_rows(fn, rows, count):
    """``[fn(lo, hi)]`` over ``count`` equal ranges of the batch's rows, one per thread.

    Exactly ``count`` ranges (``split`` may cut finer): a time loop over fewer rows makes
    thinner products, less efficient per multiply-add (a step's product over 8 rows took
    86 us, over 16 rows 110 us, one thread).
    """
    bounds = [rows * i // count for i in range(count + 1)]
    parts = split(lambda a, b: [fn(bounds[i], bounds[i + 1]) for i in range(a, b)],
                  count, count)
    return [found for part in parts for found in part]


def _matmul(a, b, out=None):
    """``a @ b`` for 2-D arrays (into ``out`` if given: a matrix whose rows are
    contiguous), its rows split over the BLAS threads, each piece a product
    at one BLAS thread: OpenBLAS's own threads spin while they wait for each other, and
    when another process holds a core a two-thread product can take many times longer
    (``ember/_threads.py``); pieces in threads of their own never wait for each other."""
    if out is None:
        out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    work = a.shape[0] * a.shape[1] * b.shape[1]
    split(lambda lo, hi: np.matmul(a[lo:hi], b, out=out[lo:hi]), a.shape[0],
          pieces(a.shape[0], work, _SPLIT_PRODUCT_WORK))
    return out


def _recurrent_add(w_t):
    """``fn(h, act)``: ``act += h @ w_t`` for a step's ``h (N, H)`` and gates ``act (N,
    4H)`` (rows contiguous), by small products in place where OpenBLAS can
    (``ember.backend.small_products``: the ``lstm`` benchmark's step 106 -> 83 us at 16
    rows, one thread), else one product and an add."""
    if small_products_available(w_t.dtype):
        return lambda h, act: small_product_columns(h, w_t, act, 1.0)
    return lambda h, act: np.add(act, h @ w_t, out=act)


def _recurrent_product(w, inner, columns):
    """``fn(b, out)``: ``out[...] = w @ b`` (``w`` C-contiguous) for the backward loop's
    ``(inner, columns)`` right operands (transposed views), as small products on a
    C-contiguous copy of ``b`` where OpenBLAS can (``ember.backend.small_products``),
    else one product."""
    if not small_products_available(w.dtype):
        return lambda b, out: np.matmul(w, b, out=out)
    right = np.empty((inner, columns), w.dtype)

    def product(b, out):
        np.copyto(right, b)
        small_product(w, right, out)

    return product


def _time_major(grad_out, batch_first, like, lo, hi):
    """Rows ``lo:hi`` of the output's gradient as a contiguous ``(L, hi - lo, H)`` array,
    shaped like ``like`` (zeros when None)."""
    if grad_out is None:
        return np.zeros(like.shape, like.dtype)
    g = grad_out._data
    g = g[lo:hi].transpose(1, 0, 2) if batch_first else g[:, lo:hi]
    return np.ascontiguousarray(g)


# ---- create_graph: differentiate the step-by-step graph ----------------------------------

def _graph_backward(node, inputs, grads):
    """``node``'s input gradients as a differentiable graph (for gradients of gradients)."""
    need = node.needs_input_grad
    # Aliases give autograd.grad its own targets, so it stops here instead of walking on
    # into the graph that made the inputs.
    leaves = [Reshape.apply(t, shape=t.shape) if n else t for t, n in zip(inputs, need)]
    outs = _step_graph(node, leaves)
    pairs = [(o, g) for o, g in zip(outs, grads) if g is not None]
    wanted = [t for t, n in zip(leaves, need) if n]
    found = iter(_grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                       create_graph=True, allow_unused=True))
    return tuple(next(found) if n else None for n in need)


def _step_graph(node, inputs):
    """``node``'s forward as ordinary ops on Tensors: ``(out, h_n, c_n)``."""
    xw, (w_hh, h, c, *biases) = node._graph_inputs(inputs)
    if biases:
        xw = xw + (biases[0] + biases[1])
    batch_first = node.batch_first
    steps = xw.unbind(1 if batch_first else 0)
    outs = [None] * len(steps)
    for t in (range(len(steps) - 1, -1, -1) if node.prev else range(len(steps))):
        i, f, g, o = (steps[t] + h @ w_hh.mT).chunk(4, -1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = outs[t] = o.sigmoid() * c.tanh()
    return stack(outs, 1 if batch_first else 0), h, c
