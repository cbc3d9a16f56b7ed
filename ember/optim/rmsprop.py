"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

import numpy as np

from ember.optim.optimizer import (
    Optimizer, _as_float, _check_nonnegative, _effective_grad, _lerp_, _next_step,
    _step_tensor, _zeros_like,
)

__all__ = ["RMSprop", "rmsprop_update"]


def rmsprop_update(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps,
                   weight_decay, momentum, centered, maximize):
    """One RMSprop step on NumPy arrays; the parameter and the buffers change in place.

    The rule, PyTorch's::

        g = -grad if maximize else grad
        g = g + weight_decay * param
        square_avg = alpha * square_avg + (1 - alpha) * g * g
        if centered:
            grad_avg = grad_avg + (1 - alpha) * (g - grad_avg)
            avg = sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = sqrt(square_avg) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg
            param = param - lr * buf
        else:
            param = param - lr * g / avg

    Args:
        param, grad, square_avg: arrays of one shape; ``grad`` is only read.
        grad_avg: the running mean of the gradient (None unless centered).
        momentum_buffer: ``buf`` (None unless momentum > 0).
    """
    g = _effective_grad(param, grad, weight_decay, maximize)
    scratch = np.empty_like(param)
    np.multiply(square_avg, alpha, out=square_avg)
    np.multiply(g, 1 - alpha, out=scratch)
    np.add(square_avg, np.multiply(scratch, g, out=scratch), out=square_avg)
    if centered:
        _lerp_(grad_avg, g, 1 - alpha, scratch)
        avg = np.multiply(grad_avg, -1.0, out=scratch)
        np.multiply(avg, grad_avg, out=avg)
        np.sqrt(np.add(square_avg, avg, out=avg), out=avg)
    else:
        avg = np.sqrt(square_avg, out=scratch)
    np.add(avg, eps, out=avg)
    if momentum > 0:
        np.multiply(momentum_buffer, momentum, out=momentum_buffer)
        np.add(momentum_buffer, np.divide(g, avg, out=avg), out=momentum_buffer)
        np.subtract(param, np.multiply(momentum_buffer, lr, out=avg), out=param)
    else:
        update = np.multiply(g, -lr)
        np.add(param, np.divide(update, avg, out=update), out=param)


class RMSprop(Optimizer):
    """RMSprop (Hinton's lecture 6e), optionally centered and with momentum.

    ``rmsprop_update`` holds the rule.

    Args:
        params: tensors, or dicts of parameter groups.
        lr: the learning rate.
        alpha: the smoothing constant of the running average of squared gradients.
        eps: added to the denominator for numerical stability.
        weight_decay: the L2 penalty added to the gradient.
        momentum: the momentum factor (0 turns momentum off).
        centered: normalize by an estimate of the gradient's variance instead.
        maximize: ascend the objective instead of descending it.
        capturable, foreach, differentiable: accepted for PyTorch compatibility; ignored.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _check_nonnegative("RMSprop", lr=lr, eps=eps, momentum=momentum,
                           weight_decay=weight_decay, alpha=alpha)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "capturable": capturable,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _update(self, p, grad, group):
        state = self.state[p]
        momentum, centered = group["momentum"], group["centered"]
        if not state:
            state["step"] = _step_tensor()
            state["square_avg"] = _zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = _zeros_like(p)
            if centered:
                state["grad_avg"] = _zeros_like(p)
        _next_step(state)
        rmsprop_update(p._data, grad, state["square_avg"]._data,
                       state["grad_avg"]._data if centered else None,
                       state["momentum_buffer"]._data if momentum > 0 else None,
                       lr=_as_float(group["lr"]), alpha=group["alpha"], eps=group["eps"],
                       weight_decay=group["weight_decay"], momentum=momentum,
                       centered=centered, maximize=group["maximize"])
