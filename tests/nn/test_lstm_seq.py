"""The whole-sequence LSTM op (``ember/nn/modules/_lstm_seq.py``) that padded LSTM layers
run, against torch with copied weights: outputs, final states and every gradient, with
compiled kernels on and off, float32 and float64, both layouts and directions."""

import numpy as np
import pytest
import torch

import ember
from ember.nn.modules._lstm_seq import LSTMSequence
from tests.nn.layer_check import copy_from_torch

torch.set_num_threads(1)

TOL = {"float64": {"rtol": 1e-10, "atol": 1e-12}, "float32": {"rtol": 5e-5, "atol": 5e-6}}
INPUT, HIDDEN, STEPS, BATCH = 6, 16, 7, 5


def make_pair(dtype, **kwargs):
    t_layer = torch.nn.LSTM(INPUT, HIDDEN, **kwargs).to(getattr(torch, dtype))
    e_layer = ember.nn.LSTM(INPUT, HIDDEN, **kwargs).to(getattr(ember, dtype))
    copy_from_torch(e_layer, t_layer)
    return e_layer, t_layer


def assert_close(e_value, t_value, dtype, what, loose=False):
    e_np, t_np = e_value.detach().numpy(), t_value.detach().numpy()
    assert e_np.shape == t_np.shape and e_np.dtype == t_np.dtype, what
    assert np.isfinite(e_np).all(), what
    tol = TOL[dtype]
    if loose:
        # Gates this steep amplify float32 rounding: torch's own float32 gradients differ
        # from its float64 ones by about 5e-5 of their largest value here.
        tol = {"rtol": 1e-3, "atol": 2e-4 * max(np.abs(t_np).max(), 1)}
    np.testing.assert_allclose(e_np, t_np, err_msg=what, **tol)


def leaves(array):
    return (ember.tensor(array.copy(), requires_grad=True),
            torch.tensor(array.copy(), requires_grad=True))


def run_both(e_layer, t_layer, x, states, dtype, used=(0, 1, 2), loose=False):
    """Forward and backward through the outputs in ``used`` (0 out, 1 h_n, 2 c_n) in both
    libraries; compare the outputs and the gradients of x, the states and the weights."""
    (e_x, t_x), pairs = leaves(x), [leaves(s) for s in states] if states else None
    e_out, (e_h, e_c) = e_layer(e_x, None if pairs is None else tuple(e for e, _ in pairs))
    t_out, (t_h, t_c) = t_layer(t_x, None if pairs is None else tuple(t for _, t in pairs))
    for e, t, what in ((e_out, t_out, "output"), (e_h, t_h, "h_n"), (e_c, t_c, "c_n")):
        assert_close(e, t, dtype, what, loose)
    rng = np.random.default_rng(0)
    e_roots, t_roots, grads = [], [], []
    for k in used:
        t_root = (t_out, t_h, t_c)[k]
        grads.append(rng.standard_normal(tuple(t_root.shape)).astype(dtype))
        e_roots.append((e_out, e_h, e_c)[k])
        t_roots.append(t_root)
    ember.autograd.backward(e_roots, [ember.tensor(g) for g in grads])
    torch.autograd.backward(t_roots, [torch.tensor(g) for g in grads])
    assert_close(e_x.grad, t_x.grad, dtype, "gradient of input", loose)
    for i, (e, t) in enumerate(pairs or []):
        assert_close(e.grad, t.grad, dtype, f"gradient of initial state {i}", loose)
    e_params = dict(e_layer.named_parameters())
    for key, t_param in t_layer.named_parameters():
        assert_close(e_params[key].grad, t_param.grad, dtype, f"gradient of {key}", loose)


def state_arrays(layer, rng, dtype, scale=1.0):
    rows = layer.num_layers * (2 if layer.bidirectional else 1)
    return [(rng.uniform(-1, 1, (rows, BATCH, HIDDEN)) * scale).astype(dtype)
            for _ in range(2)]


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_torch(kernels, dtype, batch_first, bidirectional, bias, with_state):
    e_layer, t_layer = make_pair(dtype, batch_first=batch_first, bidirectional=bidirectional,
                                 bias=bias)
    rng = np.random.default_rng(batch_first * 8 + bidirectional * 4 + bias * 2 + with_state)
    shape = (BATCH, STEPS, INPUT) if batch_first else (STEPS, BATCH, INPUT)
    states = state_arrays(e_layer, rng, dtype) if with_state else None
    run_both(e_layer, t_layer, rng.uniform(-1, 1, shape).astype(dtype), states, dtype)


@pytest.mark.parametrize("used", [(0,), (1,), (2,), (1, 2)], ids=["out", "h_n", "c_n", "hc"])
def test_gradient_through_some_outputs_only(kernels, used):
    e_layer, t_layer = make_pair("float64", num_layers=2)
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (STEPS, BATCH, INPUT))
    run_both(e_layer, t_layer, x, state_arrays(e_layer, rng, "float64"), "float64", used)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_saturated_gates_match_torch(kernels, dtype):
    """Pre-activations far beyond exp's float32 range: sigmoid/tanh give exact 0/1/-1."""
    e_layer, t_layer = make_pair(dtype, batch_first=True)
    with torch.no_grad():
        for p in t_layer.parameters():
            p.mul_(60)
    copy_from_torch(e_layer, t_layer)
    rng = np.random.default_rng(4)
    x = rng.uniform(-3, 3, (BATCH, STEPS, INPUT)).astype(dtype)
    run_both(e_layer, t_layer, x, state_arrays(e_layer, rng, dtype, scale=50), dtype,
             loose=dtype == "float32")


def test_large_layer_float32_matches_torch(kernels):
    """The benchmark's sizes (hidden 256), where the compiled loops run vectorized."""
    t_layer = torch.nn.LSTM(64, 256, batch_first=True)
    e_layer = ember.nn.LSTM(64, 256, batch_first=True)
    copy_from_torch(e_layer, t_layer)
    x = np.random.default_rng(5).standard_normal((8, 12, 64)).astype(np.float32)
    run_both(e_layer, t_layer, x, None, "float32")


@pytest.mark.parametrize("hidden", [1, 5, 37])
def test_hidden_sizes_off_the_vector_width(kernels, hidden):
    """4H not a multiple of 16: the compiled loops' blocks end short."""
    t_layer = torch.nn.LSTM(INPUT, hidden, batch_first=True)
    e_layer = ember.nn.LSTM(INPUT, hidden, batch_first=True)
    copy_from_torch(e_layer, t_layer)
    x = np.random.default_rng(hidden).uniform(-1, 1, (BATCH, STEPS, INPUT)).astype(np.float32)
    run_both(e_layer, t_layer, x, None, "float32")


@pytest.mark.parametrize("batch_first", [False, True])
def test_empty_batch_matches_torch(kernels, batch_first):
    results = []
    for lib in (ember, torch):
        layer = lib.nn.LSTM(INPUT, HIDDEN, batch_first=batch_first, bidirectional=True)
        x = lib.zeros(*((0, STEPS, INPUT) if batch_first else (STEPS, 0, INPUT)),
                      requires_grad=True)
        out, (h, c) = layer(x)
        (out.sum() + h.sum() + c.sum()).backward()
        results.append([tuple(t.shape) for t in (out, h, c, x.grad, layer.weight_hh_l0.grad)])
        assert not layer.weight_hh_l0.grad.numpy().any()
    assert results[0] == results[1]


def test_nan_and_inf_inputs_propagate_like_torch(kernels):
    e_layer, t_layer = make_pair("float32")
    x = np.random.default_rng(9).uniform(-1, 1, (STEPS, BATCH, INPUT)).astype(np.float32)
    x[2, 0, 1], x[0, 1, 0], x[4, 3, 2] = np.nan, np.inf, -np.inf
    e_out, (e_h, e_c) = e_layer(ember.tensor(x))
    t_out, (t_h, t_c) = t_layer(torch.tensor(x))
    for e, t in ((e_out, t_out), (e_h, t_h), (e_c, t_c)):
        e_np, t_np = e.detach().numpy(), t.detach().numpy()
        np.testing.assert_array_equal(np.isnan(e_np), np.isnan(t_np))
        np.testing.assert_allclose(e_np, t_np, **TOL["float32"])  # equal_nan by default


def test_no_grad_forward_records_nothing_and_matches(kernels):
    e_layer, t_layer = make_pair("float32")
    x = np.random.default_rng(6).uniform(-1, 1, (STEPS, BATCH, INPUT)).astype(np.float32)
    with ember.no_grad():
        e_out, (e_h, e_c) = e_layer(ember.tensor(x))
    with torch.no_grad():
        t_out, (t_h, t_c) = t_layer(torch.tensor(x))
    assert e_out.grad_fn is None and not e_out.requires_grad
    for e, t in ((e_out, t_out), (e_h, t_h), (e_c, t_c)):
        assert_close(e, t, "float32", "no-grad forward")


def test_padded_lstm_runs_as_one_node():
    layer = ember.nn.LSTM(INPUT, HIDDEN)
    out, (h, c) = layer(ember.randn(STEPS, BATCH, INPUT))
    assert isinstance(out.grad_fn, LSTMSequence)
    for state in (h, c):  # stacked over layers and directions: one of them here
        assert state.grad_fn.next_functions[0][0] is out.grad_fn


@pytest.mark.parametrize("batch_first", [False, True])
def test_outputs_own_their_memory(batch_first):
    """Changing an output in place changes nothing backward reads."""
    layer = ember.nn.LSTM(INPUT, HIDDEN, batch_first=batch_first).double()
    x = ember.tensor(np.random.default_rng(8).uniform(-1, 1, (STEPS, BATCH, INPUT)),
                     requires_grad=True)
    grads = []
    for in_place in (False, True):
        out, (h, c) = layer(x)
        if in_place:
            out.mul_(2)
            h.add_(1)
        else:
            out, h = out * 2, h + 1
        ((out * out).sum() + (h * c).sum()).backward()
        grads.append([x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in layer.parameters()])
        x.grad = None
        layer.zero_grad()
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch_first", [False, True])
def test_second_order_gradients_match_torch(batch_first):
    """create_graph=True differentiates the step-by-step graph (with h0, c0 and biases)."""
    e_layer, t_layer = make_pair("float64", batch_first=batch_first, bidirectional=True)
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (BATCH, 4, INPUT) if batch_first else (4, BATCH, INPUT))
    states = state_arrays(e_layer, rng, "float64")
    results = []
    for lib, layer in ((ember, e_layer), (torch, t_layer)):
        xt = lib.tensor(x.copy(), requires_grad=True)
        hx = tuple(lib.tensor(s.copy(), requires_grad=True) for s in states)
        out, (h, c) = layer(xt, hx)
        total = (out * out).sum() + (h ** 3).sum() + (c * h).sum()
        grads = lib.autograd.grad(total, (xt, *hx), create_graph=True)
        penalty = sum((g * g).sum() for g in grads)
        penalty.backward()
        results.append(list(grads) + [xt.grad, *(s.grad for s in hx)]
                       + [p.grad for p in layer.parameters()])
    for i, (e, t) in enumerate(zip(*results)):
        assert_close(e, t, "float64", f"result {i}")


@pytest.fixture
def split_rows(split_everything, monkeypatch):
    """Two BLAS threads and no size thresholds: the time loops run as two halves of the
    batch, one per thread, and the large products as pieces of their rows. Returns the
    list of piece counts the time loops were run in."""
    from ember.nn.modules import _lstm_seq

    split_everything(_lstm_seq, "_SPLIT_STEP_WORK", "_SPLIT_PRODUCT_WORK", record=False)
    counts = []
    real_over_rows = _lstm_seq._over_rows

    def spy(fn, rows, count):
        counts.append(count)
        return real_over_rows(fn, rows, count)

    monkeypatch.setattr(_lstm_seq, "_over_rows", spy)
    return counts


@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_batch_split_over_threads_matches_torch(kernels, split_rows, batch_first,
                                                bidirectional, with_state):
    """Each thread runs the time loops for its own rows of the batch (5 rows: 2 and 3)."""
    e_layer, t_layer = make_pair("float32", batch_first=batch_first,
                                 bidirectional=bidirectional)
    rng = np.random.default_rng(11)
    x = rng.uniform(-1, 1, (BATCH, STEPS, INPUT) if batch_first else (STEPS, BATCH, INPUT))
    states = state_arrays(e_layer, rng, "float32") if with_state else None
    run_both(e_layer, t_layer, x.astype(np.float32), states, "float32")
    # Forward and backward of each direction ran split.
    assert split_rows == [2] * (4 if bidirectional else 2)


def test_batch_of_one_is_not_split(split_rows):
    e_layer, t_layer = make_pair("float32")
    x = np.random.default_rng(12).uniform(-1, 1, (STEPS, 1, INPUT)).astype(np.float32)
    run_both(e_layer, t_layer, x, None, "float32")
    assert split_rows == [1, 1]


# ---- LSTMSequenceFromTable: the input projections as rows of a table ----------------------

VOCAB = 9


def _table_case(dtype, batch_first, seed):
    """Torch's embedding and LSTM weights, the index, the states and output gradients."""
    rng = np.random.default_rng(seed)
    t_emb = torch.nn.Embedding(VOCAB, INPUT).to(getattr(torch, dtype))
    t_lstm = torch.nn.LSTM(INPUT, HIDDEN, batch_first=batch_first).to(getattr(torch, dtype))
    index = rng.integers(0, VOCAB, (BATCH, STEPS) if batch_first else (STEPS, BATCH))
    states = [rng.uniform(-1, 1, (BATCH, HIDDEN)).astype(dtype) for _ in range(2)]
    grads = [rng.standard_normal(s).astype(dtype)
             for s in ((*index.shape, HIDDEN), (BATCH, HIDDEN), (BATCH, HIDDEN))]
    return t_emb, t_lstm, index, states, grads


def _table_run(t_emb, t_lstm, index, states, reverse, from_table):
    """ember's outputs and gradients of (E, w_ih, w_hh, h0, c0, b_ih, b_hh), through
    ``LSTMSequenceFromTable`` of ``Linear(E, w_ih)`` or ``LSTMSequence`` of the lookup."""
    from ember.nn.modules._lstm_seq import LSTMSequenceFromTable
    from ember.ops.linalg import Linear

    weights = [t_emb.weight] + [getattr(t_lstm, f"{k}_l0") for k in
                                ("weight_ih", "weight_hh")]
    leaves = [ember.tensor(w.detach().numpy().copy(), requires_grad=True) for w in weights]
    leaves += [ember.tensor(s.copy(), requires_grad=True) for s in states]
    leaves += [ember.tensor(getattr(t_lstm, f"bias_{k}_l0").detach().numpy().copy(),
                            requires_grad=True) for k in ("ih", "hh")]
    e, w_ih, w_hh, h0, c0, b_ih, b_hh = leaves
    idx = ember.tensor(index)
    params = {"batch_first": t_lstm.batch_first, "reverse": reverse}
    if from_table:
        outs = LSTMSequenceFromTable.apply(idx, Linear.apply(e, w_ih), w_hh, h0, c0, b_ih,
                                           b_hh, **params)
    else:
        x = ember.nn.functional.embedding(idx, e)
        outs = LSTMSequence.apply(x, w_ih, w_hh, h0, c0, b_ih, b_hh, **params)
    return outs, leaves


def _torch_run(t_emb, t_lstm, index, states):
    h0, c0 = (torch.tensor(s.copy()[None], requires_grad=True) for s in states)
    out, (h, c) = t_lstm(t_emb(torch.tensor(index)), (h0, c0))
    grads = [t_emb.weight, t_lstm.weight_ih_l0, t_lstm.weight_hh_l0, h0, c0,
             t_lstm.bias_ih_l0, t_lstm.bias_hh_l0]
    return (out, h[0], c[0]), grads


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_from_table_matches_torch_embedding_and_lstm(kernels, dtype, batch_first):
    t_emb, t_lstm, index, states, grads = _table_case(dtype, batch_first, 21)
    outs, leaves = _table_run(t_emb, t_lstm, index, states, False, from_table=True)
    t_outs, t_leaves = _torch_run(t_emb, t_lstm, index, states)
    for e, t, what in zip(outs, t_outs, ("output", "h_n", "c_n")):
        assert_close(e, t, dtype, what)
    ember.autograd.backward(list(outs), [ember.tensor(g) for g in grads])
    torch.autograd.backward(list(t_outs), [torch.tensor(g) for g in grads])
    for i, (e, t) in enumerate(zip(leaves, t_leaves)):
        assert_close(e.grad, t.grad[0] if t.grad.ndim == 3 else t.grad, dtype, f"gradient {i}")


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_from_table_equals_lstm_of_the_lookup(kernels, batch_first, reverse):
    """Reversed too (torch's LSTM has no one-direction reverse to compare with)."""
    _assert_table_equals_lookup("float64", batch_first, reverse, seed=22)


def _assert_table_equals_lookup(dtype, batch_first, reverse, seed):
    """``LSTMSequenceFromTable`` and an LSTM of the embedding lookup: equal outputs and
    gradients of every leaf."""
    t_emb, t_lstm, index, states, grads = _table_case(dtype, batch_first, seed)
    results = []
    for from_table in (True, False):
        outs, leaves = _table_run(t_emb, t_lstm, index, states, reverse, from_table)
        ember.autograd.backward(list(outs), [ember.tensor(g) for g in grads])
        results.append(list(outs) + [t.grad for t in leaves])
    for i, (a, b) in enumerate(zip(*results)):
        assert_close(a, b, dtype, f"result {i}")


def test_from_table_split_over_threads_equals_lstm_of_the_lookup(kernels, split_rows):
    _assert_table_equals_lookup("float32", True, False, seed=23)
    assert split_rows == [2] * 4


def test_from_table_second_order_gradients_equal_lstm_of_the_lookup():
    t_emb, t_lstm, index, states, _ = _table_case("float64", True, 24)
    results = []
    for from_table in (True, False):
        (out, h, c), leaves = _table_run(t_emb, t_lstm, index, states, False, from_table)
        total = (out * out).sum() + (h ** 3).sum() + (c * h).sum()
        grads = ember.autograd.grad(total, leaves, create_graph=True)
        sum((g * g).sum() for g in grads).backward()
        results.append(list(grads) + [t.grad for t in leaves])
    for i, (a, b) in enumerate(zip(*results)):
        assert_close(a, b, "float64", f"result {i}")


@pytest.mark.parametrize("bad", [-1, VOCAB])
def test_from_table_index_out_of_range_is_refused(bad):
    from ember.nn.modules._lstm_seq import LSTMSequenceFromTable

    index = np.zeros((STEPS, BATCH), np.int64)
    index[3, 1] = bad
    table, w_hh = ember.zeros(VOCAB, 4 * HIDDEN), ember.zeros(4 * HIDDEN, HIDDEN)
    state = ember.zeros(BATCH, HIDDEN)
    with pytest.raises(IndexError, match=f"index {bad} is out of range for a table of 9 rows"):
        LSTMSequenceFromTable.apply(ember.tensor(index), table, w_hh, state, state,
                                    batch_first=False, reverse=False)


# ---- the time loops as one compiled call each (ember/backend/rnn_kernels.py) -------------

@pytest.mark.parametrize("split", [False, True])
@pytest.mark.parametrize("from_table", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_whole_loops_equal_the_python_loops(monkeypatch, request, reverse, from_table, split):
    """float32 with compiled kernels runs each time loop as one compiled call; it gives
    what the step-by-step Python loop gives (outputs, every leaf's gradient, h0's too)."""
    pytest.importorskip("numba")
    from ember.backend import rnn_kernels
    from ember.nn.modules import _lstm_seq

    if not rnn_kernels.lstm_loops_available(np.dtype(np.float32)):
        pytest.skip("no OpenBLAS found: the whole loops cannot call it")
    if split:
        request.getfixturevalue("split_rows")
    t_emb, t_lstm, index, states, grads = _table_case("float32", True, 25)
    calls, results = [], []
    for name in ("lstm_forward_loop", "lstm_backward_loop"):
        real = getattr(_lstm_seq, name)
        monkeypatch.setattr(_lstm_seq, name,
                            lambda *a, real=real, name=name: (calls.append(name), real(*a)))
    for whole in (True, False):
        if not whole:
            monkeypatch.setattr(_lstm_seq, "_whole_loops", lambda acts: False)
        outs, leaves = _table_run(t_emb, t_lstm, index, states, reverse, from_table)
        ember.autograd.backward(list(outs), [ember.tensor(g) for g in grads])
        results.append(list(outs) + [t.grad for t in leaves])
    pieces = 2 if split else 1
    assert calls == ["lstm_forward_loop"] * pieces + ["lstm_backward_loop"] * pieces
    for i, (a, b) in enumerate(zip(*results)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=2e-6,
                                   atol=2e-7, err_msg=f"result {i}")
