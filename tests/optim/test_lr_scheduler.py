"""Learning-rate schedulers stepped side by side with torch's: every group's lr (and momentum)
at every step, state dict round trips, chaining, and ReduceLROnPlateau on one metric series."""

import copy
import math
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.optim
from ember.optim import lr_scheduler as ember_sched

STEPS = 30


def make_optimizer(lib, kind="SGD", lrs=(0.1, 0.05)):
    """An optimizer with one small parameter per group, each group with its own lr."""
    groups = [{"params": [lib.nn.Parameter(lib.zeros(2))], "lr": lr} for lr in lrs]
    if kind == "SGD":
        return lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    return getattr(lib.optim, kind)(groups, lr=0.1)


def group_values(opt):
    """What a schedule may change: each group's lr, momentum and betas."""
    values = []
    for group in opt.param_groups:
        for key in ("lr", "momentum", "betas"):
            if key in group:
                value = _plain(group[key])
                values += value if isinstance(value, list) else [value]
    return values


def _plain(value):
    if isinstance(value, (torch.Tensor, ember.Tensor)):
        return float(value.item())
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def assert_same_values(e, t, what=""):
    np.testing.assert_allclose(np.array(e, dtype=float), np.array(t, dtype=float),
                               rtol=1e-12, atol=1e-15, err_msg=what)


def compare(build, steps=STEPS, kind="SGD", lrs=(0.1, 0.05), stepper=None):
    """Build the schedule in both libraries and compare after construction and every step.

    Args:
        build: ``build(sched_module, optimizer) -> scheduler``.
        stepper: ``stepper(scheduler, i)`` to step it (default ``scheduler.step()``).
    """
    pairs = []
    for lib, module in ((ember, ember_sched), (torch, torch.optim.lr_scheduler)):
        opt = make_optimizer(lib, kind, lrs)
        pairs.append((opt, build(module, opt)))
    (e_opt, e_sched), (t_opt, t_sched) = pairs
    assert_same_values(group_values(e_opt), group_values(t_opt), "after construction")
    for i in range(steps):
        for opt, sched in pairs:
            opt.step()
            if stepper is None:
                sched.step()
            else:
                stepper(sched, i)
        assert_same_values(group_values(e_opt), group_values(t_opt), f"step {i + 1}")
        for e, t in zip(_as_list(e_sched), _as_list(t_sched)):
            assert_same_values(e.get_last_lr(), t.get_last_lr(), f"last lr {i + 1}")
    return pairs


def _as_list(scheds):
    return scheds if isinstance(scheds, tuple) else (scheds,)


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=3, gamma=0.5),
    "StepLR-1": lambda m, o: m.StepLR(o, step_size=1),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=10),
    "CosineAnnealingLR-eta": lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.01),
    "WarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5),
    "WarmRestarts-mult": lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2,
                                                                     eta_min=0.001),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda epoch: 0.95 ** epoch),
    "LambdaLR-list": lambda m, o: m.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 0.9 ** e]),
    "MultiplicativeLR": lambda m, o: m.MultiplicativeLR(o, lambda epoch: 0.9),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.25, total_iters=8),
    "LinearLR-down": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.1,
                                             total_iters=10),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.5, total_iters=4),
    "ConstantLR-default": lambda m, o: m.ConstantLR(o),
    "PolynomialLR": lambda m, o: m.PolynomialLR(o, total_iters=10, power=2.0),
    "PolynomialLR-default": lambda m, o: m.PolynomialLR(o),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS),
    "OneCycleLR-linear-3phase": lambda m, o: m.OneCycleLR(
        o, max_lr=[1.0, 0.5], epochs=3, steps_per_epoch=10, pct_start=0.25,
        anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0, three_phase=True,
        base_momentum=[0.8, 0.7], max_momentum=0.9),
    "OneCycleLR-no-momentum": lambda m, o: m.OneCycleLR(o, max_lr=0.3, total_steps=40,
                                                        cycle_momentum=False),
    "CyclicLR": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4),
    "CyclicLR-triangular2": lambda m, o: m.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1,
                                                    step_size_up=3, step_size_down=5,
                                                    mode="triangular2"),
    "CyclicLR-exp_range": lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=5,
                                                  mode="exp_range", gamma=0.95),
    "SequentialLR": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=5), m.ExponentialLR(o, gamma=0.9)],
        milestones=[5]),
    "SequentialLR-3": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.5, total_iters=2), m.CosineAnnealingLR(o, T_max=8),
            m.StepLR(o, step_size=4)], milestones=[3, 12]),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler(
        [m.ConstantLR(o, factor=0.5, total_iters=4), m.ExponentialLR(o, gamma=0.9)]),
    "ChainedScheduler-opt": lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, start_factor=0.5, total_iters=6), m.MultiStepLR(o, [4, 8])], optimizer=o),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_matches_torch(name):
    compare(SCHEDULES[name])


@pytest.mark.parametrize("name", ["OneCycleLR", "OneCycleLR-linear-3phase", "CyclicLR"])
@pytest.mark.parametrize("kind", ["Adam", "AdamW"])
def test_momentum_cycles_adams_beta1(name, kind):
    compare(SCHEDULES[name], kind=kind)


def test_onecycle_rejects_stepping_past_total_steps():
    for lib, module in ((ember, ember_sched), (torch, torch.optim.lr_scheduler)):
        opt = make_optimizer(lib)
        sched = module.OneCycleLR(opt, max_lr=1.0, total_steps=3)
        for _ in range(3):
            opt.step()
            sched.step()
        with pytest.raises(ValueError, match="Tried to step 4 times"):
            sched.step()


@pytest.mark.parametrize("build", [
    lambda m, o: (m.StepLR(o, step_size=4, gamma=0.5), m.ExponentialLR(o, gamma=0.95)),
    lambda m, o: (m.CosineAnnealingLR(o, T_max=12), m.MultiStepLR(o, [5, 10], gamma=0.5)),
    lambda m, o: (m.LinearLR(o, start_factor=0.2, total_iters=5),
                  m.CosineAnnealingLR(o, T_max=20, eta_min=0.001)),
], ids=["step+exp", "cosine+multistep", "linear+cosine"])
def test_two_schedulers_on_one_optimizer_chain(build):
    def stepper(scheds, i):
        for s in scheds:
            s.step()

    compare(build, stepper=stepper)


def test_warm_restarts_with_fractional_epochs():
    iters = 4

    def stepper(sched, i):
        sched.step(i // iters + (i % iters) / iters)

    build = SCHEDULES["WarmRestarts-mult"]
    compare(build, steps=12 * iters, stepper=stepper)
    compare(SCHEDULES["WarmRestarts"], steps=12 * iters, stepper=stepper)


def test_warm_restarts_rejects_negative_epochs():
    for module, lib in ((ember_sched, ember), (torch.optim.lr_scheduler, torch)):
        sched = module.CosineAnnealingWarmRestarts(make_optimizer(lib), T_0=3)
        with pytest.raises(ValueError):
            sched.step(-1)


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
                                  "LinearLR", "ConstantLR", "PolynomialLR", "LambdaLR"])
def test_step_with_an_epoch_uses_the_closed_form(name):
    epochs = [1, 2, 5, 3, 9, 10, 4, 15]

    def stepper(sched, i):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched.step(epochs[i])

    compare(SCHEDULES[name], steps=len(epochs), stepper=stepper)


# ---- state dicts ---------------------------------------------------------------------------


ROUND_TRIP = ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR-eta",
              "WarmRestarts-mult", "LinearLR", "ConstantLR", "PolynomialLR", "OneCycleLR",
              "CyclicLR", "SequentialLR-3", "ChainedScheduler", "LambdaLR", "MultiplicativeLR"]


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_state_dict_round_trip_midway(name):
    """Save optimizer and scheduler after 12 steps, restore both into fresh objects, go on:
    the lrs are those of an uninterrupted run, and of torch's."""
    build = SCHEDULES[name]
    t_opt = make_optimizer(torch)
    t_sched = build(torch.optim.lr_scheduler, t_opt)
    e_opt = make_optimizer(ember)
    e_sched = build(ember_sched, e_opt)
    for _ in range(12):
        for opt, sched in ((e_opt, e_sched), (t_opt, t_sched)):
            opt.step()
            sched.step()
    opt_saved, sched_saved = e_opt.state_dict(), copy.deepcopy(e_sched.state_dict())

    e_opt2 = make_optimizer(ember, lrs=(0.7, 0.7))
    e_sched2 = build(ember_sched, e_opt2)
    e_opt2.load_state_dict(opt_saved)
    e_sched2.load_state_dict(sched_saved)
    for i in range(STEPS - 12 if name.startswith("OneCycle") else 15):
        for opt, sched in ((e_opt2, e_sched2), (t_opt, t_sched)):
            opt.step()
            sched.step()
        assert_same_values(group_values(e_opt2), group_values(t_opt), f"resumed step {i}")
        assert_same_values(e_sched2.get_last_lr(), t_sched.get_last_lr())


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_state_dict_has_torchs_keys(name):
    build = SCHEDULES[name]
    e = build(ember_sched, make_optimizer(ember)).state_dict()
    t = build(torch.optim.lr_scheduler, make_optimizer(torch)).state_dict()
    assert sorted(e) == sorted(t)
    for key in ("last_epoch", "base_lrs", "_last_lr", "_step_count"):
        if key in t:
            assert e[key] == t[key], key


def test_torchs_scheduler_state_dict_loads_into_ember():
    t_opt = make_optimizer(torch)
    t_sched = torch.optim.lr_scheduler.CosineAnnealingLR(t_opt, T_max=10, eta_min=0.001)
    for _ in range(7):
        t_opt.step()
        t_sched.step()
    e_opt = make_optimizer(ember)
    e_sched = ember_sched.CosineAnnealingLR(e_opt, T_max=10, eta_min=0.001)
    e_opt.load_state_dict({"state": {}, "param_groups": copy.deepcopy(
        t_opt.state_dict()["param_groups"])})
    e_sched.load_state_dict(copy.deepcopy(t_sched.state_dict()))
    for _ in range(10):
        for opt, sched in ((e_opt, e_sched), (t_opt, t_sched)):
            opt.step()
            sched.step()
        assert_same_values(group_values(e_opt), group_values(t_opt))


def test_lambda_state_dict_keeps_callable_objects_state_only():
    class Decay:
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, epoch):
            return self.rate ** epoch

    opt = make_optimizer(ember)
    sched = ember_sched.LambdaLR(opt, [Decay(0.5), lambda e: 1.0])
    assert sched.state_dict()["lr_lambdas"] == [{"rate": 0.5}, None]
    other = ember_sched.LambdaLR(make_optimizer(ember), [Decay(0.9), lambda e: 1.0])
    other.load_state_dict(sched.state_dict())
    assert other.lr_lambdas[0].rate == 0.5


# ---- ReduceLROnPlateau -----------------------------------------------------------------------


METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.9, 0.89999, 0.91, 0.92, 0.93, 0.5, 0.6, 0.6, 0.6,
           0.61, 0.62, 0.4, 0.41, 0.42, 0.43, 0.44, 0.45, 0.46, 0.2, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]

PLATEAU = [
    {},
    {"patience": 1},
    {"patience": 2, "factor": 0.5, "cooldown": 2},
    {"mode": "max", "patience": 1, "factor": 0.5},
    {"threshold_mode": "abs", "threshold": 0.02, "patience": 1},
    {"mode": "max", "threshold_mode": "abs", "threshold": 0.01, "patience": 0},
    {"patience": 0, "min_lr": [0.01, 0.02], "factor": 0.3},
    {"patience": 0, "min_lr": 0.004, "eps": 1e-3, "factor": 0.5},
]


@pytest.mark.parametrize("kwargs", PLATEAU, ids=str)
def test_reduce_on_plateau_matches_torch(kwargs):
    def stepper(sched, i):
        sched.step(METRICS[i])

    pairs = compare(lambda m, o: m.ReduceLROnPlateau(o, **kwargs), steps=len(METRICS),
                    stepper=stepper)
    (_, e), (_, t) = pairs
    assert (e.best, e.num_bad_epochs, e.cooldown_counter, e.last_epoch) == \
        (t.best, t.num_bad_epochs, t.cooldown_counter, t.last_epoch)


def test_reduce_on_plateau_takes_a_tensor_metric_and_round_trips():
    opt = make_optimizer(ember)
    sched = ember_sched.ReduceLROnPlateau(opt, patience=0)
    sched.step(ember.tensor(1.0))
    sched.step(ember.tensor(2.0))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.005])
    other = ember_sched.ReduceLROnPlateau(make_optimizer(ember), mode="max")
    other.load_state_dict(sched.state_dict())
    assert other.mode == "min" and other.best == 1.0 and other._is_better(0.5, 1.0)


@pytest.mark.parametrize("kwargs", [{"factor": 1.0}, {"mode": "up"}, {"threshold_mode": "x"},
                                    {"min_lr": [0.1]}])
def test_reduce_on_plateau_rejects_what_torch_rejects(kwargs):
    for module, lib in ((ember_sched, ember), (torch.optim.lr_scheduler, torch)):
        with pytest.raises(ValueError):
            module.ReduceLROnPlateau(make_optimizer(lib), **kwargs)


# ---- behaviour around the schedules ----------------------------------------------------------


def test_scheduler_sets_initial_lr_and_base_lrs():
    for module, lib in ((ember_sched, ember), (torch.optim.lr_scheduler, torch)):
        opt = make_optimizer(lib)
        sched = module.StepLR(opt, step_size=2)
        assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]
        assert sched.base_lrs == [0.1, 0.05] and sched.last_epoch == 0


def test_resuming_needs_initial_lr():
    for module, lib in ((ember_sched, ember), (torch.optim.lr_scheduler, torch)):
        with pytest.raises(KeyError):
            module.StepLR(make_optimizer(lib), step_size=2, last_epoch=4)


def test_resuming_with_last_epoch_continues_the_schedule():
    def build(m, o):
        for g in o.param_groups:
            g["initial_lr"] = g["lr"]
        return m.CosineAnnealingLR(o, T_max=10, last_epoch=3)

    compare(build, steps=10)


def test_warns_when_stepped_before_the_optimizer():
    for module, lib in ((ember_sched, ember), (torch.optim.lr_scheduler, torch)):
        sched = module.StepLR(make_optimizer(lib), step_size=2)
        with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
            sched.step()


def test_warns_when_get_lr_is_called_directly():
    for module, lib in ((ember_sched, ember), (torch.optim.lr_scheduler, torch)):
        sched = module.StepLR(make_optimizer(lib), step_size=2)
        with pytest.warns(UserWarning, match="get_last_lr"):
            sched.get_lr()


def test_no_warning_in_the_normal_order():
    opt = make_optimizer(ember)
    sched = ember_sched.ExponentialLR(opt, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            opt.step()
            sched.step()


def test_a_tensor_lr_is_updated_in_place():
    e_opt = ember.optim.SGD([ember.nn.Parameter(ember.zeros(1))], lr=ember.tensor(0.1))
    t_opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=torch.tensor(0.1))
    e_lr, t_lr = e_opt.param_groups[0]["lr"], t_opt.param_groups[0]["lr"]
    e_sched = ember_sched.StepLR(e_opt, step_size=1, gamma=0.5)
    t_sched = torch.optim.lr_scheduler.StepLR(t_opt, step_size=1, gamma=0.5)
    for _ in range(3):
        e_opt.step(), e_sched.step(), t_opt.step(), t_sched.step()
    assert e_opt.param_groups[0]["lr"] is e_lr and math.isclose(e_lr.item(), t_lr.item())
    assert isinstance(e_sched.get_last_lr()[0], ember.Tensor)
    assert e_sched.get_last_lr()[0] is not e_lr


def test_lr_scheduler_alias_and_exports():
    assert issubclass(ember_sched._LRScheduler, ember_sched.LRScheduler)
    missing = set(torch.optim.lr_scheduler.__all__) - set(ember_sched.__all__)
    assert not missing


@pytest.mark.parametrize("make", [
    lambda m, o: m.SequentialLR(o, [m.StepLR(o, 2), m.StepLR(o, 3)], milestones=[]),
    lambda m, o: m.SequentialLR(o, [], milestones=[]),
    lambda m, o: m.SequentialLR(o, [m.ReduceLROnPlateau(o)], milestones=[]),
    lambda m, o: m.ChainedScheduler([]),
    lambda m, o: m.ConstantLR(o, factor=2.0),
    lambda m, o: m.LinearLR(o, start_factor=0.0),
    lambda m, o: m.LinearLR(o, end_factor=1.5),
    lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=0),
    lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0),
    lambda m, o: m.OneCycleLR(o, max_lr=1.0),
    lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1.5),
    lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"),
    lambda m, o: m.OneCycleLR(o, max_lr=[1.0], total_steps=10),
    lambda m, o: m.CyclicLR(o, 0.01, 0.1, mode="sawtooth"),
])
def test_rejects_what_torch_rejects(make):
    for module, lib in ((ember_sched, ember), (torch.optim.lr_scheduler, torch)):
        with pytest.raises(ValueError):
            make(module, make_optimizer(lib))


def test_rejects_a_non_optimizer():
    for module in (ember_sched, torch.optim.lr_scheduler):
        with pytest.raises(TypeError):
            module.StepLR(object(), step_size=1)


def test_cycle_momentum_needs_momentum():
    for module, lib in ((ember_sched, ember), (torch.optim.lr_scheduler, torch)):
        opt = lib.optim.Adagrad([lib.nn.Parameter(lib.zeros(1))])
        with pytest.raises(ValueError, match="momentum"):
            module.OneCycleLR(opt, max_lr=1.0, total_steps=10)
