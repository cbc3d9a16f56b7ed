"""Comparable forms of batches from ember and torch."""

import numpy as np
import torch

import ember


def canon(obj):
    """A comparable form that keeps container types and tensor dtypes."""
    if isinstance(obj, (ember.Tensor, torch.Tensor)):
        return ("tensor", str(obj.dtype).split(".")[-1], tuple(obj.shape), obj.tolist())
    if isinstance(obj, dict):
        return ("dict", {k: canon(v) for k, v in obj.items()})
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__, tuple(canon(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, [canon(v) for v in obj])
    if isinstance(obj, np.ndarray):
        return ("ndarray", str(obj.dtype), obj.tolist())
    return (type(obj).__name__, obj)


def epoch(loader):
    """One pass over ``loader`` in comparable form."""
    return [canon(b) for b in loader]
