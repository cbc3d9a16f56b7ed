"""Dropout: zero random elements (or whole channels) in training, scaling the rest.

``dropout`` keeps each element with probability ``1 - p`` and scales it by
``1 / (1 - p)``, so the expected value is unchanged; ``dropout1d/2d/3d`` (feature
dropout) draw one keep-or-drop per channel ``(n, c)`` instead. ``alpha_dropout`` keeps
the mean and variance of SELU activations by setting dropped elements to SELU's negative
saturation value and applying an affine correction.

The random masks come from ember's default generator, so ``ember.manual_seed`` makes
them reproducible (they differ from PyTorch's, whose generator is another). The mask is
a constant array: the output is ``x * noise (+ shift)`` through the ``Mul`` op, so the
gradient is ``grad * noise`` and differentiable again. Outside training (or with
``p = 0``) every function returns ``input`` itself, as PyTorch does.
"""

import math
import warnings

import numpy as np

from ember._errors import runtime_error, value_error
from ember.autograd.traceable import traceable
from ember.ops._inplace import apply_inplace
from ember.ops.arithmetic import Mul
from ember.random import numpy_generator
from ember.tensor import Tensor

__all__ = ["dropout", "dropout_", "feature_dropout", "feature_dropout_", "alpha_dropout",
           "alpha_dropout_", "feature_alpha_dropout", "feature_alpha_dropout_"]

_make = Tensor._make
# SELU's negative saturation value, -scale * alpha.
_ALPHA = 1.7580993408473766


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise value_error("dropout", f"dropout probability has to be between 0 and 1, "
                                     f"but got {p}")


def _noise_shape(input, feature, name):  # noqa: A002 - PyTorch's name
    shape = input._data.shape
    if not feature:
        return shape
    if len(shape) < 2:
        raise runtime_error(name, "Feature dropout requires at least 2 dimensions in the "
                                  f"input, got shape {tuple(shape)}")
    return shape[:2] + (1,) * (len(shape) - 2)


@traceable("dropout")
def _dropped(input, p, feature, alpha, name):  # noqa: A002
    """The training-mode result: ``input * noise`` (plus the alpha-dropout shift).

    One call of a captured graph (``@traceable``): recorded as its ops, the noise would be
    a constant, and every replay of a compiled training step would drop the same units.
    """
    if input._data.dtype.kind != "f":
        raise runtime_error(name, f"result type Float can't be cast to the desired output "
                                  f"type {input.dtype.name}: dropout needs a floating tensor")
    dtype = input._data.dtype
    if p == 1:
        return Mul.apply(input, _make(np.zeros((), dtype)))
    shape = _noise_shape(input, feature, name)
    keep = numpy_generator().random(shape, dtype=np.float32) >= p
    if not alpha:
        noise = keep.astype(dtype)
        noise *= 1 / (1 - p)
        return Mul.apply(input, _make(noise))
    a = 1 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    noise = keep.astype(dtype)
    # b = alpha * a * (keep - 1 + p): 0-mean correction; dropped elements land at -alpha * a.
    shift = (noise - (1 - p)) * (_ALPHA * a)
    noise *= a
    return Mul.apply(input, _make(noise)) + _make(shift)


def _dropout(input, p, train, inplace, feature, alpha, name):  # noqa: A002
    _check_p(p)
    if p == 0 or not train or input._data.size == 0:
        return input
    if inplace:
        return apply_inplace(name + "_", lambda t: _dropped(t, p, feature, alpha, name), input)
    return _dropped(input, p, feature, alpha, name)


def dropout(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Args:
        input: floating tensor of any shape.
        p: probability of an element to be zeroed, in [0, 1].
        training: apply dropout; when False, return ``input`` unchanged.
        inplace: overwrite ``input``.

    Returns:
        A tensor of ``input``'s shape (``input`` itself when not training).

    Example:
        >>> import ember
        >>> y = ember.nn.functional.dropout(ember.ones(4), p=0.5, training=False)
        >>> y.tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    return _dropout(input, p, training, inplace, False, False, "dropout")


def dropout_(input, p, train):  # noqa: A002
    return _dropout(input, p, train, True, False, False, "dropout")


def feature_dropout(input, p, train):  # noqa: A002
    """Channel-wise dropout of an ``(N, C, ...)`` tensor: each ``input[n, c]`` is zeroed whole."""
    return _dropout(input, p, train, False, True, False, "feature_dropout")


def feature_dropout_(input, p, train):  # noqa: A002
    return _dropout(input, p, train, True, True, False, "feature_dropout")


def _channelwise(input, p, training, inplace, name, batched_ndim):  # noqa: A002
    """dropoutNd: feature dropout, for unbatched ``(C, ...)`` inputs too."""
    if input._data.ndim == batched_ndim - 1:
        unbatched = input.unsqueeze(0)
        if not inplace:
            return _dropout(unbatched, p, training, False, True, False, name).squeeze(0)
        return apply_inplace(name + "_", lambda t: _channelwise(t, p, training, False, name,
                                                                batched_ndim), input)
    return _dropout(input, p, training, inplace, True, False, name)


def dropout1d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of a ``(N, C, L)`` or ``(C, L)`` tensor with probability ``p``."""
    _check_p(p)
    if input._data.ndim not in (2, 3):
        raise runtime_error(
            "dropout1d", f"Expected 2D or 3D input, but received a {input._data.ndim}D input. "
            "Note that dropout1d exists to provide channel-wise dropout on inputs with 1 "
            "spatial dimension, a channel dimension, and an optional batch dimension (i.e. "
            "2D or 3D inputs).")
    return _channelwise(input, p, training, inplace, "dropout1d", 3)


def dropout2d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of a ``(N, C, H, W)`` tensor with probability ``p``.

    As in PyTorch, a 3-D input is taken as ``(N, C, L)`` (1-D channel dropout), with a
    warning; other ranks than 3 and 4 are deprecated and warn.
    """
    _check_p(p)
    ndim = input._data.ndim
    if ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {ndim}-D input to dropout2d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead.",
                      stacklevel=2)
    if ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. To maintain the 1D "
                      "channel-wise dropout behavior, please switch to using dropout1d "
                      "instead.", stacklevel=2)
    return _dropout(input, p, training, inplace, True, False, "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False):  # noqa: A002
    """Zero whole channels of a ``(N, C, D, H, W)`` or ``(C, D, H, W)`` tensor."""
    _check_p(p)
    ndim = input._data.ndim
    if ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {ndim}-D input to dropout3d, which is "
                      "deprecated and will result in an error in a future release. To retain "
                      "the behavior and silence this warning, please use dropout instead.",
                      stacklevel=2)
    return _channelwise(input, p, training, inplace, "dropout3d", 5)


def alpha_dropout(input, p=0.5, training=False, inplace=False):  # noqa: A002
    """Dropout for SELU networks: keeps zero mean and unit variance.

    Dropped elements become ``-alpha'`` (SELU's negative saturation), then
    ``a * x + b`` restores the statistics, with ``a = ((1 - p)(1 + p alpha'^2))^-1/2``
    and ``b = a alpha' p`` for kept elements. Note that ``training`` defaults to False.
    """
    return _dropout(input, p, training, inplace, False, True, "alpha_dropout")


def alpha_dropout_(input, p, train):  # noqa: A002
    return _dropout(input, p, train, True, False, True, "alpha_dropout")


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):  # noqa: A002
    """``alpha_dropout`` that drops whole channels ``input[n, c]`` of an ``(N, C, ...)`` tensor."""
    return _dropout(input, p, training, inplace, True, True, "feature_alpha_dropout")


def feature_alpha_dropout_(input, p, train):  # noqa: A002
    return _dropout(input, p, train, True, True, True, "feature_alpha_dropout")


FUNCTIONAL = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
              "feature_alpha_dropout"]
METHODS = {}
