"""Adadelta: step sizes from the ratio of running RMS of updates and of gradients."""

import numpy as np

from ember._errors import value_error
from ember.optim.optimizer import (
    Optimizer, _as_float, _check_nonnegative, _effective_grad, _next_step, _step_tensor,
    _zeros_like,
)

__all__ = ["Adadelta", "adadelta_update"]


def adadelta_update(param, grad, square_avg, acc_delta, *, lr, rho, eps, weight_decay,
                    maximize):
    """One Adadelta step on NumPy arrays; the parameter and the buffers change in place.

    The rule, PyTorch's::

        g = -grad if maximize else grad
        g = g + weight_decay * param
        square_avg = rho * square_avg + (1 - rho) * g * g
        delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
        acc_delta = rho * acc_delta + (1 - rho) * delta * delta
        param = param - lr * delta

    Args:
        param, grad, square_avg, acc_delta: arrays of one shape; ``grad`` is only read.
    """
    g = _effective_grad(param, grad, weight_decay, maximize)
    scratch = np.multiply(g, 1 - rho)
    np.multiply(square_avg, rho, out=square_avg)
    np.add(square_avg, np.multiply(scratch, g, out=scratch), out=square_avg)
    std = np.sqrt(np.add(square_avg, eps, out=scratch), out=scratch)
    delta = np.sqrt(np.add(acc_delta, eps))
    np.multiply(np.divide(delta, std, out=delta), g, out=delta)
    np.multiply(acc_delta, rho, out=acc_delta)
    np.multiply(delta, 1 - rho, out=scratch)
    np.add(acc_delta, np.multiply(scratch, delta, out=scratch), out=acc_delta)
    np.subtract(param, np.multiply(delta, lr, out=delta), out=param)


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012); ``adadelta_update`` holds the rule.

    Args:
        params: tensors, or dicts of parameter groups.
        lr: scales the update (1.0 is the paper's rule).
        rho: the decay rate of both running averages.
        eps: added inside both square roots for numerical stability.
        weight_decay: the L2 penalty added to the gradient.
        maximize: ascend the objective instead of descending it.
        foreach, capturable, differentiable: accepted for PyTorch compatibility; ignored.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check_nonnegative("Adadelta", lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise value_error("Adadelta", f"Invalid rho value: {rho}")
        _check_nonnegative("Adadelta", eps=eps, weight_decay=weight_decay)
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, p, grad, group):
        state = self.state[p]
        if not state:
            state["step"] = _step_tensor()
            state["square_avg"] = _zeros_like(p)
            state["acc_delta"] = _zeros_like(p)
        _next_step(state)
        adadelta_update(p._data, grad, state["square_avg"]._data, state["acc_delta"]._data,
                        lr=_as_float(group["lr"]), rho=group["rho"], eps=group["eps"],
                        weight_decay=group["weight_decay"], maximize=group["maximize"])
