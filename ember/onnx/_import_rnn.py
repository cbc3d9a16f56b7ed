"""ONNX's recurrent operators (LSTM, GRU, RNN) unrolled over time with ember ops.

ONNX stacks an LSTM's gates as (input, output, forget, cell) -- PyTorch's order is
(input, forget, cell, output) -- and a GRU's as (update, reset, hidden). Weights are
``W: (directions, gates * hidden, input)``, ``R: (directions, gates * hidden, hidden)``
and ``B: (directions, 2 * gates * hidden)`` (input biases, then recurrent biases).
Only the default activations are run; others are refused at load time (``check``).
"""

import ember
from ember._errors import value_error
from ember.onnx._import_values import as_array, as_tensor

__all__ = ["OPS", "check"]

_DEFAULT_ACTIVATIONS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"],
                        "RNN": ["Tanh"]}
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def check(node):
    """The reason ember cannot run this recurrent node, or None when it can."""
    acts = node.attr("activations")
    default = _DEFAULT_ACTIVATIONS[node.op_type]
    directions = 2 if node.attr("direction", "forward") == "bidirectional" else 1
    if acts is not None and [a.lower() for a in acts] != [a.lower() for a in
                                                           default * directions]:
        return f"activations {acts} (only {default} are supported)"
    if node.attr("clip") is not None:
        return "the clip attribute"
    if node.attr("input_forget", 0):
        return "input_forget=1"
    return None


def _step_lstm(node, gates, h, c, peep):
    size = h.shape[-1]
    i, o, f, g = (gates[..., k * size:(k + 1) * size] for k in range(4))
    if peep is not None:
        i, f = i + peep[0] * c, f + peep[2] * c
    c = ember.sigmoid(f) * c + ember.sigmoid(i) * ember.tanh(g)
    o = o + peep[1] * c if peep is not None else o
    return ember.sigmoid(o) * ember.tanh(c), c


def _run_direction(node, x, w, r, b, h, c, peep, reverse):
    """One direction over the sequence ``x: (T, N, I)``; returns outputs and states."""
    size = r.shape[-1]
    gates_x = x @ w.t()
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    outputs = []
    for t in steps:
        if node.op_type == "LSTM":
            gates = gates_x[t] + h @ r.t() + (b[:4 * size] + b[4 * size:])
            h, c = _step_lstm(node, gates, h, c, peep)
        elif node.op_type == "GRU":
            h = _step_gru(node, gates_x[t], h, r, b, size)
        else:
            h = ember.tanh(gates_x[t] + h @ r.t() + b[:size] + b[size:])
        outputs.append(h)
    if reverse:
        outputs.reverse()
    return ember.stack(outputs), h, c


def _step_gru(node, gx, h, r, b, size):
    wb, rb = b[:3 * size], b[3 * size:]
    gx = gx + wb
    z = ember.sigmoid(gx[..., :size] + h @ r[:size].t() + rb[:size])
    reset = ember.sigmoid(gx[..., size:2 * size] + h @ r[size:2 * size].t()
                          + rb[size:2 * size])
    r_h, rb_h = r[2 * size:], rb[2 * size:]
    if node.attr("linear_before_reset", 0):
        candidate = ember.tanh(gx[..., 2 * size:] + reset * (h @ r_h.t() + rb_h))
    else:
        candidate = ember.tanh(gx[..., 2 * size:] + (reset * h) @ r_h.t() + rb_h)
    return (1 - z) * candidate + z * h


def _check_lengths(node, sequence_lens, steps):
    if sequence_lens is None:
        return
    lengths = as_array(sequence_lens, node, "sequence_lens")
    if (lengths != steps).any():
        raise value_error(node.label, f"sequences of different lengths ({lengths.tolist()}) "
                                      f"are not supported; all must be {steps}")


def _initial(state, layout, shape, like):
    if state is None:
        return ember.zeros(*shape, dtype=like.dtype)
    state = as_tensor(state)
    return state.transpose(0, 1) if layout else state


def _recurrent(node, x, w, r, b=None, sequence_lens=None, initial_h=None, initial_c=None,
               p=None):
    """Any of the three ops: the outputs ``(Y, Y_h[, Y_c])`` in the node's layout."""
    layout = node.attr("layout", 0)
    x, w, r = as_tensor(x), as_tensor(w), as_tensor(r)
    x = x.transpose(0, 1) if layout else x
    size, dirs, batch = r.shape[-1], w.shape[0], x.shape[1]
    _check_lengths(node, sequence_lens, x.shape[0])
    gates = _GATES[node.op_type]
    b = ember.zeros(dirs, 2 * gates * size, dtype=x.dtype) if b is None else as_tensor(b)
    shape = (dirs, batch, size)
    h0 = _initial(initial_h, layout, shape, x)
    c0 = _initial(initial_c, layout, shape, x) if node.op_type == "LSTM" else None
    peep = None if p is None else as_tensor(p)
    ys, hs, cs = [], [], []
    for d in range(dirs):
        reverse = d == 1 or node.attr("direction", "forward") == "reverse"
        peep_d = None if peep is None else [peep[d, k * size:(k + 1) * size]
                                            for k in range(3)]
        y, h, c = _run_direction(node, x, w[d], r[d], b[d], h0[d],
                                 None if c0 is None else c0[d], peep_d, reverse)
        ys.append(y)
        hs.append(h)
        cs.append(c)
    return _outputs(node, ys, hs, cs, layout)


def _outputs(node, ys, hs, cs, layout):
    y = ember.stack(ys, dim=1)                      # (T, dirs, N, H)
    y_h = ember.stack(hs)                           # (dirs, N, H)
    if layout:
        y, y_h = y.permute(2, 0, 1, 3), y_h.transpose(0, 1)
    outs = [y, y_h]
    if node.op_type == "LSTM":
        y_c = ember.stack(cs)
        outs.append(y_c.transpose(0, 1) if layout else y_c)
    return tuple(outs[:node.num_outputs])


OPS = {"LSTM": _recurrent, "GRU": _recurrent, "RNN": _recurrent}
