"""The embedding-projection pass (``ember/jit/passes/embedding_projection.py``): which graphs
it rewrites, and that a captured training step run from the rewritten graph updates the
parameters as eager ember and PyTorch do."""

import copy

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember import nn, optim
from ember.jit import train_plan
from ember.jit.compile import _EFFECTS, _capture_step
from ember.jit.interpreter import run
from ember.jit.passes.embedding_projection import project_embeddings

VOCAB, EMBED, HIDDEN = 11, 6, 8


class CharLSTM(nn.Module):
    def __init__(self, bidirectional=False, bias=True, also_read=False):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, EMBED)
        self.lstm = nn.LSTM(EMBED, HIDDEN, batch_first=True, bias=bias,
                            bidirectional=bidirectional)
        self.head = nn.Linear(HIDDEN * (2 if bidirectional else 1), VOCAB)
        self.also_read = also_read

    def forward(self, tokens):
        x = self.embed(tokens)
        out = self.head(self.lstm(x)[0])
        return out + x.sum() if self.also_read else out


def _targets(graph):
    return [n.target for n in graph.of_kind("call")]


def _trace(model, tokens):
    return ember.jit.trace(model, (tokens,), check=False).graph


def _tokens(seed, shape=(3, 7)):
    return ember.tensor(np.random.default_rng(seed).integers(0, VOCAB, shape))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_rewrites_the_lookup_feeding_the_lstm(bidirectional):
    graph = _trace(CharLSTM(bidirectional), _tokens(0))
    before = str(graph)
    after = project_embeddings(graph)
    assert str(graph) == before  # the input graph is left as it was
    directions = 2 if bidirectional else 1
    assert _targets(after).count("LSTMSequenceFromTable") == directions
    assert _targets(after).count("Linear") == directions + 1  # a table each, and the head
    assert "embedding" not in _targets(after) and "LSTMSequence" not in _targets(after)


@pytest.mark.parametrize("make", [
    lambda: CharLSTM(also_read=True),
    lambda: nn.Sequential(nn.Embedding(VOCAB, EMBED, padding_idx=0),
                          nn.LSTM(EMBED, HIDDEN, batch_first=True)),
    lambda: nn.Sequential(nn.Embedding(VOCAB, EMBED, max_norm=1.0),
                          nn.LSTM(EMBED, HIDDEN, batch_first=True)),
    lambda: nn.Sequential(nn.Embedding(VOCAB, EMBED, scale_grad_by_freq=True),
                          nn.LSTM(EMBED, HIDDEN, batch_first=True)),
], ids=["read-elsewhere", "padding_idx", "max_norm", "scale_grad_by_freq"])
def test_leaves_other_lookups_alone(make):
    graph = _trace(make(), _tokens(1))
    assert str(project_embeddings(graph)) == str(graph)


def test_rewritten_graph_gives_the_same_outputs():
    model, tokens = CharLSTM(bidirectional=True), _tokens(2)
    graph = _trace(model, tokens)
    params = dict(model.named_parameters())
    want, got = (run(g, (tokens,), params) for g in (graph, project_embeddings(graph)))
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def _torch_twin(model):
    t_model = torch.nn.ModuleDict({
        "embed": torch.nn.Embedding(VOCAB, EMBED),
        "lstm": torch.nn.LSTM(EMBED, HIDDEN, batch_first=True, bias=model.lstm.bias,
                              bidirectional=model.lstm.bidirectional),
        "head": torch.nn.Linear(model.head.in_features, VOCAB)})
    t_model.load_state_dict({k: torch.tensor(v.numpy().copy())
                             for k, v in model.state_dict().items()})
    return t_model


def _eager_step(model, opt):
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x).reshape(-1, VOCAB), y.reshape(-1))
        loss.backward()
        opt.step()
        return loss
    return step


@pytest.mark.parametrize("runner", ["plan", "interpreter"])
@pytest.mark.parametrize("bidirectional,bias", [(False, True), (True, True), (False, False)])
def test_training_from_the_rewritten_graph_matches_eager_and_torch(kernels, runner,
                                                                   bidirectional, bias):
    ember.manual_seed(3)
    model = CharLSTM(bidirectional, bias)
    twin, t_model = copy.deepcopy(model), _torch_twin(model)
    step = _eager_step(model, optim.Adam(model.parameters(), lr=1e-2))
    twin_step = _eager_step(twin, optim.Adam(twin.parameters(), lr=1e-2))
    t_opt = torch.optim.Adam(t_model.parameters(), lr=1e-2)
    batches = [(_tokens(10 + k), _tokens(20 + k)) for k in range(4)]
    graph, captured, _ = _capture_step(step, batches[0])  # the capture is step 1
    graph = project_embeddings(graph)
    assert "LSTMSequenceFromTable" in _targets(graph)
    plan = train_plan.build_plan(graph, captured, batches[0])
    assert plan is not None
    for k, (x, y) in enumerate(batches):
        if k:
            loss = plan.run((x, y)) if runner == "plan" else \
                run(graph, (x, y), captured, effects=_EFFECTS)
        twin_loss = twin_step(x, y)
        t_opt.zero_grad()
        t_out = t_model["head"](t_model["lstm"](t_model["embed"](torch.tensor(x.numpy())))[0])
        t_loss = torch.nn.functional.cross_entropy(t_out.reshape(-1, VOCAB),
                                                   torch.tensor(y.numpy()).reshape(-1))
        t_loss.backward()
        t_opt.step()
        if k:
            np.testing.assert_allclose(float(loss), float(twin_loss), rtol=1e-5)
        np.testing.assert_allclose(float(twin_loss), t_loss.item(), rtol=1e-5)
    t_state = t_model.state_dict()
    for (key, p), (_, q) in zip(model.state_dict().items(), twin.state_dict().items()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-4, atol=1e-6, err_msg=key)
        np.testing.assert_allclose(p.numpy(), t_state[key].numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=key)
