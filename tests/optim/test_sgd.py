"""SGD against torch.optim.SGD, step by step, for every option."""

import pytest
import torch

import ember
import ember.optim
from tests.optim.compare import fresh_params, raises_like, run

CONFIGS = [
    {},
    {"lr": 0.1},
    {"lr": 0.1, "momentum": 0.9},
    {"lr": 0.1, "momentum": 0.9, "dampening": 0.3},
    {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.1},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01, "maximize": True},
    {"lr": 0.05, "weight_decay": 0.2, "maximize": True},
    {"lr": 0.1, "momentum": 0.9, "foreach": False, "differentiable": False, "fused": None},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=str)
def test_sgd_matches_torch(kwargs, dtype, kernels):
    run(ember.optim.SGD, torch.optim.SGD, kwargs, dtype)


def test_sgd_without_momentum_keeps_no_state():
    e_opt, t_opt = run(ember.optim.SGD, torch.optim.SGD, {"lr": 0.1}, "float64", steps=2)
    assert len(e_opt.state_dict()["state"]) == len(t_opt.state_dict()["state"]) == 0


def test_sgd_first_momentum_buffer_is_the_gradient():
    w = ember.nn.Parameter(ember.tensor([1.0, 2.0]))
    opt = ember.optim.SGD([w], lr=0.1, momentum=0.9, dampening=0.5)
    w.grad = ember.tensor([0.5, -1.0])
    opt.step()
    assert opt.state[w]["momentum_buffer"].tolist() == [0.5, -1.0]
    assert opt.state[w]["momentum_buffer"]._data is not w.grad._data


@pytest.mark.parametrize("kwargs", [
    {"lr": -0.1}, {"momentum": -0.5}, {"weight_decay": -1.0}, {"nesterov": True},
    {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
])
def test_sgd_rejects_what_torch_rejects(kwargs):
    raises_like(lambda lib: lambda: lib.optim.SGD(fresh_params(lib), **kwargs))


def test_sgd_defaults_are_torchs():
    e = ember.optim.SGD(fresh_params(ember)).defaults
    t = torch.optim.SGD(fresh_params(torch)).defaults
    assert e == t
