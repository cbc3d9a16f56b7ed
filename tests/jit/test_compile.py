"""ember.compile: compiled modules and whole training steps replay exactly what eager does."""

import copy

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import models, nn, optim
from ember.jit import GraphInputError, TraceError


def _models():
    ember.manual_seed(0)
    return {
        "mlp": (nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5)),
                lambda: ember.randn(8, 12), 5),
        "cnn_bn": (nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                                 nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 5)),
                   lambda: ember.randn(6, 1, 8, 8), 5),
        "char_lstm": (models.char_lstm(vocab_size=11, embed_dim=6, hidden_size=8),
                      lambda: ember.randint(0, 11, (3, 7)), 11),
        "gpt": (models.gpt(vocab_size=13, max_len=8, d_model=16, n_heads=2, n_layers=1,
                           d_ff=32, dropout=0.0), lambda: ember.randint(0, 13, (2, 8)), 13),
    }


def _loss(out, y, classes):
    out = out[0] if isinstance(out, tuple) else out  # char_lstm: (logits, state)
    return F.cross_entropy(out.reshape(-1, classes), y.reshape(-1))


@pytest.mark.parametrize("name", ["mlp", "cnn_bn", "char_lstm", "gpt"])
@pytest.mark.parametrize("make_opt", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-4),
    lambda p: optim.AdamW(p, lr=1e-2),
], ids=["sgd", "adamw"])
def test_compiled_training_step_matches_eager(name, make_opt):
    model, make_x, classes = _models()[name]
    twin = copy.deepcopy(model)
    opt, twin_opt = make_opt(model.parameters()), make_opt(twin.parameters())

    @ember.compile
    def train_step(x, y):
        opt.zero_grad()
        loss = _loss(model(x), y, classes)
        loss.backward()
        opt.step()
        return loss

    for step in range(4):
        ember.manual_seed(100 + step)
        x = make_x()
        out_shape = (x.shape[0],) if name in ("mlp", "cnn_bn") else tuple(x.shape)
        y = ember.randint(0, classes, out_shape)
        loss = train_step(x, y)
        twin_opt.zero_grad()
        twin_loss = _loss(twin(x), y, classes)
        twin_loss.backward()
        twin_opt.step()
        np.testing.assert_allclose(float(loss), float(twin_loss), rtol=1e-6)
    for (key, p), (_, q) in zip(model.state_dict().items(), twin.state_dict().items()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
    targets = [n.target for n in train_step.graph.of_kind("call")]
    assert {"zero_grad", "backward", "optimizer_step"} <= set(targets)


def test_compiled_module_equals_eager_and_shares_parameters():
    ember.manual_seed(0)
    model = models.lenet5().eval()
    compiled = ember.compile(model)
    for batch in (2, 3):
        x = ember.randn(batch, 1, 28, 28)
        with ember.no_grad():
            np.testing.assert_allclose(compiled(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert len(compiled._traced) == 2
    assert [k for k in compiled.state_dict()][0] == "_orig_mod.features.0.weight"
    assert list(compiled.parameters())[0] is list(model.parameters())[0]


def test_compiled_module_without_dynamic_names_the_shape_change():
    compiled = ember.compile(nn.Linear(3, 2), dynamic=False)
    compiled(ember.ones(4, 3))
    with pytest.raises(GraphInputError, match="shape"):
        compiled(ember.ones(5, 3))


def test_reading_the_loss_inside_a_compiled_step_is_refused():
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)

    @ember.compile
    def step(x):
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        opt.step()
        return loss.item()

    with pytest.raises(TraceError, match="item"):
        step(ember.ones(2, 3))


def test_graph_of_an_uncalled_function_explains_itself():
    with pytest.raises(RuntimeError, match="captured on its first call"):
        ember.compile(lambda x: x + 1).graph


def test_no_grad_inside_a_compiled_function_is_part_of_its_graph():
    ember.manual_seed(0)
    model = models.lenet5().eval()

    @ember.compile
    def predict(x):
        with ember.no_grad():
            return model(x)

    x = ember.randn(2, 1, 28, 28)
    first, again = predict(x), predict(x)  # capture, then replay
    assert [n.target for n in predict.graph.of_kind("call")][0] == "set_grad_enabled"
    assert not again.requires_grad and again.grad_fn is None
    np.testing.assert_allclose(again.numpy(), first.numpy(), rtol=1e-6)
    assert ember.is_grad_enabled()  # the caller's mode comes back


def test_grad_mode_switch_inside_a_traced_module_is_replayed():
    class Frozen(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 1)

        def forward(self, x):
            with ember.no_grad():
                h = self.a(x)
            return self.b(h)

    net = Frozen()
    traced = ember.jit.trace(net, ember.randn(4, 3))
    traced(ember.randn(4, 3)).sum().backward()
    assert net.a.weight.grad is None and net.b.weight.grad is not None
    assert ember.is_grad_enabled()


def test_compiled_function_without_dynamic_names_both_signatures():
    double = ember.compile(lambda x: x * 2, dynamic=False)
    double(ember.ones(2, 3))
    with pytest.raises(GraphInputError, match=r"\[2, 3\] float32, but got \[4, 3\] float32"):
        double(ember.ones(4, 3))


def test_dropout_in_a_compiled_step_draws_a_new_mask_each_call_as_eager_does():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.Dropout(0.5), nn.Linear(32, 4))
    twin = copy.deepcopy(model)
    opts = [optim.SGD(m.parameters(), lr=0.1) for m in (model, twin)]
    x, y = ember.randn(8, 16), ember.randint(0, 4, (8,))

    def make_step(m, opt):
        def step(x, y):
            opt.zero_grad()
            loss = F.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
            return loss
        return step

    compiled, eager = ember.compile(make_step(model, opts[0])), make_step(twin, opts[1])
    losses = []
    for _ in range(4):
        ember.manual_seed(len(losses))  # the same draws in both
        got = compiled(x, y).item()
        ember.manual_seed(len(losses))
        want = eager(x, y).item()
        losses.append(got)
        assert got == pytest.approx(want, rel=1e-5)
    assert "dropout" in [n.target for n in compiled.graph.of_kind("call")]
    for a, b in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
