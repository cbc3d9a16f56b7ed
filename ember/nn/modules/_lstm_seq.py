"""One LSTM layer direction over a padded batch as one op: ``LSTMSequence``.

Run step by step, ``L`` steps record ``3 L`` autograd nodes and backward makes two small
matrix products per step, adding into the weight's gradient ``L`` times. As one op,
forward keeps every step's activations in buffers, and backward (backpropagation through
time, by hand) makes one small product per step, ``dh_{t-1} = dgates_t W_hh``; the
weights' gradients are then one large product over all steps,
``[dW_hh | dW_ih] = dgates^T [h_{t-1} | x_t]``, and the input's another.

Layout: every array is time-major, so that all steps' gates form one ``(L N, 4H)``
matrix; ``h_{t-1}`` and ``x_t`` sit side by side in one ``(L + 1, N, H + I)`` buffer
(one product over both: 15.7 ms against 17.8 ms for two at the benchmark's sizes, one
thread). Outputs are copies, so
changing them in place cannot touch what backward reads. Double backward
(``create_graph=True``) re-runs the forward as ordinary differentiable ops and
differentiates that graph instead.

Measured on the ``lstm`` benchmark (Embedding 65x64, LSTM 64 -> 256 over 32 x 64 tokens,
Linear 256 -> 65, Adam), one thread, CPU time of a training step on a busy machine:
61.6 ms against 87.7 ms step by step; PyTorch 2.13 (whose CPU LSTM is oneDNN's fused
layer) 50.4 ms. Nearly all that is left is matrix products (OpenBLAS, at ~40 GMAC/s).
"""

import numpy as np

from ember.autograd.engine import grad as _grad
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.backend.rnn_kernels import lstm_step_backward, lstm_step_forward
from ember.ops.join import stack
from ember.ops.linalg import Linear
from ember.ops.shape import Reshape
from ember.tensor import Tensor

__all__ = ["LSTMSequence", "lstm_sequence"]

_make = Tensor._make


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
    out, h_n, c_n = LSTMSequence.apply(x, w_ih, w_hh, h0, c0, *biases,
                                       batch_first=batch_first, reverse=reverse)
    return out, (h_n, c_n)


class LSTMSequence(Op):
    """``(x, w_ih, w_hh, h0, c0[, b_ih, b_hh]) -> (out, h_n, c_n)`` for a whole sequence.

    Fused because the step-by-step graph's overhead and small products dominated the
    ``lstm`` benchmark (see the module docstring for the layout of the work). Params:
    ``batch_first`` (``x`` and ``out`` are ``(N, L, *)``) and ``reverse`` (run from the
    last step to the first).
    """

    def forward(self, x, w_ih, w_hh, h0, c0, b_ih=None, b_hh=None, *, batch_first, reverse):
        self.save_inputs(*range(5 if b_ih is None else 7))
        self.batch_first, self.prev = batch_first, 1 if reverse else 0
        x_tm = x.transpose(1, 0, 2) if batch_first else x
        steps, rows, hs = x_tm.shape[0], x_tm.shape[1], w_hh.shape[1]
        # [h | x] rows, time-major, with one block more than steps: step t reads h_prev at
        # block t + prev and writes its h at block t + 1 - prev; x_t sits beside h_prev, so
        # that one product gives both weights' gradients.
        prev = self.prev
        self.hx = hx = np.empty((steps + 1, rows, hs + x.shape[2]), x.dtype)
        hx[prev:steps + prev, :, hs:] = x_tm
        hx[steps * prev, :, :hs] = h0
        self.cbuf = np.empty((steps + 1, rows, hs), x.dtype)
        self.cbuf[steps * prev] = c0
        gates = w_ih.shape[0]  # no -1 in reshapes: a batch may be empty
        self.acts = np.matmul(self._rows(steps, with_h=False), w_ih.T).reshape(steps, rows, gates)
        self.tc = np.empty((steps, rows, hs), x.dtype)
        bias = np.zeros(w_ih.shape[0], x.dtype) if b_ih is None else b_ih + b_hh
        self._run_steps(w_hh, bias)
        end = 0 if reverse else steps
        out = hx[1 - prev:steps + 1 - prev, :, :hs]
        out = np.ascontiguousarray(out.transpose(1, 0, 2) if batch_first else out)
        return out, hx[end, :, :hs].copy(), self.cbuf[end].copy()

    def _run_steps(self, w_hh, bias):
        acts, hx, cbuf, tc, prev = self.acts, self.hx, self.cbuf, self.tc, self.prev
        steps, hs = acts.shape[0], cbuf.shape[2]
        gh_t = np.empty((acts.shape[2], acts.shape[1]), acts.dtype)
        for t in (range(steps - 1, -1, -1) if prev else range(steps)):
            np.matmul(w_hh, hx[t + prev, :, :hs].T, out=gh_t)
            lstm_step_forward(acts[t], gh_t, bias, cbuf[t + prev], cbuf[t + 1 - prev], tc[t],
                              hx[t + 1 - prev])

    def backward(self, grad_out, grad_h, grad_c):
        inputs = self.saved_inputs
        if GradMode.enabled:
            return _graph_backward(self, inputs, (grad_out, grad_h, grad_c))
        d_gates, dh_t, dc = self._through_time(inputs[2]._data, grad_out, grad_h, grad_c)
        return self._input_grads(inputs, d_gates, dh_t, dc)

    def _through_time(self, w_hh, grad_out, grad_h, grad_c):
        """Backward over the steps: every step's gate gradients, and those of h0 and c0."""
        acts, tc, cbuf, prev = self.acts, self.tc, self.cbuf, self.prev
        steps, rows, hs = tc.shape
        w_hh_t = np.ascontiguousarray(w_hh.T)  # the (H, 4H) product below runs faster
        g = _time_major(grad_out, self.batch_first, tc)
        dh_t = np.zeros((hs, rows), tc.dtype) if grad_h is None else grad_h._data.T.copy()
        dc = np.zeros((rows, hs), tc.dtype) if grad_c is None else grad_c._data.copy()
        d_gates = np.empty_like(acts)
        need_h0 = self.needs_input_grad[3]
        order = range(steps) if prev else range(steps - 1, -1, -1)
        for k, t in enumerate(order):
            lstm_step_backward(g[t], dh_t, acts[t], tc[t], cbuf[t + prev], dc, d_gates[t])
            if need_h0 or k + 1 < steps:
                np.matmul(w_hh_t, d_gates[t].T, out=dh_t)
        return d_gates, dh_t, dc

    def _input_grads(self, inputs, d_gates, dh_t, dc):
        need = self.needs_input_grad
        steps, rows, hs = self.tc.shape
        flat = d_gates.reshape(steps * rows, d_gates.shape[2])
        grads = [None] * len(inputs)
        if need[0]:
            dx = np.matmul(flat, inputs[1]._data).reshape(steps, rows, self.hx.shape[2] - hs)
            grads[0] = np.ascontiguousarray(dx.transpose(1, 0, 2)) if self.batch_first else dx
        if need[1] or need[2]:
            both = np.matmul(flat.T, self._rows(steps, with_h=True))
            grads[1], grads[2] = both[:, hs:].copy(), both[:, :hs].copy()
        if need[3]:
            grads[3] = np.ascontiguousarray(dh_t.T)
        if need[4]:
            grads[4] = dc
        if len(inputs) > 5 and (need[5] or need[6]):
            bias = flat.sum(0)
            grads[5], grads[6] = bias, bias.copy()  # two leaves must not share one array
        return tuple(None if g is None or not n else _make(g) for g, n in zip(grads, need))

    def _rows(self, steps, with_h):
        """``x_t`` (or ``[h_prev | x_t]``) of every step as one ``(L N, *)`` matrix."""
        block = self.hx[self.prev:steps + self.prev]
        if not with_h:
            block = block[:, :, self.cbuf.shape[2]:]
        return block.reshape(steps * block.shape[1], block.shape[2])


def _time_major(grad_out, batch_first, like):
    """The output's gradient as a contiguous ``(L, N, H)`` array (zeros when None)."""
    if grad_out is None:
        return np.zeros(like.shape, like.dtype)
    g = grad_out._data
    return np.ascontiguousarray(g.transpose(1, 0, 2) if batch_first else g)


# ---- create_graph: differentiate the step-by-step graph ----------------------------------

def _graph_backward(node, inputs, grads):
    """``node``'s input gradients as a differentiable graph (for gradients of gradients)."""
    need = node.needs_input_grad
    # Aliases give autograd.grad its own targets, so it stops here instead of walking on
    # into the graph that made the inputs.
    leaves = [Reshape.apply(t, shape=t.shape) if n else t for t, n in zip(inputs, need)]
    outs = _step_graph(leaves, node.batch_first, node.prev == 1)
    pairs = [(o, g) for o, g in zip(outs, grads) if g is not None]
    wanted = [t for t, n in zip(leaves, need) if n]
    found = iter(_grad([o for o, _ in pairs], wanted, [g for _, g in pairs],
                       create_graph=True, allow_unused=True))
    return tuple(next(found) if n else None for n in need)


def _step_graph(inputs, batch_first, reverse):
    """``LSTMSequence``'s forward as ordinary ops on Tensors: ``(out, h_n, c_n)``."""
    x, w_ih, w_hh, h, c = inputs[:5]
    xw = Linear.apply(x, w_ih) if len(inputs) == 5 else \
        Linear.apply(x, w_ih, inputs[5] + inputs[6])
    steps = xw.unbind(1 if batch_first else 0)
    outs = [None] * len(steps)
    for t in (range(len(steps) - 1, -1, -1) if reverse else range(len(steps))):
        i, f, g, o = (steps[t] + h @ w_hh.mT).chunk(4, -1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh()
        h = outs[t] = o.sigmoid() * c.tanh()
    return stack(outs, 1 if batch_first else 0), h, c
