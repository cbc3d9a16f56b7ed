"""RNN, LSTM and GRU against torch with copied weights: outputs, final states and the
gradients of the input, the initial states and every parameter; padded, unbatched and
packed (variable-length) batches; multi-layer, bidirectional stacks; repr and errors."""

import itertools
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.nn.modules.rnn import GRU, LSTM, RNN
from ember.nn.utils import rnn as e_rnn
from ember.testing import gradcheck, gradgradcheck
from tests.nn.layer_check import copy_from_torch

torch.set_num_threads(1)

E_CLASSES = {"RNN": RNN, "LSTM": LSTM, "GRU": GRU}
TOL = {"float64": {"rtol": 1e-10, "atol": 1e-12}, "float32": {"rtol": 2e-5, "atol": 2e-6}}
MODES = [("RNN", {"nonlinearity": "tanh"}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}),
         ("GRU", {})]
MODE_IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]
INPUT, HIDDEN, STEPS, BATCH = 3, 4, 5, 3


def make_pair(name, dtype="float64", **kwargs):
    """(ember layer, torch layer) with torch's weights copied into ember."""
    t_layer = getattr(torch.nn, name)(INPUT, HIDDEN, **kwargs).to(getattr(torch, dtype))
    e_layer = E_CLASSES[name](INPUT, HIDDEN, **kwargs).to(getattr(ember, dtype))
    assert list(e_layer.state_dict()) == list(t_layer.state_dict())
    copy_from_torch(e_layer, t_layer)
    return e_layer, t_layer


def leaf_pair(array):
    return (ember.tensor(array.copy(), requires_grad=True),
            torch.tensor(array.copy(), requires_grad=True))


def state_arrays(name, e_layer, batch, rng, dtype="float64"):
    """Random initial states (``(h0,)`` or ``(h0, c0)``) in the layer's shape."""
    rows = e_layer.num_layers * (2 if e_layer.bidirectional else 1)
    shapes = [(rows, batch, e_layer.proj_size or e_layer.hidden_size)]
    if name == "LSTM":
        shapes.append((rows, batch, e_layer.hidden_size))
    return [rng.uniform(-1, 1, s).astype(dtype) for s in shapes]


def as_hx(name, states):
    return None if states is None else (tuple(states) if name == "LSTM" else states[0])


def flat_states(name, hidden):
    return list(hidden) if name == "LSTM" else [hidden]


def assert_close(e_value, t_value, dtype, what):
    t_np, e_np = t_value.detach().numpy(), e_value.detach().numpy()
    assert e_np.shape == t_np.shape, f"{what}: shape {e_np.shape} != torch's {t_np.shape}"
    assert e_np.dtype == t_np.dtype, f"{what}: dtype {e_np.dtype} != torch's {t_np.dtype}"
    np.testing.assert_allclose(e_np, t_np, err_msg=what, **TOL[dtype])


def backward_both(e_outs, t_outs, rng):
    """Backward from ``sum(out_i * g_i)`` over every output, the same ``g_i`` in both."""
    gs = [rng.standard_normal(tuple(t.shape)).astype(t.detach().numpy().dtype) for t in t_outs]
    ember.autograd.backward(list(e_outs), [ember.tensor(g) for g in gs])
    torch.autograd.backward(list(t_outs), [torch.tensor(g) for g in gs])


def assert_param_grads(e_layer, t_layer, dtype):
    e_params = dict(e_layer.named_parameters())
    for key, t_param in t_layer.named_parameters():
        assert_close(e_params[key].grad, t_param.grad, dtype, f"gradient of {key}")


def run_padded(name, kwargs, x, states, dtype="float64", seed=0):
    """Forward and backward in both libraries; compare everything."""
    e_layer, t_layer = make_pair(name, dtype, **kwargs)
    e_x, t_x = leaf_pair(x)
    leaves = [leaf_pair(s) for s in states] if states is not None else None
    e_out, e_hidden = e_layer(e_x, as_hx(name, None if leaves is None else
                                         [e for e, _ in leaves]))
    t_out, t_hidden = t_layer(t_x, as_hx(name, None if leaves is None else
                                         [t for _, t in leaves]))
    e_all = [e_out] + flat_states(name, e_hidden)
    t_all = [t_out] + flat_states(name, t_hidden)
    for i, (e, t) in enumerate(zip(e_all, t_all)):
        assert_close(e, t, dtype, ["output", "h_n", "c_n"][i])
    backward_both(e_all, t_all, np.random.default_rng(seed))
    assert_close(e_x.grad, t_x.grad, dtype, "gradient of input")
    for i, (e, t) in enumerate(leaves or []):
        assert_close(e.grad, t.grad, dtype, f"gradient of initial state {i}")
    assert_param_grads(e_layer, t_layer, dtype)
    return e_layer, t_layer


# ---- padded batches: the full grid -------------------------------------------------------

GRID = list(itertools.product([1, 2], [False, True], [False, True], [False, True],
                              [True, False]))


@pytest.mark.parametrize("layers, bidirectional, batch_first, with_state, bias", GRID)
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_padded_matches_torch(mode, layers, bidirectional, batch_first, with_state, bias):
    name, extra = mode
    kwargs = dict(extra, num_layers=layers, bidirectional=bidirectional,
                  batch_first=batch_first, bias=bias)
    rng = np.random.default_rng(layers * 16 + bidirectional * 8 + batch_first * 4 + bias)
    shape = (BATCH, STEPS, INPUT) if batch_first else (STEPS, BATCH, INPUT)
    x = rng.uniform(-1, 1, shape)
    states = None
    if with_state:
        probe = E_CLASSES[name](INPUT, HIDDEN, **kwargs)
        states = state_arrays(name, probe, BATCH, rng)
    run_padded(name, kwargs, x, states)


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_float32_two_layer_bidirectional(mode):
    name, extra = mode
    kwargs = dict(extra, num_layers=2, bidirectional=True, batch_first=True)
    rng = np.random.default_rng(3)
    probe = E_CLASSES[name](INPUT, HIDDEN, **kwargs)
    run_padded(name, kwargs, rng.uniform(-1, 1, (BATCH, STEPS, INPUT)).astype(np.float32),
               state_arrays(name, probe, BATCH, rng, "float32"), dtype="float32")


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_unbatched_input(mode, batch_first, with_state):
    name, extra = mode
    kwargs = dict(extra, num_layers=2, bidirectional=True, batch_first=batch_first)
    rng = np.random.default_rng(5)
    states = None
    if with_state:
        probe = E_CLASSES[name](INPUT, HIDDEN, **kwargs)
        states = [s[:, 0] for s in state_arrays(name, probe, 1, rng)]
    run_padded(name, kwargs, rng.uniform(-1, 1, (STEPS, INPUT)), states)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_lstm_proj_size(with_state, bidirectional):
    kwargs = {"num_layers": 2, "proj_size": 2, "bidirectional": bidirectional}
    rng = np.random.default_rng(7)
    states = None
    if with_state:
        states = state_arrays("LSTM", LSTM(INPUT, HIDDEN, **kwargs), BATCH, rng)
    e_layer, t_layer = run_padded("LSTM", kwargs, rng.uniform(-1, 1, (STEPS, BATCH, INPUT)),
                                  states)
    assert repr(e_layer) == repr(t_layer)


@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_dropout_in_eval_mode_equals_torch(mode):
    name, extra = mode
    kwargs = dict(extra, num_layers=3, dropout=0.5)
    e_layer, t_layer = make_pair(name, **kwargs)
    e_layer.eval()
    t_layer.eval()
    x = np.random.default_rng(9).uniform(-1, 1, (STEPS, BATCH, INPUT))
    e_out, _ = e_layer(ember.tensor(x))
    t_out, _ = t_layer(torch.tensor(x))
    assert_close(e_out, t_out, "float64", "output in eval mode")


def test_dropout_in_training_mode_drops_between_layers_only():
    layer = LSTM(INPUT, HIDDEN, num_layers=2, dropout=0.5).double()
    x = ember.tensor(np.random.default_rng(10).uniform(-1, 1, (STEPS, BATCH, INPUT)))
    ember.manual_seed(0)
    train_a, _ = layer(x)
    ember.manual_seed(1)
    train_b, _ = layer(x)
    layer.eval()
    eval_out, _ = layer(x)
    assert not np.allclose(train_a.detach().numpy(), train_b.detach().numpy())
    assert not np.allclose(train_a.detach().numpy(), eval_out.detach().numpy())
    single = LSTM(INPUT, HIDDEN, num_layers=1).double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        single_dropout = LSTM(INPUT, HIDDEN, num_layers=1, dropout=0.5).double()
    single_dropout.load_state_dict(single.state_dict())
    # One layer: nothing comes after the last layer, so dropout changes nothing.
    np.testing.assert_array_equal(single(x)[0].detach().numpy(),
                                  single_dropout(x)[0].detach().numpy())


# ---- packed batches ------------------------------------------------------------------

PACKED_CASES = [([5, 5, 3, 1], True), ([2, 5, 1, 4], False), ([1, 3, 5, 5], False)]


def packed_pair(x, lengths, enforce_sorted):
    e_x, t_x = leaf_pair(x)
    e_packed = e_rnn.pack_padded_sequence(e_x, lengths, enforce_sorted=enforce_sorted)
    t_packed = torch.nn.utils.rnn.pack_padded_sequence(t_x, lengths,
                                                       enforce_sorted=enforce_sorted)
    return (e_x, e_packed), (t_x, t_packed)


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (1, True), (2, True)])
@pytest.mark.parametrize("lengths, enforce_sorted", PACKED_CASES)
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_packed_matches_torch(mode, lengths, enforce_sorted, layers, bidirectional,
                              with_state):
    name, extra = mode
    kwargs = dict(extra, num_layers=layers, bidirectional=bidirectional)
    e_layer, t_layer = make_pair(name, **kwargs)
    rng = np.random.default_rng(sum(lengths) + layers)
    batch = len(lengths)
    (e_x, e_packed), (t_x, t_packed) = packed_pair(
        rng.uniform(-1, 1, (max(lengths), batch, INPUT)), lengths, enforce_sorted)
    leaves = [leaf_pair(s) for s in state_arrays(name, e_layer, batch, rng)] \
        if with_state else None
    e_out, e_hidden = e_layer(e_packed, as_hx(name, leaves and [e for e, _ in leaves]))
    t_out, t_hidden = t_layer(t_packed, as_hx(name, leaves and [t for _, t in leaves]))
    assert isinstance(e_out, e_rnn.PackedSequence)
    assert e_out.batch_sizes.tolist() == t_out.batch_sizes.tolist()
    for e_idx, t_idx in ((e_out.sorted_indices, t_out.sorted_indices),
                         (e_out.unsorted_indices, t_out.unsorted_indices)):
        assert (e_idx is None) == (t_idx is None)
        assert e_idx is None or e_idx.tolist() == t_idx.tolist()
    assert_close(e_out.data, t_out.data, "float64", "packed output data")
    e_pad, e_lens = e_rnn.pad_packed_sequence(e_out, batch_first=True, padding_value=-2.0)
    t_pad, t_lens = torch.nn.utils.rnn.pad_packed_sequence(t_out, batch_first=True,
                                                           padding_value=-2.0)
    assert e_lens.tolist() == t_lens.tolist()
    assert_close(e_pad, t_pad, "float64", "padded output")
    e_all = [e_pad] + flat_states(name, e_hidden)
    t_all = [t_pad] + flat_states(name, t_hidden)
    for e, t in zip(e_all[1:], t_all[1:]):
        assert_close(e, t, "float64", "final state")
    backward_both(e_all, t_all, rng)
    assert_close(e_x.grad, t_x.grad, "float64", "gradient of the padded input")
    for e, t in leaves or []:
        assert_close(e.grad, t.grad, "float64", "gradient of an initial state")
    assert_param_grads(e_layer, t_layer, "float64")


def test_packed_lstm_with_projection():
    e_layer, t_layer = make_pair("LSTM", num_layers=2, bidirectional=True, proj_size=2)
    rng = np.random.default_rng(16)
    (e_x, e_in), (t_x, t_in) = packed_pair(rng.uniform(-1, 1, (4, 3, INPUT)), [2, 4, 1],
                                           enforce_sorted=False)
    (e_out, (e_h, e_c)), (t_out, (t_h, t_c)) = e_layer(e_in), t_layer(t_in)
    for e, t, what in ((e_out.data, t_out.data, "output"), (e_h, t_h, "h_n"), (e_c, t_c, "c_n")):
        assert_close(e, t, "float64", what)
    backward_both([e_out.data, e_h, e_c], [t_out.data, t_h, t_c], rng)
    assert_close(e_x.grad, t_x.grad, "float64", "gradient of input")
    assert_param_grads(e_layer, t_layer, "float64")


def test_packed_batch_of_equal_lengths_and_batch_first():
    e_layer, t_layer = make_pair("GRU", batch_first=True, bidirectional=True)
    x = np.random.default_rng(11).uniform(-1, 1, (BATCH, STEPS, INPUT))
    e_in = e_rnn.pack_padded_sequence(ember.tensor(x), [STEPS] * BATCH, batch_first=True)
    t_in = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), [STEPS] * BATCH,
                                                   batch_first=True)
    (e_out, e_h), (t_out, t_h) = e_layer(e_in), t_layer(t_in)
    assert_close(e_out.data, t_out.data, "float64", "output")
    assert_close(e_h, t_h, "float64", "h_n")


# ---- numerical gradients ---------------------------------------------------------------

@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_gradcheck_tiny_layer(name, bidirectional):
    layer = E_CLASSES[name](2, 2, bidirectional=bidirectional).double()
    rng = np.random.default_rng(12)
    x = ember.tensor(rng.uniform(-1, 1, (3, 1, 2)), requires_grad=True)
    states = [ember.tensor(s, requires_grad=True)
              for s in state_arrays(name, layer, 1, rng)]

    def run(x, *rest):
        out, hidden = layer(x, as_hx(name, list(rest[:len(states)])))
        return (out, *flat_states(name, hidden))

    # The full Jacobian one way; random projections for the larger bidirectional layer,
    # whose second derivatives test_gradient_penalty_matches_torch compares with torch's.
    inputs = (x, *states, *layer.parameters())
    assert gradcheck(run, inputs, fast_mode=bidirectional)
    if not bidirectional:
        assert gradgradcheck(run, inputs, fast_mode=True)


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
def test_gradient_penalty_matches_torch(mode, packed):
    """create_graph=True gradients and the second-order gradients they lead to."""
    name, extra = mode
    e_layer, t_layer = make_pair(name, bidirectional=True, **extra)
    x = np.random.default_rng(15).uniform(-1, 1, (4, 3, INPUT))
    results = []
    for lib, layer in ((ember, e_layer), (torch, t_layer)):
        xt = lib.tensor(x.copy(), requires_grad=True)
        inp = lib.nn.utils.rnn.pack_padded_sequence(xt, [3, 4, 1], enforce_sorted=False) \
            if packed else xt
        out, hidden = layer(inp)
        out = out.data if packed else out
        total = (out * out).sum() + sum((s ** 3).sum() for s in flat_states(name, hidden))
        (gx,) = lib.autograd.grad(total, xt, create_graph=True)
        penalty = (gx * gx).sum()
        penalty.backward()
        results.append([gx] + [p.grad for p in layer.parameters()])
    for i, (e, t) in enumerate(zip(*results)):
        assert_close(e, t, "float64", "first-order gradient" if i == 0 else f"param {i}")


def test_gradgradcheck_packed_lstm():
    layer = LSTM(2, 2).double()
    x = ember.tensor(np.random.default_rng(13).uniform(-1, 1, (3, 2, 2)), requires_grad=True)

    def run(x, *params):
        out, (h, c) = layer(e_rnn.pack_padded_sequence(x, [3, 1]))
        return out.data, h, c

    assert gradcheck(run, (x, *layer.parameters()))
    assert gradgradcheck(run, (x, *layer.parameters()), fast_mode=True)


# ---- construction, repr, errors ---------------------------------------------------------

REPR_CASES = [("RNN", {}), ("RNN", {"nonlinearity": "relu", "num_layers": 2}),
              ("LSTM", {"bias": False, "batch_first": True}),
              ("LSTM", {"proj_size": 2, "num_layers": 2, "dropout": 0.25}),
              ("GRU", {"bidirectional": True, "num_layers": 3, "dropout": 0.5})]


@pytest.mark.parametrize("name, kwargs", REPR_CASES)
def test_repr_names_shapes_and_attributes_match_torch(name, kwargs):
    e_layer = E_CLASSES[name](INPUT, HIDDEN, **kwargs)
    t_layer = getattr(torch.nn, name)(INPUT, HIDDEN, **kwargs)
    assert repr(e_layer) == repr(t_layer)
    assert [(k, tuple(v.shape)) for k, v in e_layer.named_parameters()] == \
           [(k, tuple(v.shape)) for k, v in t_layer.named_parameters()]
    assert e_layer._flat_weights_names == t_layer._flat_weights_names
    assert [[tuple(p.shape) for p in ws] for ws in e_layer.all_weights] == \
           [[tuple(p.shape) for p in ws] for ws in t_layer.all_weights]
    for attr in ("mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
                 "dropout", "bidirectional", "proj_size"):
        assert getattr(e_layer, attr) == getattr(t_layer, attr), attr
    e_layer.flatten_parameters()


def test_positional_nonlinearity_and_init_bounds():
    layer = RNN(INPUT, 100, 2, "relu")
    assert layer.nonlinearity == "relu" and layer.mode == "RNN_RELU"
    bound = 1 / np.sqrt(100)
    for p in layer.parameters():
        values = p.detach().numpy()
        assert values.min() >= -bound and values.max() <= bound
        assert values.max() - values.min() > bound  # spread over the interval


@pytest.mark.parametrize("call", [
    lambda m: m(3, 4, dropout=1.5), lambda m: m(3, 4, dropout=True),
    lambda m: m(3, 0), lambda m: m(0, 4), lambda m: m(3, 4, num_layers=0),
    lambda m: m(3.0, 4), lambda m: m(3, 4, bias=1), lambda m: m(3, 4, batch_first=None),
])
def test_constructor_errors_match_torch_types(call):
    for e_cls, t_cls in ((LSTM, torch.nn.LSTM), (GRU, torch.nn.GRU)):
        with pytest.raises(Exception) as t_err:
            call(t_cls)
        with pytest.raises(t_err.type):
            call(e_cls)


def test_constructor_errors_specific_to_a_mode():
    for call in (lambda m: m.RNN(3, 4, nonlinearity="gelu"), lambda m: m.GRU(3, 4, proj_size=2),
                 lambda m: m.RNN(3, 4, proj_size=2), lambda m: m.LSTM(3, 4, proj_size=4),
                 lambda m: m.LSTM(3, 4, proj_size=-1)):
        with pytest.raises(ValueError):
            call(torch.nn)
        with pytest.raises(ValueError):
            call(ember.nn)
    with pytest.warns(UserWarning, match="dropout"):
        LSTM(3, 4, dropout=0.2)


def test_input_errors_name_the_layer_and_the_shapes():
    layer = LSTM(64, 8)
    with pytest.raises(RuntimeError, match=r"LSTM: input has 32 features \(shape \(4, 7, 32\)\) "
                                           r"but input_size is 64"):
        layer(ember.zeros(4, 7, 32))
    with pytest.raises(ValueError, match="LSTM: expected input to be 2-D"):
        layer(ember.zeros(4, 7, 2, 64))
    with pytest.raises(ValueError, match="dtype"):
        layer(ember.zeros(4, 7, 64, dtype=ember.float64))
    with pytest.raises(RuntimeError, match=r"h_0 has shape \(1, 3, 8\) .* \(1, 7, 8\)"):
        layer(ember.zeros(4, 7, 64), (ember.zeros(1, 3, 8), ember.zeros(1, 7, 8)))
    with pytest.raises(RuntimeError, match=r"c_0 has shape \(1, 7, 5\)"):
        layer(ember.zeros(4, 7, 64), (ember.zeros(1, 7, 8), ember.zeros(1, 7, 5)))
    with pytest.raises(RuntimeError, match="3-D"):
        layer(ember.zeros(4, 7, 64), (ember.zeros(7, 8), ember.zeros(7, 8)))
    with pytest.raises(TypeError, match=r"LSTM: hx must be a pair \(h_0, c_0\)"):
        layer(ember.zeros(4, 7, 64), ember.zeros(1, 7, 8))
    with pytest.raises(RuntimeError, match="sequence length to be larger than 0"):
        layer(ember.zeros(0, 7, 64))
    with pytest.raises(RuntimeError, match="sequence length to be larger than 0"):
        torch.nn.LSTM(64, 8)(torch.zeros(0, 7, 64))
    with pytest.raises(ValueError, match=r"c_0 dtype \(ember.float64\)"):
        layer(ember.zeros(4, 7, 64), (ember.zeros(1, 7, 8), ember.zeros(1, 7, 8).double()))
    gru = GRU(2, 3, num_layers=2)
    with pytest.raises(RuntimeError, match=r"GRU: hx has shape \(1, 5, 3\)"):
        gru(ember.zeros(4, 5, 2), ember.zeros(1, 5, 3))
    with pytest.raises(RuntimeError, match="2-D"):
        gru(ember.zeros(4, 2), ember.zeros(2, 1, 3))
    # Each failing call also fails in torch.
    t_gru = torch.nn.GRU(2, 3, num_layers=2)
    with pytest.raises(RuntimeError):
        t_gru(torch.zeros(4, 5, 2), torch.zeros(1, 5, 3))
    with pytest.raises(RuntimeError):
        torch.nn.LSTM(64, 8)(torch.zeros(4, 7, 32))


def test_state_dict_moves_between_ember_and_torch_both_ways():
    e_layer = LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True).double()
    t_layer = torch.nn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True).double()
    t_layer.load_state_dict({k: torch.tensor(v.numpy()) for k, v in e_layer.state_dict().items()})
    x = np.random.default_rng(14).uniform(-1, 1, (STEPS, BATCH, INPUT))
    assert_close(e_layer(ember.tensor(x))[0], t_layer(torch.tensor(x))[0], "float64", "output")


def test_module_to_dtype_keeps_running():
    layer = GRU(INPUT, HIDDEN).double()
    assert layer.weight_ih_l0.dtype == ember.float64
    out, h = layer(ember.zeros(2, 1, INPUT, dtype=ember.float64))
    assert out.dtype == ember.float64 and h.dtype == ember.float64
