"""Adagrad: step sizes shrink with the sum of all past squared gradients."""

import numpy as np

from ember.optim.optimizer import (
    Optimizer, _as_float, _check_nonnegative, _effective_grad, _next_step, _step_tensor,
    _zeros_like,
)

__all__ = ["Adagrad", "adagrad_update"]


def adagrad_update(param, grad, state_sum, step, *, lr, lr_decay, weight_decay, eps,
                   maximize):
    """One Adagrad step on NumPy arrays; the parameter and ``state_sum`` change in place.

    The rule, PyTorch's (``t`` is ``step``, already counting this step)::

        g = -grad if maximize else grad
        g = g + weight_decay * param
        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g * g
        param = param - clr * g / (sqrt(sum) + eps)

    Args:
        param, grad, state_sum: arrays of one shape; ``grad`` is only read.
        step: the step number ``t`` (1 on the first step).
    """
    g = _effective_grad(param, grad, weight_decay, maximize)
    clr = lr / (1 + (step - 1) * lr_decay)
    scratch = np.multiply(g, g)
    np.add(state_sum, scratch, out=state_sum)
    std = np.add(np.sqrt(state_sum, out=scratch), eps, out=scratch)
    update = np.multiply(g, -clr)
    np.add(param, np.divide(update, std, out=update), out=param)


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011); ``adagrad_update`` holds the rule.

    Args:
        params: tensors, or dicts of parameter groups.
        lr: the learning rate.
        lr_decay: the learning rate decays as ``lr / (1 + (t - 1) * lr_decay)``.
        weight_decay: the L2 penalty added to the gradient.
        initial_accumulator_value: the starting value of every squared-gradient sum.
        eps: added to the denominator for numerical stability.
        maximize: ascend the objective instead of descending it.
        foreach, differentiable, fused: accepted for PyTorch compatibility; ignored.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        _check_nonnegative("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        # Unlike the others, Adagrad makes its state up front (PyTorch's behaviour).
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["step"] = _step_tensor()
                self.state[p]["sum"] = _zeros_like(p, initial_accumulator_value)

    def _update(self, p, grad, group):
        state = self.state[p]
        if not state:  # a parameter group added after construction
            state["step"] = _step_tensor()
            state["sum"] = _zeros_like(p, self.defaults["initial_accumulator_value"])
        adagrad_update(p._data, grad, state["sum"]._data, _next_step(state),
                       lr=_as_float(group["lr"]), lr_decay=group["lr_decay"],
                       weight_decay=group["weight_decay"], eps=group["eps"],
                       maximize=group["maximize"])

    def share_memory(self):
        """A no-op kept for PyTorch compatibility (ember's worker processes share nothing)."""
