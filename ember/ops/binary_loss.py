"""Losses on probabilities: binary cross-entropy (on probabilities and on logits) and
kl_div, with the ``reduction`` machinery of ``loss.py``."""

import warnings

import numpy as np

from ember._errors import fmt_shape, runtime_error, shape_error
from ember.autograd.node import Op
from ember.ops.loss import legacy_reduction, reduce_loss
from ember.tensor import Tensor

# torch.kl_div and torch.binary_cross_entropy_with_logits take the reduction as an enum
# int in another position than F's; only the functional forms are exported.
__all__ = []

_make = Tensor._make


def _same_size(op, input, target):  # noqa: A002
    if target._data.shape != input._data.shape:
        raise shape_error(op, f"using a target of shape {fmt_shape(target._data.shape)} that "
                              f"is different from the input's shape "
                              f"{fmt_shape(input._data.shape)} is not supported; please "
                              "ensure they have the same size")


class BinaryCrossEntropy(Op):
    """``-(t log x + (1 - t) log(1 - x))`` with each log clamped at -100, as in PyTorch.

    d/dx = (x - t) / max(x (1 - x), 1e-12); d/dt = log(1 - x) - log(x) (clamped logs).
    """

    def forward(self, x, t):
        self.save_inputs(0, 1)
        if ((x < 0) | (x > 1)).any():
            raise runtime_error("binary_cross_entropy",
                                "all elements of input should be between 0 and 1")
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100.0)
            log_1mx = np.maximum(np.log1p(-x), -100.0)
        return -(t * (log_x - log_1mx) + log_1mx)

    def backward(self, grad_out):
        x, t = self.saved_inputs
        need_x, need_t = self.needs_input_grad
        grad_x = grad_out * (x - t) / (x * (1 - x)).clamp_min(1e-12) if need_x else None
        grad_t = None
        if need_t:
            grad_t = grad_out * ((-x).log1p().clamp_min(-100.0) - x.log().clamp_min(-100.0))
        return grad_x, grad_t


def binary_cross_entropy(input, target, weight=None, size_average=None,  # noqa: A002
                         reduce=None, reduction="mean"):
    """Binary cross-entropy of probabilities: ``-w (t log x + (1 - t) log(1 - x))``.

    Each log is clamped at -100, so ``x`` of exactly 0 or 1 gives a finite loss.

    Args:
        input: probabilities in ``[0, 1]``, any shape.
        target: the input's shape.
        weight: broadcastable to the input, or None.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss: a scalar, or the input's shape with ``reduction='none'``.
    """
    reduction = legacy_reduction("binary_cross_entropy", size_average, reduce, reduction)
    _same_size("binary_cross_entropy", input, target)
    loss = BinaryCrossEntropy.apply(input, target.to(input.dtype))
    if weight is not None:
        loss = loss * weight
    return reduce_loss(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,  # noqa: A002
                                     reduce=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy of logits, computed stably (never ``log(sigmoid(x))`` directly).

    ``loss = -w (p t log(sigmoid(x)) + (1 - t) log(1 - sigmoid(x)))``
    ``     = w ((1 - t) x - (1 + (p - 1) t) logsigmoid(x))`` with ``p = pos_weight``.

    Args:
        input: logits, any shape.
        target: the input's shape (probabilities in ``[0, 1]``).
        weight: broadcastable to the input, or None.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        pos_weight: weight of positive examples, broadcastable to the input (usually
            ``(C,)``), or None.

    Returns:
        The loss: a scalar, or the input's shape with ``reduction='none'``.
    """
    from ember.ops.activation import logsigmoid

    reduction = legacy_reduction("binary_cross_entropy_with_logits", size_average, reduce,
                                 reduction)
    _same_size("binary_cross_entropy_with_logits", input, target)
    log_sig = logsigmoid(input)
    if pos_weight is None:
        loss = (1 - target) * input - log_sig
    else:
        loss = (1 - target) * input - (1 + (pos_weight - 1) * target) * log_sig
    if weight is not None:
        loss = loss * weight
    return reduce_loss(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean",  # noqa: A002
           log_target=False):
    """Kullback-Leibler divergence ``target * (log(target) - input)`` (input: log-probs).

    With ``log_target`` the target is given as log-probabilities:
    ``exp(target) * (target - input)``. ``reduction='batchmean'`` divides the sum by the
    batch size (the mathematically correct KL); ``'mean'`` by the number of elements.

    Args:
        input: log-probabilities, any shape.
        target: broadcastable to the input.
        reduction: ``'none'`` | ``'batchmean'`` | ``'mean'`` | ``'sum'``.
        log_target: whether ``target`` holds log-probabilities.

    Returns:
        The loss: a scalar, or the broadcast shape with ``reduction='none'``.
    """
    reduction = legacy_reduction("kl_div", size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns "
                      "with the KL div math definition.'mean' will be changed to behave the "
                      "same as 'batchmean' in the next major release.", stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = target.xlogy(target) - target * input
    if reduction == "batchmean":
        batch = input._data.shape[0] if input._data.ndim else 1
        return reduce_loss(loss, "mean", batch)
    return reduce_loss(loss, reduction)


METHODS = {}

FUNCTIONAL = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]
