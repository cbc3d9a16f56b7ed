"""Stochastic gradient descent, with optional momentum, dampening, Nesterov and weight decay."""

import numpy as np

from ember._errors import value_error
from ember.backend.optim_kernels import flat_views, scalars, sgd_step, unused_operand
from ember.optim.optimizer import Optimizer, _as_float, _check_nonnegative, _effective_grad
from ember.tensor import Tensor

__all__ = ["SGD", "sgd_update"]


def sgd_update(param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay,
               nesterov, maximize):
    """One SGD step on NumPy arrays: ``param`` (and ``momentum_buffer``) change in place.

    The rule, PyTorch's::

        g = -grad if maximize else grad
        g = g + weight_decay * param
        if momentum != 0:
            buf = copy of g                              (first step)
            buf = momentum * buf + (1 - dampening) * g   (later steps)
            g = g + momentum * buf if nesterov else buf
        param = param - lr * g

    Args:
        param, grad: arrays of the same shape; ``grad`` is only read.
        momentum_buffer: the array ``buf``, or None before the first step.

    Returns:
        The momentum buffer (a new array on the first step), or None without momentum.

    Contiguous float32/float64 arrays take one compiled pass over memory
    (``ember.backend.optim_kernels.sgd_step``); others, this NumPy code.
    """
    if sgd_step.ready():
        views = flat_views(grad, param, momentum_buffer)
        if views is not None:
            return _sgd_compiled(views, param, momentum_buffer, lr, momentum, dampening,
                                 weight_decay, nesterov, maximize)
    g = _effective_grad(param, grad, weight_decay, maximize)
    if momentum != 0:
        if momentum_buffer is None:
            momentum_buffer = np.array(g)
        else:
            np.multiply(momentum_buffer, momentum, out=momentum_buffer)
            step = g if dampening == 0 else np.multiply(g, 1 - dampening)
            np.add(momentum_buffer, step, out=momentum_buffer)
        if nesterov:
            g = np.add(g, np.multiply(momentum_buffer, momentum))
        else:
            g = momentum_buffer
    np.subtract(param, np.multiply(g, lr), out=param)
    return momentum_buffer


def _sgd_compiled(views, param, momentum_buffer, lr, momentum, dampening, weight_decay,
                  nesterov, maximize):
    """``sgd_update`` in one compiled pass (``ember.backend.optim_kernels.sgd_step``)."""
    grad, flat_param, flat_buf = views
    first = momentum != 0 and momentum_buffer is None
    if first:
        momentum_buffer = np.empty_like(param)
        flat_buf = momentum_buffer.reshape(-1)
    elif momentum == 0:
        flat_buf = unused_operand(param.dtype)  # never read without momentum
    coefs = scalars(param.dtype, lr, weight_decay, momentum, 1 - dampening)
    sgd_step(flat_param, grad, flat_buf, coefs, bool(nesterov), bool(maximize), first)
    return momentum_buffer


class SGD(Optimizer):
    """Stochastic gradient descent (``sgd_update`` holds the rule).

    Args:
        params: tensors, or dicts of parameter groups.
        lr: the learning rate.
        momentum: the momentum factor (0 turns momentum off).
        dampening: scales the gradient's share in the momentum buffer by ``1 - dampening``.
        weight_decay: the L2 penalty added to the gradient.
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: ascend the objective instead of descending it.
        foreach, differentiable, fused: accepted for PyTorch compatibility; ignored.

    Example:
        >>> import ember
        >>> w = ember.nn.Parameter(ember.tensor([1.0, -2.0]))
        >>> opt = SGD([w], lr=0.1, momentum=0.9)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        Parameter containing:
        tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        _check_nonnegative("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise value_error("SGD", "Nesterov momentum requires a momentum and zero dampening")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)

    def _update(self, p, grad, group):
        momentum = group["momentum"]
        # Without momentum SGD keeps no state at all, as in PyTorch.
        state = self.state[p] if momentum != 0 else {}
        buf = state.get("momentum_buffer")
        new = sgd_update(p._data, grad, None if buf is None else buf._data,
                         lr=_as_float(group["lr"]), momentum=momentum,
                         dampening=group["dampening"], weight_decay=group["weight_decay"],
                         nesterov=group["nesterov"], maximize=group["maximize"])
        if momentum != 0 and buf is None:
            state["momentum_buffer"] = Tensor._make(new)

