"""Recurrent cells, one time step each: ``RNNCell``, ``LSTMCell`` and ``GRUCell``.

Same parameter names (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), shapes,
gate order and initialization as PyTorch; the gate math is shared with the sequence
layers (``_recurrence.py``).
"""

import math

from ember._errors import fmt_shape, runtime_error, shape_error
from ember.creation import empty, zeros
from ember.nn import init
from ember.nn.module import Module
from ember.nn.modules._recurrence import GRUGates, LSTMGates
from ember.nn.parameter import Parameter
from ember.ops.linalg import linear

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "RNNCellBase"]


class RNNCellBase(Module):
    """Parameters and checks shared by the cells: ``num_chunks`` gates of ``hidden_size``.

    Attributes:
        weight_ih: ``(num_chunks * hidden_size, input_size)``.
        weight_hh: ``(num_chunks * hidden_size, hidden_size)``.
        bias_ih, bias_hh: ``(num_chunks * hidden_size,)``, or None without bias.
        All from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``.
    """

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        gates = num_chunks * hidden_size
        self.weight_ih = Parameter(empty((gates, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(empty((gates, hidden_size), device=device, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(gates, device=device, dtype=dtype))
            self.bias_hh = Parameter(empty(gates, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = self.__dict__.get("nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def reset_parameters(self):
        """Draw every parameter from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prepare(self, input, states):
        """``(batched input, batched states, batched?)``, with zeros for missing states."""
        name = self._get_name()
        if input.ndim not in (1, 2):
            raise shape_error(name, f"expected input to be 1-D or 2-D, got shape "
                                    f"{fmt_shape(input.shape)}")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if x.shape[1] != self.input_size:
            raise shape_error(name, f"input has {x.shape[1]} features (shape "
                                    f"{fmt_shape(input.shape)}) but input_size is "
                                    f"{self.input_size}")
        if x.dtype != self.weight_ih.dtype:
            raise runtime_error(name, f"input dtype ({x.dtype}) does not match weight dtype "
                                      f"({self.weight_ih.dtype})")
        if states is None:
            zero = zeros((x.shape[0], self.hidden_size), dtype=x.dtype)
            return x, (zero,) * self._num_states, batched
        return x, tuple(self._check_state(x, s, input.ndim) for s in states), batched

    _num_states = 1

    def _check_state(self, x, state, ndim):
        name = self._get_name()
        if state.ndim != ndim:
            raise shape_error(name, f"the hidden state must be {ndim}-D like the input, got "
                                    f"shape {fmt_shape(state.shape)} for input "
                                    f"{fmt_shape(x.shape if ndim == 2 else x.shape[1:])}")
        s = state if ndim == 2 else state.unsqueeze(0)
        if s.shape[1] != self.hidden_size:
            raise shape_error(name, f"the hidden state has {s.shape[1]} features (shape "
                                    f"{fmt_shape(state.shape)}) but hidden_size is "
                                    f"{self.hidden_size}")
        if s.shape[0] != x.shape[0]:
            raise shape_error(name, f"input batch size {x.shape[0]} doesn't match the hidden "
                                    f"state's batch size {s.shape[0]} (shapes "
                                    f"{fmt_shape(x.shape)} and {fmt_shape(s.shape)})")
        return s


class RNNCell(RNNCellBase):
    """One Elman step: ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``, act tanh or relu.

    Args:
        input_size, hidden_size: features of ``x`` and ``h``.
        bias: learn ``bias_ih`` and ``bias_hh``.
        nonlinearity: ``"tanh"`` or ``"relu"``.

    Shape:
        input ``(N, input_size)`` or ``(input_size,)``; hx and output ``(N, hidden_size)``
        or ``(hidden_size,)``.

    Example:
        >>> import ember
        >>> RNNCell(10, 20)(ember.randn(3, 10)).shape
        ember.Size([3, 20])
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, 1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, None if hx is None else (hx,))
        pre = (linear(x, self.weight_ih, self.bias_ih)
               + linear(h, self.weight_hh, self.bias_hh))
        if self.nonlinearity == "tanh":
            out = pre.tanh()
        elif self.nonlinearity == "relu":
            out = pre.relu()
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates ``i, f, g, o``): returns ``(h', c')`` with

        c' = sigmoid(f) * c + sigmoid(i) * tanh(g),   h' = sigmoid(o) * tanh(c')

    of ``[i, f, g, o] = x W_ih^T + b_ih + h W_hh^T + b_hh``.

    Shape:
        input ``(N, input_size)`` or ``(input_size,)``; each of ``hx = (h, c)`` and of the
        outputs ``(N, hidden_size)`` or ``(hidden_size,)``.

    Example:
        >>> import ember
        >>> h, c = LSTMCell(10, 20)(ember.randn(3, 10))
        >>> h.shape, c.shape
        (ember.Size([3, 20]), ember.Size([3, 20]))
    """

    _num_states = 2

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        x, (h, c), batched = self._prepare(input, hx)
        gates = (linear(x, self.weight_ih, self.bias_ih)
                 + linear(h, self.weight_hh, self.bias_hh))
        h, c = LSTMGates.apply(gates, c)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (gates ``r, z, n``):

        r = sigmoid(x W_ir + b_ir + h W_hr + b_hr),  z = sigmoid(x W_iz + b_iz + h W_hz + b_hz)
        n = tanh(x W_in + b_in + r * (h W_hn + b_hn)),  h' = (1 - z) * n + z * h

    Shape:
        as ``RNNCell``.

    Example:
        >>> import ember
        >>> GRUCell(10, 20)(ember.randn(3, 10)).shape
        ember.Size([3, 20])
    """

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prepare(input, None if hx is None else (hx,))
        out = GRUGates.apply(linear(x, self.weight_ih, self.bias_ih),
                             linear(h, self.weight_hh, self.bias_hh), h)
        return out if batched else out.squeeze(0)
