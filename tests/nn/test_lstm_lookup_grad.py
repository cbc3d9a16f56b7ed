"""An LSTM layer fed by an embedding lookup hands the lookup its input's gradient summed per
distinct row (``ember.autograd.deferred``) when nothing else sees that gradient: the
embedding's gradient as torch computes it, and the whole gradient wherever anything does
look (a hook, a node hook, a second consumer, ``padding_idx``, the profiler)."""

import numpy as np
import pytest
import torch

import ember
from ember.autograd import deferred
from tests.nn.test_lstm_lookup import make_models, tokens
from tests.nn.test_lstm_seq import assert_close

torch.set_num_threads(1)


@pytest.fixture
def summed(monkeypatch):
    """Counts the lookups that took a summed gradient."""
    calls = []
    original = deferred.RowsGradient.summed_rows

    def counted(self, count):
        calls.append(count)
        return original(self, count)

    monkeypatch.setattr(deferred.RowsGradient, "summed_rows", counted)
    return calls


def _run(models, lib, index, extra=None, seed=1):
    """Backward of the outputs against fixed gradients (plus ``extra(x)``); the gradients
    of the embedding and of the LSTM's parameters."""
    emb, lstm = models
    x = emb(lib.tensor(index))
    out, (h, c) = lstm(x)
    rng = np.random.default_rng(seed)
    dtype = str(out.dtype).split(".")[-1]
    loss = sum((t * lib.tensor(rng.standard_normal(tuple(t.shape)).astype(dtype))).sum()
               for t in (out, h, c))
    if extra is not None:
        loss = loss + extra(x)
    loss.backward()
    return [emb.weight.grad] + [p.grad for p in lstm.parameters()]


def _assert_match(e_grads, t_grads, dtype):
    for i, (e, t) in enumerate(zip(e_grads, t_grads)):
        assert_close(e, t, dtype, "embedding gradient" if i == 0 else f"LSTM gradient {i}")


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_lookup_takes_the_summed_gradient_and_matches_torch(kernels, summed, dtype,
                                                                batch_first):
    e_models, t_models = make_models(dtype, batch_first=batch_first)
    index = tokens(batch_first, seed=11)
    e_grads = _run(e_models, ember, index)
    assert summed == [e_models[0].weight.shape[0]]
    _assert_match(e_grads, _run(t_models, torch, index), dtype)


def test_two_directions_sum_their_gradients_whole(summed):
    """Both directions read the lookup: the second gradient to arrive makes the first whole."""
    e_models, t_models = make_models("float64", batch_first=True, bidirectional=True)
    index = tokens(True, seed=12)
    e_grads = _run(e_models, ember, index)
    assert summed == []
    _assert_match(e_grads, _run(t_models, torch, index), "float64")


def test_a_second_consumer_of_the_lookup_adds_its_gradient(summed):
    e_models, t_models = make_models("float64")
    index = tokens(False, seed=13)
    e_grads = _run(e_models, ember, index, extra=lambda x: (x * x).sum())
    assert summed == []
    _assert_match(e_grads, _run(t_models, torch, index, extra=lambda x: (x * x).sum()),
                  "float64")


def test_a_hook_on_the_lookup_sees_its_whole_gradient(summed):
    e_models, t_models = make_models("float64")
    index = tokens(False, seed=14)
    seen = {}

    def hooked(lib):
        def extra(x):
            x.register_hook(lambda g: seen.update({lib.__name__: g.detach().numpy().copy()}))
            return 0
        return extra

    e_grads = _run(e_models, ember, index, extra=hooked(ember))
    t_grads = _run(t_models, torch, index, extra=hooked(torch))
    assert summed == []
    np.testing.assert_allclose(seen["ember"], seen["torch"], rtol=1e-10, atol=1e-12)
    _assert_match(e_grads, t_grads, "float64")


def test_a_hook_on_the_lstm_node_sees_whole_gradients(summed):
    (emb, lstm), (t_emb, t_lstm) = make_models("float64")
    index = tokens(False, seed=15)
    seen = []
    out, _ = lstm(emb(ember.tensor(index)))
    out.grad_fn.register_hook(lambda grads_in, grads_out: seen.append(grads_in[0]))
    out.sum().backward()
    assert summed == [] and isinstance(seen[0], ember.Tensor)
    t_x = t_emb(torch.tensor(index))
    t_out, _ = t_lstm(t_x)
    (t_grad,) = torch.autograd.grad(t_out.sum(), [t_x], retain_graph=True)
    t_out.sum().backward()
    assert_close(seen[0], t_grad, "float64", "the lookup's gradient")
    assert_close(emb.weight.grad, t_emb.weight.grad, "float64", "embedding gradient")


def test_padding_idx_scales_the_whole_gradient(summed):
    e_models, t_models = make_models("float64")
    e_models[0].padding_idx = t_models[0].padding_idx = 0
    index = tokens(False, seed=16)
    e_grads = _run(e_models, ember, index)
    assert summed == []
    t_grads = _run(t_models, torch, index)
    assert float(t_grads[0][0].abs().sum()) == 0.0
    _assert_match(e_grads, t_grads, "float64")


def test_under_the_profiler_the_gradient_is_whole(summed):
    e_models, t_models = make_models("float64")
    index = tokens(False, seed=17)
    with ember.profiler.profile():
        e_grads = _run(e_models, ember, index)
    assert summed == []
    _assert_match(e_grads, _run(t_models, torch, index), "float64")


def test_autograd_grad_of_the_lookup_gets_its_whole_gradient():
    (emb, lstm), (t_emb, t_lstm) = make_models("float64", batch_first=True)
    index = tokens(True, seed=18)
    x, t_x = emb(ember.tensor(index)), t_emb(torch.tensor(index))
    e_out, t_out = lstm(x)[0], t_lstm(t_x)[0]
    e_grads = ember.autograd.grad((e_out * e_out).sum(), [x, emb.weight])
    t_grads = torch.autograd.grad((t_out * t_out).sum(), [t_x, t_emb.weight])
    for what, e, t in zip(("the lookup's gradient", "embedding gradient"), e_grads, t_grads):
        assert_close(e, t, "float64", what)


def test_in_anomaly_mode_the_gradient_is_whole(summed):
    e_models, t_models = make_models("float64")
    index = tokens(False, seed=19)
    with ember.autograd.detect_anomaly():
        e_grads = _run(e_models, ember, index)
    assert summed == []
    _assert_match(e_grads, _run(t_models, torch, index), "float64")
