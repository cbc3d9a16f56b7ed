"""summary's rows and totals against the same architecture in PyTorch."""

import re

import torch

import ember
from ember import nn
from ember.train import summary


def _cnn(lib):
    n = lib.nn
    return n.Sequential(
        n.Conv2d(1, 8, 3, padding=1), n.BatchNorm2d(8), n.ReLU(), n.MaxPool2d(2),
        n.Sequential(n.Conv2d(8, 16, 3), n.ReLU()), n.Flatten(), n.Dropout(0.5),
        n.Linear(16 * 2 * 2, 10))


def _torch_rows(model, size):
    """(path (type), output shape with -1, parameter count) of each leaf call."""
    rows = []
    names = {m: name for name, m in model.named_modules()}
    for module in model.modules():
        if not list(module.children()):
            module.register_forward_hook(lambda m, args, out: rows.append(
                (f"{names[m]} ({type(m).__name__})", str([-1, *out.shape[1:]]),
                 sum(p.numel() for p in m.parameters()))))
    model.eval()
    model(torch.zeros(2, *size))
    return rows


def _rows(table):
    """The body rows of the table: (layer, shape, count)."""
    lines = table.splitlines()
    body = lines[lines.index(next(l for l in lines if l.startswith("="))) + 1:]
    body = body[:next(i for i, l in enumerate(body) if l.startswith("="))]
    return [tuple(re.split(r"\s{4,}", line.strip())) for line in body]


def test_rows_and_totals_match_pytorch(capsys):
    model = _cnn(ember)
    table = summary(model, (1, 8, 8))
    assert capsys.readouterr().out == table + "\n"
    expected = _torch_rows(_cnn(torch), (1, 8, 8))
    assert [(name, shape, int(count.replace(",", ""))) for name, shape, count in _rows(table)] \
        == expected
    assert [r[0] for r in expected][4] == "4.0 (Conv2d)"  # nested paths
    total = sum(p.numel() for p in _cnn(torch).parameters())
    assert f"Total params: {total:,} (" in table
    assert f"Trainable params: {total:,}\n" in table
    assert "Non-trainable params: 0\n" in table
    assert model.training  # restored after the eval-mode pass


def test_frozen_shared_and_several_inputs(capsys):
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(20, 4)
            self.proj = nn.Linear(4, 4)
            self.scale = nn.Parameter(ember.ones(4))  # a parameter of a non-leaf module

        def forward(self, tokens, features):
            h = self.proj(self.proj(self.embed(tokens)))  # proj runs twice
            return h.mean(1) * self.scale + features

    model = Model()
    model.embed.weight.requires_grad_(False)
    table = summary(model, [(5,), (4,)], dtypes=[ember.int64, ember.float32], batch_size=3)
    rows = _rows(table)
    assert rows == [("embed (Embedding)", "[3, 5, 4]", "80"),
                    ("proj (Linear)", "[3, 5, 4]", "20"),
                    ("proj (Linear)", "[3, 5, 4]", "(shared)"),
                    ("(model) (Model)", "[3, 4]", "4")]
    assert "Total params: 104 (416 B)" in table
    assert "Trainable params: 24\n" in table and "Non-trainable params: 80\n" in table
