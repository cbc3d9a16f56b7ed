"""Recurrent layers over whole sequences: ``RNN``, ``LSTM`` and ``GRU`` (cells in
``rnn_cell.py``).

Parameters carry PyTorch's names (``weight_ih_l0``, ``weight_hh_l1_reverse``,
``bias_ih_l0``, ...) and shapes, so weights move between the two through ``state_dict``.
Each layer takes a padded batch ``(L, N, H_in)`` (``(N, L, H_in)`` with ``batch_first``),
one unbatched sequence ``(L, H_in)``, or a ``PackedSequence`` of variable-length
sequences. The math lives in ``_recurrence.py``.
"""

import math
import numbers
import warnings

from ember._errors import fmt_shape, shape_error, type_error, value_error
from ember.creation import empty, zeros
from ember.nn import init
from ember.nn.module import Module
from ember.nn.modules._recurrence import Packed, Padded, run_stack
from ember.nn.parameter import Parameter
from ember.nn.utils.rnn import PackedSequence

__all__ = ["GRU", "LSTM", "RNN", "RNNBase"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


class RNNBase(Module):
    """What ``RNN``, ``LSTM`` and ``GRU`` share: parameters, checks and the forward pass.

    Args:
        mode: "LSTM", "GRU", "RNN_TANH" or "RNN_RELU".
        input_size: features of each input step ``H_in``.
        hidden_size: features of the hidden state ``H``.
        num_layers: stacked recurrent layers; layer ``k > 0`` reads layer ``k - 1``'s output.
        bias: learn ``b_ih`` and ``b_hh``.
        batch_first: inputs and outputs are ``(N, L, *)`` instead of ``(L, N, *)``
            (hidden states stay ``(layers * directions, N, H)``).
        dropout: dropout probability on the outputs of every layer but the last, in
            training mode only.
        bidirectional: run a second pass from the end; outputs are ``[forward, reverse]``
            concatenated on the feature dim.
        proj_size: LSTM only; project ``h`` to this size with ``weight_hr_l{k}``.
        device, dtype: where and in which dtype the parameters are made (CPU only).
    """

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        _check_arguments(mode, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, proj_size)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self._flat_weights_names = []
        self._all_weights = []
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                shapes = [("weight_ih", (gate_size, layer_input)),
                          ("weight_hh", (gate_size, real_hidden))]
                if bias:
                    shapes += [("bias_ih", (gate_size,)), ("bias_hh", (gate_size,))]
                if proj_size > 0:
                    shapes += [("weight_hr", (proj_size, hidden_size))]
                suffix = "_reverse" if direction == 1 else ""
                names = [f"{kind}_l{layer}{suffix}" for kind, _ in shapes]
                for name, (_, shape) in zip(names, shapes):
                    setattr(self, name, Parameter(empty(shape, device=device, dtype=dtype)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self):
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self):
        """The parameters, one list per layer and direction."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self):
        """Does nothing: ember keeps each parameter in its own array (cuDNN needs this)."""

    def reset_parameters(self):
        """Draw every parameter from ``U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))``."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # ---- forward ---------------------------------------------------------------------

    def forward(self, input, hx=None):
        """Run every layer over the sequence.

        Args:
            input: ``(L, N, H_in)``, ``(N, L, H_in)`` if ``batch_first``, ``(L, H_in)``
                unbatched, or a PackedSequence.
            hx: initial hidden state ``(num_layers * num_directions, N, H_out)`` (LSTM: a
                pair ``(h_0, c_0)``, ``c_0`` with ``H`` features); zeros when omitted.

        Returns:
            ``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``); ``output`` has the layout
            of ``input`` with ``num_directions * H_out`` features (a PackedSequence for a
            packed input), ``h_n`` each sequence's state after its last step.
        """
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        name = self._get_name()
        if input.ndim not in (2, 3):
            raise shape_error(name, f"expected input to be 2-D (unbatched) or 3-D (batched), "
                                    f"got shape {fmt_shape(input.shape)}")
        batched = input.ndim == 3
        x = input if batched else input.unsqueeze(0 if self.batch_first else 1)
        states = self._given_states(hx, 3 if batched else 2)
        if states is not None and not batched:
            states = tuple(s.unsqueeze(1) for s in states)
        batch = x.shape[0 if self.batch_first else 1]
        self._check_input(input, x)
        if x.shape[1 if self.batch_first else 0] == 0:
            raise shape_error(name, f"expected sequence length to be larger than 0, got input "
                                    f"of shape {fmt_shape(input.shape)}")
        states = self._initial_states(states, x, batch)
        out, finals = self._run(x, Padded(1 if self.batch_first else 0), states)
        if not batched:
            out = out.squeeze(0 if self.batch_first else 1)
            finals = tuple(s.squeeze(1) for s in finals)
        return out, self._pack_states(finals)

    def _forward_packed(self, packed, hx):
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        if data.ndim != 2:
            raise shape_error(self._get_name(), f"the data of a PackedSequence input must be "
                                                f"2-D (steps, H_in), got shape "
                                                f"{fmt_shape(data.shape)}")
        sizes = [int(b) for b in batch_sizes.tolist()]
        self._check_input(data, data)
        states = self._initial_states(self._given_states(hx, 3), data, sizes[0])
        if hx is not None and sorted_indices is not None:
            states = tuple(s.index_select(1, sorted_indices) for s in states)
        out, finals = self._run(data, Packed(sizes), states)
        if unsorted_indices is not None:
            finals = tuple(s.index_select(1, unsorted_indices) for s in finals)
        return (PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices),
                self._pack_states(finals))

    def _run(self, x, layout, states):
        return run_stack(self.mode, x, layout, states, self._flat_weights, self.num_layers,
                         self.bidirectional, self.bias, self.dropout, self.training)

    def _given_states(self, hx, ndim):
        """``hx`` as a tuple of states (LSTM: ``(h, c)``), their ranks checked."""
        if hx is None:
            return None
        if self.mode == "LSTM" and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise type_error(self._get_name(), f"hx must be a pair (h_0, c_0), got "
                                               f"{type(hx).__name__}")
        states = tuple(hx) if self.mode == "LSTM" else (hx,)
        if any(s.ndim != ndim for s in states):
            shapes = ", ".join(fmt_shape(s.shape) for s in states)
            kind = "batched 3-D" if ndim == 3 else "unbatched 2-D"
            raise shape_error(self._get_name(), f"for {kind} input, the initial states should "
                                                f"be {ndim}-D too, but got shape {shapes}")
        return states

    def _state_shapes(self, batch):
        rows = self.num_layers * (2 if self.bidirectional else 1)
        shapes = [(rows, batch, self.proj_size or self.hidden_size)]
        if self.mode == "LSTM":
            shapes.append((rows, batch, self.hidden_size))
        return shapes

    def _initial_states(self, states, x, batch):
        shapes = self._state_shapes(batch)
        if states is None:
            return tuple(zeros(shape, dtype=x.dtype) for shape in shapes)
        labels = ["h_0", "c_0"] if self.mode == "LSTM" else ["hx"]
        for label, s, shape in zip(labels, states, shapes):
            if tuple(s.shape) != shape:
                raise shape_error(self._get_name(), f"{label} has shape {fmt_shape(s.shape)} "
                                                    f"but (num_layers * num_directions, batch, "
                                                    f"hidden) = {fmt_shape(shape)} was expected")
            if s.dtype != x.dtype:
                raise value_error(self._get_name(), f"{label} dtype ({s.dtype}) does not match "
                                                    f"the input dtype ({x.dtype})")
        return states

    def _check_input(self, input, x):
        name, weight = self._get_name(), self.weight_ih_l0
        if x.dtype != weight.dtype:
            raise value_error(name, f"input dtype ({x.dtype}) does not match weight dtype "
                                    f"({weight.dtype}); convert the input with "
                                    f"input.to({weight.dtype}) or the model with "
                                    f"model.to({x.dtype})")
        if x.shape[-1] != self.input_size:
            raise shape_error(name, f"input has {x.shape[-1]} features (shape "
                                    f"{fmt_shape(input.shape)}) but input_size is "
                                    f"{self.input_size}")

    def _pack_states(self, finals):
        return finals if self.mode == "LSTM" else finals[0]


def _check_arguments(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                     proj_size):
    """PyTorch's checks of the constructor arguments, with its exception types."""
    if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
            or not 0 <= dropout <= 1):
        raise ValueError("dropout should be a number in range [0, 1] representing the "
                         "probability of an element being zeroed")
    if dropout > 0 and num_layers == 1:
        warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                      "non-zero dropout expects num_layers greater than 1, but got "
                      f"dropout={dropout} and num_layers={num_layers}", stacklevel=4)
    for arg, value, kind in (("bias", bias, bool), ("batch_first", batch_first, bool),
                             ("input_size", input_size, int), ("hidden_size", hidden_size, int)):
        if not isinstance(value, kind):
            raise TypeError(f"{arg} should be of type {kind.__name__}, got: "
                            f"{type(value).__name__}")
    for arg, value in (("input_size", input_size), ("hidden_size", hidden_size),
                       ("num_layers", num_layers)):
        if value <= 0:
            raise ValueError(f"{arg} must be greater than zero")
    if proj_size < 0:
        raise ValueError("proj_size should be a positive integer or zero to disable projections")
    if proj_size >= hidden_size:
        raise ValueError("proj_size has to be smaller than hidden_size")
    if mode not in _GATES:
        raise ValueError("Unrecognized RNN mode: " + mode)


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, ``act`` tanh or
    relu, per layer and direction.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        device, dtype: as in ``RNNBase``.
        nonlinearity: ``"tanh"`` or ``"relu"`` (the fourth positional argument).

    Shape:
        input ``(L, N, H_in)`` (or see ``RNNBase.forward``), output
        ``(L, N, D * H)``, ``h_n`` ``(num_layers * D, N, H)``, ``D = 2`` if bidirectional.

    Example:
        >>> import ember
        >>> rnn = RNN(10, 20, 2)
        >>> out, h_n = rnn(ember.randn(5, 3, 10))
        >>> tuple(out.shape), tuple(h_n.shape)
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        modes = {"tanh": "RNN_TANH", "relu": "RNN_RELU"}
        if self.nonlinearity not in modes:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             "or 'relu'.")
        super().__init__(modes[self.nonlinearity], *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's gate order ``i, f, g, o``:

        i, f, o = sigmoid(.), g = tanh(.)   of   x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
        c_t = f * c_{t-1} + i * g,   h_t = o * tanh(c_t)   (then h_t W_hr^T with proj_size)

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        proj_size, device, dtype: as in ``RNNBase``.

    Shape:
        input ``(L, N, H_in)`` (or see ``RNNBase.forward``), output ``(L, N, D * H_out)``,
        ``h_n`` ``(num_layers * D, N, H_out)``, ``c_n`` ``(num_layers * D, N, H)``, with
        ``H_out = proj_size or hidden_size``.

    A padded batch without ``proj_size`` runs each layer and direction as one op
    (``LSTMSequence``, ``_lstm_seq.py``); packed batches and projections run step by
    step with the fused gate op ``LSTMGates``. Forward + backward of LSTM(64 -> 256) on
    32 sequences of 64 steps, float32, one thread: 1.27x PyTorch 2.13's CPU time
    (forward alone 1.44x), against 1.83x (1.73x) step by step; nearly all of it is
    matrix products, which PyTorch's oneDNN LSTM runs faster than OpenBLAS.

    Example:
        >>> import ember
        >>> lstm = LSTM(10, 20, 2)
        >>> out, (h_n, c_n) = lstm(ember.randn(5, 3, 10))
        >>> tuple(out.shape), tuple(h_n.shape), tuple(c_n.shape)
        ((5, 3, 20), (2, 3, 20), (2, 3, 20))
    """

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's gate order ``r, z, n``:

        r = sigmoid(x W_ir + b_ir + h W_hr + b_hr),  z = sigmoid(x W_iz + b_iz + h W_hz + b_hz)
        n = tanh(x W_in + b_in + r * (h W_hn + b_hn)),  h' = (1 - z) * n + z * h

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        device, dtype: as in ``RNNBase``.

    Shape:
        as ``RNN``.

    Example:
        >>> import ember
        >>> gru = GRU(10, 20, 2)
        >>> out, h_n = gru(ember.randn(5, 3, 10))
        >>> tuple(out.shape), tuple(h_n.shape)
        ((5, 3, 20), (2, 3, 20))
    """

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)
