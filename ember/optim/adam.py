"""Adam: per-parameter step sizes from running averages of the gradient and its square."""

import numpy as np

from ember._errors import value_error
from ember.backend.optim_kernels import adam_step, flat_views, scalars, unused_operand
from ember.optim.optimizer import (
    Optimizer, _as_float, _check_nonnegative, _effective_grad, _lerp_, _next_step,
    _step_tensor, _zeros_like,
)

__all__ = ["Adam", "adam_update"]


def adam_update(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, *, lr, beta1, beta2,
                eps, weight_decay, amsgrad, maximize, decoupled_weight_decay):
    """One Adam (or AdamW) step on NumPy arrays; the parameter and the averages change in place.

    The rule, PyTorch's (``t`` is ``step``, already counting this step)::

        g = -grad if maximize else grad
        if decoupled_weight_decay:   param = param * (1 - lr * weight_decay)    (AdamW)
        else:                        g = g + weight_decay * param
        exp_avg = exp_avg + (1 - beta1) * (g - exp_avg)
        exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g * g
        v = exp_avg_sq, or with amsgrad max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)
        denom = sqrt(v) / sqrt(1 - beta2 ** t) + eps
        param = param - lr / (1 - beta1 ** t) * exp_avg / denom

    Args:
        param, grad, exp_avg, exp_avg_sq: arrays of one shape; ``grad`` is only read.
        max_exp_avg_sq: the running maximum for amsgrad (None without it).
        step: the step number ``t`` (1 on the first step).

    Contiguous float32/float64 arrays take one compiled pass over memory
    (``ember.backend.optim_kernels.adam_step``); others, this NumPy code.
    """
    if adam_step.ready():
        views = flat_views(grad, param, exp_avg, exp_avg_sq, max_exp_avg_sq)
        if views is not None:
            w1 = 1 - beta1
            coefs = scalars(param.dtype, 1 - lr * weight_decay, weight_decay, w1, 1 - w1, beta2,
                            1 - beta2, lr / (1 - beta1 ** step), (1 - beta2 ** step) ** 0.5,
                            eps)
            grad, param, exp_avg, exp_avg_sq, max_sq = views
            if max_sq is None:
                max_sq = unused_operand(param.dtype)
            adam_step(param, grad, exp_avg, exp_avg_sq, max_sq,
                      coefs, bool(decoupled_weight_decay), bool(amsgrad), bool(maximize))
            return
    if decoupled_weight_decay:
        if weight_decay != 0:
            np.multiply(param, 1 - lr * weight_decay, out=param)
        g = _effective_grad(param, grad, 0, maximize)
    else:
        g = _effective_grad(param, grad, weight_decay, maximize)
    scratch = np.empty_like(param)
    _lerp_(exp_avg, g, 1 - beta1, scratch)
    np.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
    np.multiply(g, 1 - beta2, out=scratch)
    np.add(exp_avg_sq, np.multiply(scratch, g, out=scratch), out=exp_avg_sq)
    if amsgrad:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    step_size = lr / (1 - beta1 ** step)
    denom = np.sqrt(max_exp_avg_sq if amsgrad else exp_avg_sq, out=scratch)
    np.divide(denom, (1 - beta2 ** step) ** 0.5, out=denom)
    np.add(denom, eps, out=denom)
    update = np.multiply(exp_avg, -step_size)
    np.add(param, np.divide(update, denom, out=update), out=param)


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), with optional amsgrad; ``adam_update`` holds the rule.

    Args:
        params: tensors, or dicts of parameter groups.
        lr: the learning rate.
        betas: the decay rates ``(beta1, beta2)`` of the two running averages.
        eps: added to the denominator for numerical stability.
        weight_decay: the L2 penalty added to the gradient (or, with
            ``decoupled_weight_decay=True``, the AdamW decay of the weights).
        amsgrad: divide by the running maximum of the second moment.
        maximize: ascend the objective instead of descending it.
        decoupled_weight_decay: decay the weights directly, as AdamW does.
        foreach, capturable, differentiable, fused: accepted for PyTorch compatibility;
            ignored.

    Example:
        >>> import ember
        >>> w = ember.nn.Parameter(ember.tensor([1.0, -2.0]))
        >>> opt = Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        name = type(self).__name__
        _check_nonnegative(name, lr=lr, eps=eps)
        for i, beta in enumerate(betas):
            if not 0.0 <= _as_float(beta) < 1.0:
                raise value_error(name, f"Invalid beta parameter at index {i}: {beta}")
        _check_nonnegative(name, weight_decay=weight_decay)
        defaults = {"lr": lr, "betas": tuple(_as_float(b) for b in betas), "eps": eps,
                    "weight_decay": weight_decay, "amsgrad": amsgrad, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable, "differentiable": differentiable,
                    "fused": fused, "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _update(self, p, grad, group):
        state = self.state[p]
        if not state:
            state["step"] = _step_tensor()
            state["exp_avg"] = _zeros_like(p)
            state["exp_avg_sq"] = _zeros_like(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = _zeros_like(p)
        beta1, beta2 = group["betas"]
        amsgrad = group["amsgrad"]
        adam_update(p._data, grad, state["exp_avg"]._data, state["exp_avg_sq"]._data,
                    state["max_exp_avg_sq"]._data if amsgrad else None, _next_step(state),
                    lr=_as_float(group["lr"]), beta1=_as_float(beta1), beta2=_as_float(beta2),
                    eps=group["eps"], weight_decay=group["weight_decay"], amsgrad=amsgrad,
                    maximize=group["maximize"],
                    decoupled_weight_decay=group["decoupled_weight_decay"])
