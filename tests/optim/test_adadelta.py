"""Adadelta against torch.optim.Adadelta, step by step, for every option."""

import pytest
import torch

import ember
import ember.optim
from tests.optim.compare import fresh_params, raises_like, run

CONFIGS = [
    {},
    {"lr": 0.5, "rho": 0.8},
    {"lr": 1.0, "eps": 1e-4},
    {"lr": 1.0, "weight_decay": 0.1},
    {"lr": 0.5, "rho": 0.95, "weight_decay": 0.1, "maximize": True},
    {"foreach": False, "capturable": False, "differentiable": False},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_adadelta_matches_torch(kwargs, dtype):
    run(ember.optim.Adadelta, torch.optim.Adadelta, kwargs, dtype)


def test_defaults_are_torchs():
    e = ember.optim.Adadelta(fresh_params(ember)).defaults
    t = torch.optim.Adadelta(fresh_params(torch)).defaults
    assert e == t


@pytest.mark.parametrize("kwargs", [
    {"lr": -1.0}, {"rho": 1.5}, {"rho": -0.1}, {"eps": -1.0}, {"weight_decay": -0.1},
])
def test_rejects_what_torch_rejects(kwargs):
    raises_like(lambda lib: lambda: lib.optim.Adadelta(fresh_params(lib), **kwargs))
