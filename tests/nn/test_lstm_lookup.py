"""An LSTM layer whose input is an embedding lookup projects each distinct row once
(``lookup_of`` and ``distinct_rows`` in ``ember/nn/modules/_lstm_tables.py``): the same
outputs and gradients as torch, the lookup's own gradient and hooks untouched, and the
plain path wherever the rows may no longer be the lookup's."""

import numpy as np
import pytest
import torch

import ember
from ember.nn.modules import _lstm_seq
from ember.nn.modules._lstm_seq import LSTMSequence
from tests.nn.layer_check import copy_from_torch
from tests.nn.test_lstm_seq import assert_close

torch.set_num_threads(1)

VOCAB, INPUT, HIDDEN, STEPS, BATCH = 11, 6, 16, 9, 5


def make_models(dtype, **kwargs):
    """(ember, torch) pairs of an embedding and an LSTM with equal weights."""
    t_emb = torch.nn.Embedding(VOCAB, INPUT).to(getattr(torch, dtype))
    t_lstm = torch.nn.LSTM(INPUT, HIDDEN, **kwargs).to(getattr(torch, dtype))
    e_emb = ember.nn.Embedding(VOCAB, INPUT).to(getattr(ember, dtype))
    e_lstm = ember.nn.LSTM(INPUT, HIDDEN, **kwargs).to(getattr(ember, dtype))
    copy_from_torch(e_emb, t_emb)
    copy_from_torch(e_lstm, t_lstm)
    return (e_emb, e_lstm), (t_emb, t_lstm)


def tokens(batch_first, seed=0):
    shape = (BATCH, STEPS) if batch_first else (STEPS, BATCH)
    return np.random.default_rng(seed).integers(0, VOCAB, shape)


def lookups_used(out):
    """Whether the LSTM ops that made ``out`` (one, or two joined for both directions)
    projected the distinct rows of a lookup (an error when only one did)."""
    node = out.grad_fn
    ops = [node] if isinstance(node, LSTMSequence) else \
        [n for n, _ in node.next_functions if isinstance(n, LSTMSequence)]
    assert len(ops) in (1, 2)
    used = {op.distinct is not None for op in ops}
    assert len(used) == 1
    return used.pop()


def run_torch(t_models, index, rng_seed=1):
    t_emb, t_lstm = t_models
    x = t_emb(torch.tensor(index))
    x.retain_grad()
    out, (h, c) = t_lstm(x)
    grads = _output_grads(out, h, c, rng_seed)
    torch.autograd.backward([out, h, c], [torch.tensor(g) for g in grads])
    return [out, h, c, x.grad, t_emb.weight.grad] + [p.grad for p in t_lstm.parameters()]


def run_ember(e_models, index, rng_seed=1, between=None):
    """Forward (``between(x, index)`` may act on the lookup before the LSTM reads it) and
    backward; the results in ``run_torch``'s order, and whether the lookup path ran."""
    e_emb, e_lstm = e_models
    index = ember.tensor(index)
    x = e_emb(index)
    if between is not None:
        x = between(x, index)
    x.retain_grad()
    out, (h, c) = e_lstm(x)
    used = lookups_used(out)
    grads = _output_grads(out, h, c, rng_seed)
    ember.autograd.backward([out, h, c], [ember.tensor(g) for g in grads])
    return [out, h, c, x.grad, e_emb.weight.grad] + [p.grad for p in e_lstm.parameters()], used


def _output_grads(out, h, c, seed):
    rng = np.random.default_rng(seed)
    dtype = str(out.dtype).split(".")[-1]
    return [rng.standard_normal(tuple(t.shape)).astype(dtype) for t in (out, h, c)]


def assert_all_close(e_results, t_results, dtype):
    names = ["output", "h_n", "c_n", "gradient of the lookup", "gradient of the embedding"]
    for i, (e, t) in enumerate(zip(e_results, t_results)):
        what = names[i] if i < len(names) else f"gradient of LSTM parameter {i - len(names)}"
        assert_close(e, t, dtype, what)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_of_a_lookup_matches_torch(kernels, dtype, batch_first, bidirectional):
    e_models, t_models = make_models(dtype, batch_first=batch_first,
                                     bidirectional=bidirectional)
    index = tokens(batch_first)
    e_results, used = run_ember(e_models, index)
    assert used
    assert_all_close(e_results, run_torch(t_models, index), dtype)


def test_lstm_of_a_lookup_split_over_threads_matches_torch(split_everything, kernels):
    split_everything(_lstm_seq, "_SPLIT_STEP_WORK", "_SPLIT_PRODUCT_WORK", record=False)
    e_models, t_models = make_models("float32", batch_first=True, bidirectional=True)
    index = tokens(True, seed=3)
    e_results, used = run_ember(e_models, index)
    assert used
    assert_all_close(e_results, run_torch(t_models, index), "float32")


def test_lookup_path_equals_the_plain_path(monkeypatch):
    """float64: the two paths agree to rounding (they sum the same products in another
    order)."""
    e_models, _ = make_models("float64", batch_first=True)
    index = tokens(True, seed=4)
    fast, used = run_ember(e_models, index)
    assert used
    fast = [t.detach().numpy().copy() for t in fast]
    for p in list(e_models[0].parameters()) + list(e_models[1].parameters()):
        p.grad = None
    monkeypatch.setattr(_lstm_seq, "lookup_of", lambda x: None)
    plain, used = run_ember(e_models, index)
    assert not used
    for i, (a, b) in enumerate(zip(fast, plain)):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-12, atol=1e-14, err_msg=f"result {i}")


def _scaled_in_place(x, index):
    return x.mul_(1.5)


def _changed_without_grad(x, index):
    with ember.no_grad():
        x[0, 0] += 1.0
    return x


def _a_view(x, index):
    return x[:, :]


def _tokens_changed_after(x, index):
    """The lookup's rows stay those of the old tokens; the new ones must not be read."""
    index.add_(1).remainder_(VOCAB)
    return x


@pytest.mark.parametrize("between", [_scaled_in_place, _changed_without_grad, _a_view],
                         ids=["scaled in place", "changed without grad", "a view"])
def test_rows_that_may_have_changed_take_the_plain_path(between):
    e_models, t_models = make_models("float64", batch_first=True)
    index = tokens(True, seed=5)
    e_results, used = run_ember(e_models, index, between=between)
    assert not used
    t_emb, t_lstm = t_models
    t_index = torch.tensor(index)
    x = t_emb(t_index)
    if between is _scaled_in_place:
        x = x * 1.5
    elif between is _changed_without_grad:
        delta = torch.zeros_like(x)
        delta[0, 0] = 1.0
        x = x + delta
    x.retain_grad()
    out, (h, c) = t_lstm(x)
    grads = _output_grads(out, h, c, 1)
    torch.autograd.backward([out, h, c], [torch.tensor(g) for g in grads])
    t_results = [out, h, c, x.grad, t_emb.weight.grad] + [p.grad for p in t_lstm.parameters()]
    assert_all_close(e_results, t_results, "float64")


def test_tokens_changed_after_the_lookup_change_nothing():
    e_models, t_models = make_models("float64", batch_first=True)
    index = tokens(True, seed=6)
    e_results, used = run_ember(e_models, index.copy(), between=_tokens_changed_after)
    assert used
    assert_all_close(e_results, run_torch(t_models, index), "float64")


def test_many_distinct_rows_take_the_plain_path():
    """More distinct rows than half the positions: projecting them saves nothing."""
    emb, lstm = ember.nn.Embedding(100, INPUT), ember.nn.LSTM(INPUT, HIDDEN)
    out, _ = lstm(emb(ember.tensor(np.arange(2 * BATCH).reshape(2, BATCH))))
    assert not lookups_used(out)
    out, _ = lstm(emb(ember.tensor(np.arange(2 * BATCH).reshape(2, BATCH) % 5)))
    assert lookups_used(out)


def test_gradients_and_hooks_of_the_lookup_itself_match_torch():
    """``autograd.grad`` with respect to the lookup, and a hook registered on it after
    the forward, see the lookup's gradient as torch computes it."""
    e_models, t_models = make_models("float64", batch_first=True)
    index = tokens(True, seed=7)
    e_x = e_models[0](ember.tensor(index))
    t_x = t_models[0](torch.tensor(index))
    e_out, _ = e_models[1](e_x)
    t_out, _ = t_models[1](t_x)
    assert lookups_used(e_out)
    seen = []
    e_x.register_hook(lambda g: seen.append(g.numpy().copy()))
    (e_grad,) = ember.autograd.grad((e_out * e_out).sum(), [e_x])
    (t_grad,) = torch.autograd.grad((t_out * t_out).sum(), [t_x])
    assert_close(e_grad, t_grad, "float64", "gradient of the lookup")
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], t_grad.numpy(), rtol=1e-10, atol=1e-12)


def test_second_order_gradients_match_torch():
    e_models, t_models = make_models("float64", batch_first=True)
    index = tokens(True, seed=8)
    results = []
    for (emb, lstm), lib in ((e_models, ember), (t_models, torch)):
        out, (h, c) = lstm(emb(lib.tensor(index)))
        params = [emb.weight] + list(lstm.parameters())
        grads = lib.autograd.grad((out * out).sum() + (h * c).sum(), params,
                                  create_graph=True)
        sum((g * g).sum() for g in grads).backward()
        results.append(list(grads) + [p.grad for p in params])
    for i, (e, t) in enumerate(zip(*results)):
        assert_close(e, t, "float64", f"result {i}")


def test_a_traced_lstm_of_a_lookup_records_the_plain_op():
    """The indices must not be frozen into a captured graph: the trace records the
    plain op, and runs right on other tokens."""
    emb, lstm = ember.nn.Embedding(VOCAB, INPUT).double(), ember.nn.LSTM(INPUT, HIDDEN).double()

    def model(i):
        return lstm(emb(i))[0]

    traced = ember.jit.trace(model, ember.tensor(tokens(False, seed=9)))
    calls = [n for n in traced.graph.nodes if n.kind == "call" and n.target == "LSTMSequence"]
    assert len(calls) == 1 and "lookup" not in calls[0].params
    other = ember.tensor(tokens(False, seed=10))
    np.testing.assert_allclose(traced(other).numpy(), model(other).detach().numpy(),
                               rtol=1e-12, atol=1e-14)
