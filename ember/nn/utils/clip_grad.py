"""Gradient clipping: rescale all gradients together so that their joint norm is at most
``max_norm`` (``clip_grad_norm_``), or clamp each gradient element (``clip_grad_value_``).

The norms are computed on the NumPy arrays directly: clipping runs once per training step
outside autograd, so there is no graph to record and no reason to pay for Tensor ops.
"""

import functools
import types
import warnings

import numpy as np

from ember import _dtype
from ember._errors import runtime_error
from ember.autograd.grad_mode import no_grad
from ember.creation import tensor
from ember.tensor import Tensor

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm"]


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _vector_norm(array, p):
    """``torch.linalg.vector_norm(array, p)`` of the flattened array, in its dtype."""
    x = array.ravel()
    if x.dtype == np.float16:  # accumulate half precision in single, as PyTorch does
        return _vector_norm(x.astype(np.float32), p).astype(np.float16)
    if p == 2.0:
        return np.sqrt(np.vdot(x, x))
    if p == 1.0:
        return np.abs(x).sum()
    if p == float("inf"):
        return np.abs(x).max(initial=0).astype(x.dtype)
    if p == float("-inf"):
        return np.abs(x).min(initial=float("inf")).astype(x.dtype)
    if p == 0.0:
        return np.asarray(np.count_nonzero(x), dtype=x.dtype)
    return (np.abs(x) ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of all ``tensors`` viewed as one vector: the norm of their
    individual norms.

    Args:
        tensors: a Tensor or an iterable of Tensors (usually gradients).
        norm_type: ``p`` of the p-norm; ``inf`` for the largest absolute value.
        error_if_nonfinite: raise a RuntimeError if the total norm is nan or infinite.
        foreach: accepted for PyTorch compatibility; ember has one implementation.

    Returns:
        A 0-dim Tensor (``tensor(0.)`` for no tensors).
    """
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    norms = [_vector_norm(t._data, norm_type) for t in tensors]
    dtype = functools.reduce(_dtype.promote_types, (t.dtype for t in tensors))
    total = _vector_norm(np.asarray(norms, dtype=dtype.np), norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise runtime_error(
            "clip_grad_norm_", f"The total norm of order {norm_type} for gradients from "
            "`parameters` is non-finite, so it cannot be clipped. To disable this error and "
            "scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`")
    return tensor(total, dtype=dtype)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale every gradient in place by ``min(max_norm / (total_norm + 1e-6), 1)``.

    Args:
        parameters: a Tensor or an iterable of Tensors whose ``.grad`` is scaled (those
            without a gradient are skipped).
        max_norm: the largest allowed total norm.
        total_norm: the precomputed total norm (from ``get_total_norm``).
        foreach: accepted for PyTorch compatibility.
    """
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    coef = np.minimum(float(max_norm) / (total + total.dtype.type(1e-6)), 1.0)
    coef = tensor(coef, dtype=total.dtype)
    with no_grad():
        for g in grads:
            g.mul_(coef)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Rescale the gradients of ``parameters`` in place so that their total norm is at
    most ``max_norm``: ``g *= min(max_norm / (total_norm + 1e-6), 1)``.

    Args:
        parameters: a Tensor or an iterable of Tensors; those whose ``grad`` is None are
            skipped.
        max_norm: the largest allowed total norm.
        norm_type: ``p`` of the p-norm; ``inf`` for the largest absolute value.
        error_if_nonfinite: raise a RuntimeError if the total norm is nan or infinite
            (otherwise the gradients are scaled by it anyway).
        foreach: accepted for PyTorch compatibility.

    Returns:
        The total norm of the gradients before clipping, a 0-dim Tensor.

    Example:
        >>> import ember
        >>> w = ember.ones(4, requires_grad=True)
        >>> (w * 3).sum().backward()
        >>> clip_grad_norm_([w], max_norm=1.0).item()
        6.0
        >>> round(w.grad.norm().item(), 4)
        1.0
    """
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = _as_list(parameters)
    if is_generator and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                      stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                   foreach=None):
    """Deprecated spelling of ``clip_grad_norm_``."""
    warnings.warn("`ember.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`ember.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element of ``parameters`` in place to
    ``[-clip_value, clip_value]``.

    Args:
        parameters: a Tensor or an iterable of Tensors; those whose ``grad`` is None are
            skipped.
        clip_value: the largest allowed absolute value.
        foreach: accepted for PyTorch compatibility.
    """
    clip_value = float(clip_value)
    with no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                p.grad.clamp_(min=-clip_value, max=clip_value)
