"""A small CNN and a small text model built from the core layers, in ember and torch with
the same weights: outputs, every gradient and several SGD steps (with BatchNorm's running
statistics) agree."""

import numpy as np
import torch

import ember
from tests.nn.layer_check import assert_same, copy_from_torch


def cnn(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect")
            self.bn = nn.BatchNorm2d(4)
            self.pool = nn.MaxPool2d(2)
            self.conv2 = nn.Conv2d(4, 4, 3, groups=2, padding="same", bias=False)
            self.gn = nn.GroupNorm(2, 4)
            self.up = nn.Upsample(scale_factor=2, mode="bilinear")
            self.avg = nn.AdaptiveAvgPool2d((2, 2))
            self.flat = nn.Flatten()
            self.drop = nn.Dropout(0.5)
            self.fc = nn.Linear(16, 3)

        def forward(self, x):
            h = nn.functional.relu(self.bn(self.conv(x)))
            h = self.gn(self.conv2(self.pool(h)))
            h = self.avg(self.up(h))
            return self.fc(self.drop(self.flat(h)))

    return Net()


def text(lib):
    nn = lib.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 6, padding_idx=0)
            self.conv = nn.Conv1d(6, 4, 3, padding=1)
            self.norm = nn.LayerNorm(4)
            self.head = nn.Linear(4, 2)

        def forward(self, idx):
            h = self.conv(self.embed(idx).transpose(1, 2)).transpose(1, 2)
            return self.head(self.norm(h).mean(1))

    return Net()


def _sgd_steps(model, lib, inputs, steps=3, lr=0.1):
    losses = []
    for _ in range(steps):
        model.zero_grad()
        loss = (model(inputs) ** 2).mean()
        loss.backward()
        with lib.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        losses.append(loss)
    return losses


def _run(make, e_input, t_input):
    e_model, t_model = make(ember).double(), make(torch).double()
    copy_from_torch(e_model, t_model)
    e_model.eval()  # no dropout in the comparison; BatchNorm trains below
    t_model.eval()
    assert_same(e_model(e_input), t_model(t_input))
    for model in (e_model, t_model):
        model.train()
        if hasattr(model, "drop"):
            model.drop.eval()
    e_losses = _sgd_steps(e_model, ember, e_input)
    t_losses = _sgd_steps(t_model, torch, t_input)
    for e_loss, t_loss in zip(e_losses, t_losses):
        assert_same(e_loss, t_loss)
    for (name, e_value), t_value in zip(e_model.state_dict().items(),
                                        t_model.state_dict().values()):
        assert_same(e_value, t_value, what=name)
    assert_same(e_model.eval()(e_input), t_model.eval()(t_input))


def test_small_cnn_trains_like_torch():
    x = np.random.default_rng(0).standard_normal((3, 2, 6, 6))
    _run(cnn, ember.tensor(x), torch.tensor(x))


def test_small_text_model_trains_like_torch():
    idx = np.random.default_rng(0).integers(0, 10, (4, 5))
    idx[:, -1] = 0  # padding
    _run(text, ember.tensor(idx), torch.tensor(idx))


def test_model_repr_matches_torch():
    assert repr(cnn(ember)) == repr(cnn(torch))
    assert repr(text(ember)) == repr(text(torch))
