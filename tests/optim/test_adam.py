"""Adam and AdamW against torch, step by step, for every option."""

import pytest
import torch

import ember
import ember.optim
from tests.optim.compare import fresh_params, raises_like, run

CONFIGS = [
    {},
    {"lr": 0.1},
    {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-6},
    {"lr": 0.05, "amsgrad": True},
    {"lr": 0.05, "weight_decay": 0.1},
    {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True, "maximize": True},
    {"lr": 0.05, "maximize": True},
    {"lr": 0.05, "foreach": False, "capturable": False, "differentiable": False, "fused": None},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_adam_matches_torch(kwargs, dtype, kernels):
    run(ember.optim.Adam, torch.optim.Adam, kwargs, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_adamw_matches_torch(kwargs, dtype, kernels):
    run(ember.optim.AdamW, torch.optim.AdamW, kwargs, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adam_with_decoupled_weight_decay_is_adamw(dtype, kernels):
    kwargs = {"lr": 0.05, "weight_decay": 0.3, "decoupled_weight_decay": True}
    run(ember.optim.Adam, torch.optim.Adam, kwargs, dtype)


def test_adamw_stays_decoupled_after_loading_an_adam_state_dict():
    adam = ember.optim.Adam(fresh_params(ember), weight_decay=0.1)
    adamw = ember.optim.AdamW(fresh_params(ember))
    adamw.load_state_dict(adam.state_dict())
    assert adamw.param_groups[0]["decoupled_weight_decay"] is True


@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
def test_defaults_are_torchs(cls):
    e = getattr(ember.optim, cls)(fresh_params(ember)).defaults
    t = getattr(torch.optim, cls)(fresh_params(torch)).defaults
    assert e == t


@pytest.mark.parametrize("kwargs", [
    {"lr": -1.0}, {"eps": -1e-8}, {"betas": (1.0, 0.999)}, {"betas": (0.9, -0.1)},
    {"weight_decay": -0.1},
])
@pytest.mark.parametrize("cls", ["Adam", "AdamW"])
def test_rejects_what_torch_rejects(cls, kwargs):
    raises_like(lambda lib: lambda: getattr(lib.optim, cls)(fresh_params(lib), **kwargs))
