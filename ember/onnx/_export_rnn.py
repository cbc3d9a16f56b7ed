"""Exporters of the recurrent ops: a whole LSTM layer as ONNX ``LSTM``, and the gate ops
of one time step (``ember/nn/modules/_recurrence.py``) composed from elementwise ops."""

from ember.onnx._export_math import as_out

__all__ = ["EXPORTERS"]


# PyTorch stacks the gates as i, f, g, o; ONNX's LSTM as i, o, f, c (c is PyTorch's g).
_ONNX_GATE_ORDER = (0, 3, 1, 2)


def _regate(ctx, w, hidden):
    """``w`` (4H, ...) with its gate blocks put in ONNX's order."""
    parts = ctx.split(w, [hidden] * 4, 0)
    return ctx.op("Concat", [parts[k] for k in _ONNX_GATE_ORDER], axis=0)


def _lstm_sequence(ctx, node, x, w_ih, w_hh, h0, c0, b_ih=None, b_hh=None, *,
                   batch_first, reverse):
    x, w_ih, w_hh, h0, c0, *biases = as_out(ctx, node, [x, w_ih, w_hh, h0, c0] + (
        [b_ih, b_hh] if b_ih is not None else []))
    hidden = node.inputs[2].shape[1]
    if batch_first:
        x = ctx.op("Transpose", [x], perm=[1, 0, 2])
    w = ctx.unsqueeze(_regate(ctx, w_ih, hidden), [0])
    r = ctx.unsqueeze(_regate(ctx, w_hh, hidden), [0])
    inputs = [x, w, r]
    if biases:
        b = ctx.op("Concat", [_regate(ctx, biases[0], hidden), _regate(ctx, biases[1], hidden)],
                   axis=0)
        inputs.append(ctx.unsqueeze(b, [0]))
    else:
        inputs.append("")
    inputs += ["", ctx.unsqueeze(h0, [0]), ctx.unsqueeze(c0, [0])]
    y, h_n, c_n = ctx.op("LSTM", inputs, outputs=3, hidden_size=hidden,
                         direction="reverse" if reverse else "forward")
    y = ctx.squeeze(y, [1])  # (L, directions=1, N, H)
    if batch_first:
        y = ctx.op("Transpose", [y], perm=[1, 0, 2])
    return y, ctx.squeeze(h_n, [0]), ctx.squeeze(c_n, [0])


def _lstm_gates(ctx, node, gates, c_prev):
    gates, c_prev = as_out(ctx, node, [gates, c_prev])
    hidden = node.inputs[1].shape[-1]
    i, f, g, o = ctx.split(gates, [hidden] * 4, -1)
    sig = [ctx.op("Sigmoid", [t]) for t in (i, f, o)]
    c = ctx.op("Add", [ctx.op("Mul", [sig[1], c_prev]),
                       ctx.op("Mul", [sig[0], ctx.op("Tanh", [g])])])
    return ctx.op("Mul", [sig[2], ctx.op("Tanh", [c])]), c


def _gru_gates(ctx, node, gx, gh, h):
    gx, gh, h = as_out(ctx, node, [gx, gh, h])
    hidden = node.inputs[2].shape[-1]
    xr, xz, xn = ctx.split(gx, [hidden] * 3, -1)
    hr, hz, hn = ctx.split(gh, [hidden] * 3, -1)
    r = ctx.op("Sigmoid", [ctx.op("Add", [xr, hr])])
    z = ctx.op("Sigmoid", [ctx.op("Add", [xz, hz])])
    n = ctx.op("Tanh", [ctx.op("Add", [xn, ctx.op("Mul", [r, hn])])])
    return ctx.op("Add", [n, ctx.op("Mul", [z, ctx.op("Sub", [h, n])])])


def _step_linear(ctx, node, h, w, b):
    h, w, b = as_out(ctx, node, [h, w, b])
    return ctx.op("Add", [ctx.op("MatMul", [h, ctx.op("Transpose", [w], perm=[1, 0])]), b])


EXPORTERS = {
    "LSTMSequence": _lstm_sequence, "LSTMGates": _lstm_gates, "GRUGates": _gru_gates,
    "StepLinear": _step_linear,
}
