"""Cyclical schedules, stepped every batch: the 1cycle policy and cyclical learning rates.

Both can cycle the momentum inversely to the lr: the group's ``'momentum'`` (SGD,
RMSprop) or the first of its ``'betas'`` (Adam, AdamW).
"""

import math
import types
from functools import partial

from ember._errors import type_error, value_error
from ember.optim.lr_scheduler.scheduler import (
    LRScheduler, _per_group, _set_group_value, _warn_if_called_outside_step,
)
from ember.optim.optimizer import Optimizer

__all__ = ["OneCycleLR", "CyclicLR"]


def _check_optimizer(name, optimizer):
    if not isinstance(optimizer, Optimizer):
        raise type_error(name, f"{type(optimizer).__name__} is not an Optimizer")


def _uses_beta1(name, optimizer):
    """Whether momentum lives in ``betas[0]`` (Adam) rather than ``'momentum'`` (SGD)."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise value_error(name, "optimizer must support momentum or beta1 with "
                          "`cycle_momentum` option enabled")
    return "betas" in optimizer.defaults


def _set_momentum(group, momentum, use_beta1):
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018): warm up to ``max_lr``, then anneal far below
    the start; step it after every batch.

    The lr rises from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of
    the ``total_steps``, then falls to ``initial_lr / final_div_factor`` (with
    ``three_phase``, it first falls back to the initial lr symmetrically, then to the
    minimum). Momentum moves the opposite way between ``max_momentum`` and
    ``base_momentum``. Not chainable.

    Args:
        optimizer: the optimizer to schedule.
        max_lr: the peak lr, or one per parameter group.
        total_steps: the number of steps of the cycle; or give ``epochs`` and
            ``steps_per_epoch``.
        epochs, steps_per_epoch: make ``total_steps = epochs * steps_per_epoch``.
        pct_start: the fraction of the cycle spent increasing the lr.
        anneal_strategy: ``'cos'`` or ``'linear'``.
        cycle_momentum: cycle the momentum (or Adam's beta1) inversely to the lr.
        base_momentum, max_momentum: the momentum at the lr's peak and at its ends.
        div_factor: ``initial_lr = max_lr / div_factor``.
        final_div_factor: ``min_lr = initial_lr / final_div_factor``.
        three_phase: use the three-phase schedule of the original paper.
        last_epoch: the index of the last batch (-1 to start).
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        _check_optimizer("OneCycleLR", optimizer)
        self.optimizer = optimizer
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        self._schedule_phases = _phases(self.total_steps, pct_start, three_phase)
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise value_error("OneCycleLR",
                              f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise value_error("OneCycleLR", "anneal_strategy must be one of 'cos' or 'linear', "
                              f"instead got {anneal_strategy}")
        self._anneal_func_type = anneal_strategy
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for top, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _uses_beta1("OneCycleLR", optimizer)
            tops = _per_group("max_momentum", optimizer, max_momentum)
            bases = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for top, base, group in zip(tops, bases, optimizer.param_groups):
                    _set_momentum(group, top, self.use_beta1)
                    group["max_momentum"] = top
                    group["base_momentum"] = base
        super().__init__(optimizer, last_epoch)

    def _anneal_func(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        _warn_if_called_outside_step(self)
        step = self.last_epoch
        if step > self.total_steps:
            raise value_error("OneCycleLR", f"Tried to step {step} times. The specified number "
                              f"of total steps is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or i == len(self._schedule_phases) - 1:
                    pct = (step - start) / (end - start)
                    break
                start = end
            lrs.append(self._anneal_func(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                momentum = self._anneal_func(group[phase["start_momentum"]],
                                             group[phase["end_momentum"]], pct)
                _set_momentum(group, momentum, self.use_beta1)
        return lrs


def _total_steps(total_steps, epochs, steps_per_epoch):
    if total_steps is not None:
        if not isinstance(total_steps, int) or total_steps <= 0:
            raise value_error("OneCycleLR",
                              f"Expected positive integer total_steps, but got {total_steps}")
        return total_steps
    if epochs is not None and steps_per_epoch is not None:
        if not isinstance(epochs, int) or epochs <= 0:
            raise value_error("OneCycleLR", f"Expected positive integer epochs, but got {epochs}")
        if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
            raise value_error("OneCycleLR", "Expected positive integer steps_per_epoch, but "
                              f"got {steps_per_epoch}")
        return epochs * steps_per_epoch
    raise value_error("OneCycleLR",
                      "You must define either total_steps OR (epochs AND steps_per_epoch)")


def _phases(total_steps, pct_start, three_phase):
    """The phases of the cycle: where each ends and which group keys it moves between."""
    def phase(end_step, lrs, momenta):
        return {"end_step": end_step, "start_lr": lrs[0], "end_lr": lrs[1],
                "start_momentum": momenta[0], "end_momentum": momenta[1]}

    up = phase(float(pct_start * total_steps) - 1, ("initial_lr", "max_lr"),
               ("max_momentum", "base_momentum"))
    if three_phase:
        return [up,
                phase(float(2 * pct_start * total_steps) - 2, ("max_lr", "initial_lr"),
                      ("base_momentum", "max_momentum")),
                phase(total_steps - 1, ("initial_lr", "min_lr"),
                      ("max_momentum", "max_momentum"))]
    return [up, phase(total_steps - 1, ("max_lr", "min_lr"), ("base_momentum", "max_momentum"))]


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith, 2017): the lr runs between ``base_lr`` and ``max_lr``
    in triangles of ``step_size_up + step_size_down`` batches; step it after every batch.

    Args:
        optimizer: the optimizer to schedule.
        base_lr, max_lr: the lower and upper bound of the cycle (or one per group).
        step_size_up, step_size_down: batches in the rising and the falling half
            (``step_size_down`` defaults to ``step_size_up``).
        mode: ``'triangular'`` (constant amplitude), ``'triangular2'`` (halved every
            cycle) or ``'exp_range'`` (scaled by ``gamma ** iterations``).
        gamma: the base of ``'exp_range'``.
        scale_fn: a custom amplitude scale of one argument (overrides ``mode``).
        scale_mode: whether ``scale_fn`` takes the cycle number or the iteration.
        cycle_momentum: cycle the momentum (or Adam's beta1) inversely to the lr.
        base_momentum, max_momentum: the bounds of the momentum.
        last_epoch: the index of the last batch (-1 to start).
    """

    def __init__(self, optimizer, base_lr, max_lr, step_size_up=2000, step_size_down=None,
                 mode="triangular", gamma=1.0, scale_fn=None, scale_mode="cycle",
                 cycle_momentum=True, base_momentum=0.8, max_momentum=0.9, last_epoch=-1):
        _check_optimizer("CyclicLR", optimizer)
        self.optimizer = optimizer
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                _set_group_value(group, "lr", lr)
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise value_error("CyclicLR", "mode is invalid and scale_fn is None")
        self.mode, self.gamma = mode, gamma
        self._scale_fn_custom, self.scale_mode = scale_fn, scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _uses_beta1("CyclicLR", optimizer)
            self.base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            self.max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for top, base, group in zip(self.max_momentums, self.base_momentums,
                                            optimizer.param_groups):
                    _set_momentum(group, top, self.use_beta1)
                    group["max_momentum"], group["base_momentum"] = top, base
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self):
        if self._scale_fn_custom is not None:
            return
        if self.mode == "triangular":
            self._scale_fn_ref, self.scale_mode = _constant_scale, "cycle"
        elif self.mode == "triangular2":
            self._scale_fn_ref, self.scale_mode = _halving_scale, "cycle"
        else:
            self._scale_fn_ref, self.scale_mode = partial(_power_scale, self.gamma), "iterations"

    def scale_fn(self, x):
        """The amplitude's scale at cycle (or iteration) ``x``."""
        fn = self._scale_fn_custom if self._scale_fn_custom is not None else self._scale_fn_ref
        return fn(x)

    def get_lr(self):
        _warn_if_called_outside_step(self)
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale = x / self.step_ratio
        else:
            scale = (x - 1) / (self.step_ratio - 1)
        amplitude = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base + (top - base) * scale * amplitude
               for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for base, top, group in zip(self.base_momentums, self.max_momentums,
                                        self.optimizer.param_groups):
                _set_momentum(group, top - (top - base) * scale * amplitude, self.use_beta1)
        return lrs

    def state_dict(self):
        """The attributes; a custom ``scale_fn`` object's ``__dict__`` is kept, a function's
        is not."""
        state = super().state_dict()
        state.pop("_scale_fn_ref", None)
        fn = state.pop("_scale_fn_custom")
        keep = fn is not None and not isinstance(fn, types.FunctionType)
        state["_scale_fn_custom"] = fn.__dict__.copy() if keep else None
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        fn = state_dict.pop("_scale_fn_custom")
        super().load_state_dict(state_dict)
        if fn is not None:
            self._scale_fn_custom.__dict__.update(fn)
        self._init_scale_fn()


def _constant_scale(x):
    return 1.0


def _halving_scale(x):
    return 1 / (2.0 ** (x - 1))


def _power_scale(gamma, x):
    return gamma ** x
