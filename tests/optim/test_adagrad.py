"""Adagrad against torch.optim.Adagrad, step by step, for every option."""

import pytest
import torch

import ember
import ember.optim
from tests.optim.compare import assert_same_state, fresh_params, pair, raises_like, run

CONFIGS = [
    {},
    {"lr": 0.1},
    {"lr": 0.1, "lr_decay": 0.2},
    {"lr": 0.1, "weight_decay": 0.1},
    {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6},
    {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.1, "maximize": True},
    {"lr": 0.1, "foreach": False, "differentiable": False, "fused": None},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_adagrad_matches_torch(kwargs, dtype):
    run(ember.optim.Adagrad, torch.optim.Adagrad, kwargs, dtype)


def test_adagrad_makes_its_state_at_construction():
    e_model, t_model = pair("float64")
    e_opt = ember.optim.Adagrad(e_model.params(), initial_accumulator_value=0.25)
    t_opt = torch.optim.Adagrad(t_model.params(), initial_accumulator_value=0.25)
    assert_same_state(e_opt, t_opt, e_model.params(), t_model.params(), "float64")
    assert len(e_opt.state_dict()["state"]) == 3


def test_defaults_are_torchs():
    e = ember.optim.Adagrad(fresh_params(ember)).defaults
    t = torch.optim.Adagrad(fresh_params(torch)).defaults
    assert e == t


@pytest.mark.parametrize("kwargs", [
    {"lr": -1.0}, {"lr_decay": -0.1}, {"weight_decay": -0.1},
    {"initial_accumulator_value": -1.0}, {"eps": -1.0},
])
def test_rejects_what_torch_rejects(kwargs):
    raises_like(lambda lib: lambda: lib.optim.Adagrad(fresh_params(lib), **kwargs))
