"""RMSprop against torch.optim.RMSprop, step by step, for every option."""

import pytest
import torch

import ember
import ember.optim
from tests.optim.compare import fresh_params, raises_like, run

CONFIGS = [
    {},
    {"lr": 0.01, "alpha": 0.9, "eps": 1e-6},
    {"lr": 0.01, "momentum": 0.9},
    {"lr": 0.01, "centered": True},
    {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1},
    {"lr": 0.01, "weight_decay": 0.1, "maximize": True},
    {"lr": 0.01, "centered": True, "momentum": 0.9, "maximize": True},
    {"lr": 0.01, "capturable": False, "foreach": False, "differentiable": False},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_rmsprop_matches_torch(kwargs, dtype):
    run(ember.optim.RMSprop, torch.optim.RMSprop, kwargs, dtype)


def test_defaults_are_torchs():
    e = ember.optim.RMSprop(fresh_params(ember)).defaults
    t = torch.optim.RMSprop(fresh_params(torch)).defaults
    assert e == t


@pytest.mark.parametrize("kwargs", [
    {"lr": -1.0}, {"eps": -1.0}, {"momentum": -0.1}, {"weight_decay": -0.1}, {"alpha": -0.5},
])
def test_rejects_what_torch_rejects(kwargs):
    raises_like(lambda lib: lambda: lib.optim.RMSprop(fresh_params(lib), **kwargs))
