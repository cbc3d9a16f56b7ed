"""The Optimizer base class: groups, state dicts, closures, hooks and errors, against torch."""

import warnings

import numpy as np
import pytest
import torch

import ember
import ember.optim
from tests.optim.compare import (
    DTYPES, assert_same_state, batches, fresh_params, pair, raises_like, run, shared_grad_step,
    torch_state_to_ember, train_step,
)

# One configuration per optimizer that exercises its state buffers.
OPTIMIZERS = {
    "SGD": {"lr": 0.1, "momentum": 0.9, "nesterov": True},
    "Adam": {"lr": 0.05, "amsgrad": True, "weight_decay": 0.01},
    "AdamW": {"lr": 0.05},
    "RMSprop": {"lr": 0.01, "momentum": 0.5, "centered": True},
    "Adagrad": {"lr": 0.1, "lr_decay": 0.01},
    "Adadelta": {"lr": 0.5},
}


def classes(name):
    return getattr(ember.optim, name), getattr(torch.optim, name)


# ---- training with ember's own backward ------------------------------------------------


# Centered RMSprop divides by sqrt(E[g^2] - E[g]^2), which amplifies the float32 rounding
# differences of the two backward passes; its float32 agreement is tested with shared grads.
OWN_BACKWARD = [(name, "float64") for name in OPTIMIZERS] + \
    [(name, "float32") for name in OPTIMIZERS if name != "RMSprop"]


@pytest.mark.parametrize(("name", "dtype"), OWN_BACKWARD)
def test_training_with_embers_own_backward_matches_torch(name, dtype):
    run(*classes(name), OPTIMIZERS[name], dtype, own_backward=True)


# ---- parameter groups --------------------------------------------------------------------


def two_groups(model):
    return [{"params": [model.weight], "lr": 0.02},
            {"params": [model.bias, model.unused], "weight_decay": 0.1}]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_parameter_groups_with_their_own_options(name, dtype):
    e_opt, t_opt = run(*classes(name), OPTIMIZERS[name], dtype, groups=two_groups)
    for e_group, t_group in zip(e_opt.param_groups, t_opt.param_groups):
        assert {k: v for k, v in e_group.items() if k != "params"} == \
            {k: v for k, v in t_group.items() if k != "params"}


def test_add_param_group_fills_defaults_like_torch():
    e_model, t_model = pair("float64")
    e_opt = ember.optim.Adam([e_model.weight], lr=0.1)
    t_opt = torch.optim.Adam([t_model.weight], lr=0.1)
    e_opt.add_param_group({"params": e_model.bias, "lr": 0.5})
    t_opt.add_param_group({"params": t_model.bias, "lr": 0.5})
    assert [len(g["params"]) for g in e_opt.param_groups] == [1, 1]
    assert {k: v for k, v in e_opt.param_groups[1].items() if k != "params"} == \
        {k: v for k, v in t_opt.param_groups[1].items() if k != "params"}


def test_named_parameters_give_param_names():
    w = ember.nn.Parameter(ember.zeros(2))
    opt = ember.optim.SGD([("w", w)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w"]


# ---- state dicts -------------------------------------------------------------------------


def _train(model, opt, batch_list):
    for batch in batch_list:
        train_step(model, opt, batch)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_dict_layout_matches_torch(name):
    e_cls, t_cls = classes(name)
    e_model, t_model = pair("float64")
    e_opt = e_cls(two_groups(e_model), **OPTIMIZERS[name])
    t_opt = t_cls(two_groups(t_model), **OPTIMIZERS[name])
    for batch in batches(np.float64, 2):
        shared_grad_step(e_model, e_opt, t_model, t_opt, batch)
    e_sd, t_sd = e_opt.state_dict(), t_opt.state_dict()
    assert e_sd["param_groups"] == t_sd["param_groups"]
    assert sorted(e_sd["state"]) == sorted(t_sd["state"])
    for i, t_state in t_sd["state"].items():
        assert sorted(e_sd["state"][i]) == sorted(t_state)
        for key, value in t_state.items():
            np.testing.assert_allclose(e_sd["state"][i][key].numpy(), value.numpy(), rtol=1e-9)


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_state_dict_round_trip_continues_identically(name):
    """Save after 3 steps (a copy, as a checkpoint file is), train on; a fresh model and
    optimizer loading the checkpoint then take the same 3 steps to the same values."""
    e_cls, _ = classes(name)
    steps = batches(np.float64, 6)
    model = pair("float64")[0]
    opt = e_cls(model.params(), **OPTIMIZERS[name])
    _train(model, opt, steps[:3])
    snapshot = _deep_copy(opt.state_dict())
    weights = [p.detach().numpy().copy() for p in model.params()]
    _train(model, opt, steps[3:])

    resumed = pair("float64")[0]
    for p, w in zip(resumed.params(), weights):
        p.data = ember.tensor(w)
    opt2 = e_cls(resumed.params(), **OPTIMIZERS[name])
    opt2.load_state_dict(snapshot)
    _train(resumed, opt2, steps[3:])
    for a, b in zip(model.params(), resumed.params()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def _deep_copy(value):
    if isinstance(value, ember.Tensor):
        return ember.tensor(value.numpy().copy())
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_deep_copy(v) for v in value)
    return value


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_loading_torchs_state_dict_continues_like_torch(name, dtype):
    e_cls, t_cls = classes(name)
    np_dtype = DTYPES[dtype][0]
    steps = batches(np_dtype, 6)
    e_model, t_model = pair(dtype)
    t_opt = t_cls(two_groups(t_model), **OPTIMIZERS[name])
    for batch in steps[:3]:
        train_step(t_model, t_opt, batch)
    for ep, tp in zip(e_model.params(), t_model.params()):
        ep.data = ember.tensor(tp.detach().numpy().copy())
    e_opt = e_cls(two_groups(e_model), **OPTIMIZERS[name])
    e_opt.load_state_dict(torch_state_to_ember(t_opt.state_dict()))
    assert_same_state(e_opt, t_opt, e_model.params(), t_model.params(), dtype, "after loading")
    for batch in steps[3:]:
        shared_grad_step(e_model, e_opt, t_model, t_opt, batch)
        assert_same_state(e_opt, t_opt, e_model.params(), t_model.params(), dtype)


def test_loaded_state_is_a_copy_cast_to_the_parameter_dtype():
    model = pair("float32")[0]
    opt = ember.optim.Adam(model.params())
    saved_avg = ember.tensor(np.ones((4, 3)))  # float64 into a float32 parameter
    opt.load_state_dict({"state": {0: {"step": ember.tensor(np.float32(2.0)),
                                       "exp_avg": saved_avg,
                                       "exp_avg_sq": ember.tensor(np.ones((4, 3)))}},
                         "param_groups": opt.state_dict()["param_groups"]})
    state = opt.state[model.weight]
    assert state["exp_avg"].dtype == ember.float32 and state["step"].dtype == ember.float32
    assert state["exp_avg"]._data is not saved_avg._data


def test_state_dict_after_a_json_round_trip_loads():
    """Integer keys that came back as strings and a plain-number step still load."""
    e_model, t_model = pair("float64")
    e_opt = ember.optim.Adam(e_model.params(), lr=0.1)
    t_opt = torch.optim.Adam(t_model.params(), lr=0.1)
    steps = batches(np.float64, 4)
    for batch in steps[:2]:
        shared_grad_step(e_model, e_opt, t_model, t_opt, batch)
    sd = _deep_copy(e_opt.state_dict())
    sd["state"] = {str(k): {**v, "step": float(v["step"])} for k, v in sd["state"].items()}
    sd["param_groups"] = [{**g, "betas": list(g["betas"])} for g in sd["param_groups"]]
    fresh = pair("float64")[0]
    for p, q in zip(fresh.params(), e_model.params()):
        p.data = ember.tensor(q.detach().numpy().copy())
    opt2 = ember.optim.Adam(fresh.params(), lr=0.1)
    opt2.load_state_dict(sd)
    for batch in steps[2:]:
        shared_grad_step(fresh, opt2, t_model, t_opt, batch)
    assert_same_state(opt2, t_opt, fresh.params(), t_model.params(), "float64")


@pytest.mark.parametrize("change", ["groups", "sizes"])
def test_load_state_dict_rejects_mismatched_groups(change):
    def make(lib):
        def go():
            model = pair("float64")[0 if lib is ember else 1]
            opt = lib.optim.SGD(model.params(), lr=0.1)
            other_params = ([{"params": [model.weight]}, {"params": [model.bias]}]
                            if change == "groups" else [model.weight])
            other = lib.optim.SGD(other_params, lr=0.1)
            opt.load_state_dict(other.state_dict())
        return go

    raises_like(make)


# ---- step, closure, zero_grad --------------------------------------------------------------


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_closure_is_evaluated_with_grad_enabled_and_its_loss_returned(name):
    e_cls, t_cls = classes(name)
    e_model, t_model = pair("float64")
    e_opt = e_cls(e_model.params(), **OPTIMIZERS[name])
    t_opt = t_cls(t_model.params(), **OPTIMIZERS[name])
    for batch in batches(np.float64, 4):
        losses = []
        for lib, model, opt in ((ember, e_model, e_opt), (torch, t_model, t_opt)):
            def closure(model=model, opt=opt, batch=batch):
                opt.zero_grad()
                loss = model.loss(*batch)
                loss.backward()
                return loss

            with lib.no_grad():
                losses.append(float(opt.step(closure).detach()))
        np.testing.assert_allclose(losses[0], losses[1], rtol=1e-9)
        assert_same_state(e_opt, t_opt, e_model.params(), t_model.params(), "float64")


def test_step_without_closure_returns_none():
    opt = ember.optim.SGD(fresh_params(ember), lr=0.1)
    assert opt.step() is None


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad_like_torch(set_to_none):
    grads = []
    for lib in (ember, torch):
        model = pair("float64")[0 if lib is ember else 1]
        opt = lib.optim.SGD(model.params(), lr=0.1)
        model.loss(*batches(np.float64, 1)[0]).backward()
        opt.zero_grad(set_to_none=set_to_none)
        grads.append([None if p.grad is None else p.grad.tolist() for p in model.params()])
    assert grads[0] == grads[1]


def test_parameters_without_grad_are_skipped():
    e_opt, _ = run(ember.optim.Adam, torch.optim.Adam, {"lr": 0.1}, "float64", steps=2)
    unused = e_opt.param_groups[0]["params"][2]
    assert unused not in e_opt.state
    np.testing.assert_array_equal(unused.detach().numpy(), pair("float64")[0].unused.detach().numpy())


def test_step_bumps_the_version_so_stale_graphs_refuse_backward():
    for lib in (ember, torch):
        w = lib.nn.Parameter(lib.tensor([1.0, 2.0]))
        y = (w * w).sum()
        opt = lib.optim.Adam([w], lr=0.1)
        w.grad = lib.tensor([1.0, 1.0])
        opt.step()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_tensor_learning_rate():
    e_model, t_model = pair("float64")
    e_opt = ember.optim.SGD(e_model.params(), lr=ember.tensor(0.05), momentum=0.9)
    t_opt = torch.optim.SGD(t_model.params(), lr=torch.tensor(0.05), momentum=0.9)
    for batch in batches(np.float64, 3):
        shared_grad_step(e_model, e_opt, t_model, t_opt, batch)
    assert_same_state(e_opt, t_opt, e_model.params(), t_model.params(), "float64")


def test_a_pytorch_style_subclass_works():
    class PlainSGD(ember.optim.Optimizer):
        def __init__(self, params, lr):
            super().__init__(params, {"lr": lr})

        @ember.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.add_(p.grad, alpha=-group["lr"])

    w = ember.nn.Parameter(ember.tensor([1.0, 2.0]))
    opt = PlainSGD([w], lr=0.5)
    calls = []
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(o))
    (w * w).sum().backward()
    opt.step()
    assert w.tolist() == [0.0, 0.0] and calls == [opt]


def test_required_option_must_be_given():
    class NeedsLr(ember.optim.Optimizer):
        def __init__(self, params, lr=ember.optim.optimizer.required):
            super().__init__(params, {"lr": lr})

    with pytest.raises(ValueError, match="required optimization parameter lr"):
        NeedsLr(fresh_params(ember))
    assert NeedsLr([{"params": fresh_params(ember), "lr": 0.1}]).param_groups[0]["lr"] == 0.1


# ---- hooks -------------------------------------------------------------------------------


def test_step_hooks_run_in_order_and_can_be_removed():
    opt = ember.optim.SGD(fresh_params(ember), lr=0.1)
    log = []
    pre = opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", o is opt)))
    opt.register_step_post_hook(lambda o, a, k: log.append(("post", o is opt)))
    opt.step()
    pre.remove()
    opt.step()
    assert log == [("pre", True), ("post", True), ("post", True)]


def test_step_pre_hook_may_replace_the_arguments():
    opt = ember.optim.SGD(fresh_params(ember), lr=0.1)
    opt.register_step_pre_hook(lambda o, args, kwargs: ((), {"closure": lambda: 7.0}))
    assert opt.step() == 7.0


def test_hooks_run_once_when_a_subclass_step_calls_super():
    class Counting(ember.optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    opt = Counting(fresh_params(ember), lr=0.1)
    calls = []
    opt.register_step_pre_hook(lambda o, a, k: calls.append(1))
    opt.step()
    assert calls == [1]


def test_state_dict_hooks():
    opt = ember.optim.SGD(fresh_params(ember), lr=0.1)
    log = []
    opt.register_state_dict_pre_hook(lambda o: log.append("pre"))
    opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1})
    opt.register_load_state_dict_pre_hook(lambda o, sd: {k: v for k, v in sd.items()
                                                         if k != "extra"})
    opt.register_load_state_dict_post_hook(lambda o: log.append("loaded"))
    sd = opt.state_dict()
    assert sd["extra"] == 1
    opt.load_state_dict(sd)
    assert log == ["pre", "loaded"]


# ---- construction errors -------------------------------------------------------------------


def test_rejects_a_tensor_an_empty_list_a_set_and_non_tensors():
    raises_like(lambda lib: lambda: lib.optim.SGD(lib.zeros(2, requires_grad=True), lr=0.1))
    raises_like(lambda lib: lambda: lib.optim.SGD([], lr=0.1))
    raises_like(lambda lib: lambda: lib.optim.SGD([1.0, 2.0], lr=0.1))
    raises_like(lambda lib: lambda: lib.optim.SGD([{"params": {lib.zeros(2).requires_grad_()}}],
                                                  lr=0.1))


def test_rejects_non_leaf_tensors():
    def make(lib):
        w = lib.zeros(2, requires_grad=True)
        return lambda: lib.optim.SGD([w * 2], lr=0.1)

    raises_like(make)


def test_a_parameter_in_two_groups_raises_and_twice_in_one_warns():
    def make(lib):
        w = lib.nn.Parameter(lib.zeros(2))
        return lambda: lib.optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)

    raises_like(make)
    w = ember.nn.Parameter(ember.zeros(2))
    with pytest.warns(UserWarning, match="duplicate parameters"):
        ember.optim.SGD([w, w], lr=0.1)
    tw = torch.nn.Parameter(torch.zeros(2))
    with pytest.warns(UserWarning, match="duplicate parameters"):
        torch.optim.SGD([tw, tw], lr=0.1)


def test_add_param_group_rejects_non_dicts_and_overlaps():
    def make(lib, group):
        def go():
            w = lib.nn.Parameter(lib.zeros(2))
            opt = lib.optim.SGD([w], lr=0.1)
            opt.add_param_group(group(w))
        return go

    raises_like(lambda lib: make(lib, lambda w: [w]))
    raises_like(lambda lib: make(lib, lambda w: {"params": [w]}))


def test_repr_lists_the_groups_like_torch():
    e = repr(ember.optim.SGD(fresh_params(ember), lr=0.1))
    t = repr(torch.optim.SGD(fresh_params(torch), lr=0.1))
    assert e == t


def test_no_warning_on_a_normal_step():
    opt = ember.optim.Adam(fresh_params(ember))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
