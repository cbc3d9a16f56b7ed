"""The softmax family: ``softmax``, ``log_softmax``, ``softmin`` and ``gumbel_softmax``
along one dimension.

Forward is fused and numerically stable: the maximum along ``dim`` is subtracted before
``exp``, so large inputs never overflow. Backward is written with Tensor ops from the
saved output, so gradients of gradients work:

- softmax: ``grad_x = y * (g - sum(g * y, dim))``
- log_softmax: ``grad_x = g - exp(y) * sum(g, dim)``
"""

import warnings

import numpy as np

from ember._errors import runtime_error
from ember.autograd.node import Op
from ember.ops.shape import norm_dim
from ember.random import numpy_generator
from ember.tensor import Tensor

__all__ = ["softmax", "log_softmax"]


def _shifted(x, axis):
    """``x - max(x, axis)``: a new array whose largest entry along ``axis`` is 0."""
    # out= keeps a 0-dim result an array (NumPy would return a scalar).
    return np.subtract(x, np.max(x, axis=axis, keepdims=True, initial=-np.inf),
                       out=np.empty_like(x))


def _quiet():
    """A slice that is all -inf gives NaN (as in PyTorch), an empty one log(0): no warnings."""
    return np.errstate(invalid="ignore", divide="ignore")


class Softmax(Op):
    def forward(self, x, axis):
        self.dim = axis
        self.save_outputs(0)
        with _quiet():
            out = _shifted(x, axis)
            np.exp(out, out=out)
            out /= np.sum(out, axis=axis, keepdims=True)
        return out

    def backward(self, grad_out):
        (y,) = self.saved_outputs
        return y * (grad_out - (grad_out * y).sum(self.dim, keepdim=True))


class LogSoftmax(Op):
    def forward(self, x, axis):
        self.dim = axis
        self.save_outputs(0)
        with _quiet():
            out = _shifted(x, axis)
            out -= np.log(np.sum(np.exp(out), axis=axis, keepdims=True))
        return out

    def backward(self, grad_out):
        (y,) = self.saved_outputs
        return grad_out - y.exp() * grad_out.sum(self.dim, keepdim=True)


def _apply(op, name, input, dim, dtype, stacklevel):  # noqa: A002 - PyTorch's name
    if not isinstance(stacklevel, int):  # x.softmax(dim, dtype) passes dtype second
        dtype, stacklevel = stacklevel, 3
    if dtype is not None:
        input = input.to(dtype)
    ndim = input._data.ndim
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the "
                      "call to include dim=X as an argument.", stacklevel=stacklevel)
        dim = 0 if ndim in (0, 1, 3) else 1
    axis = norm_dim(dim, ndim, name) if ndim else None
    if input._data.dtype.kind != "f":
        raise NotImplementedError(runtime_error(
            name, f"not implemented for {input.dtype.name} tensors; pass dtype= (e.g. "
                  "ember.float32) or cast the input to a floating dtype").args[0])
    return op.apply(input, axis=axis)


def softmax(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    """``exp(x) / sum(exp(x))`` along ``dim``: every slice along ``dim`` sums to 1.

    Args:
        input: floating tensor of any shape (or any tensor with ``dtype`` given).
        dim: the dimension to normalize (negative counts from the end). Omitting it is
            deprecated, as in PyTorch: dimension 0 is used for 0-, 1- and 3-D inputs,
            else dimension 1, with a warning.
        dtype: cast ``input`` to this dtype first (e.g. to compute float16 in float32).

    Returns:
        A tensor of ``input``'s shape.

    Example:
        >>> import ember
        >>> ember.tensor([[1.0, 1.0], [0.0, 0.0]]).softmax(1)
        tensor([[0.5000, 0.5000],
                [0.5000, 0.5000]])
    """
    return _apply(Softmax, "softmax", input, dim, dtype, _stacklevel)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    """``x - log(sum(exp(x)))`` along ``dim``: the log of ``softmax``, computed stably.

    Args:
        input: floating tensor of any shape (or any tensor with ``dtype`` given).
        dim: the dimension to normalize (see ``softmax``).
        dtype: cast ``input`` to this dtype first.

    Returns:
        A tensor of ``input``'s shape.
    """
    return _apply(LogSoftmax, "log_softmax", input, dim, dtype, _stacklevel)


def softmin(input, dim=None, _stacklevel=3, dtype=None):  # noqa: A002
    """``softmax(-x)`` along ``dim``: small inputs get the large weights.

    Args:
        input: floating tensor of any shape (or any tensor with ``dtype`` given).
        dim: the dimension to normalize (see ``softmax``).
        dtype: cast ``input`` to this dtype first.

    Returns:
        A tensor of ``input``'s shape.
    """
    return _apply(Softmax, "softmin", -input, dim, dtype, _stacklevel)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """A differentiable sample from the categorical distribution given by ``logits``.

    ``y = softmax((logits + g) / tau)`` with ``g`` standard Gumbel noise (from ember's
    default generator). With ``hard=True`` the result is the one-hot vector of
    ``argmax(y)`` in the forward pass while gradients flow through ``y``
    (``one_hot - y.detach() + y``, the straight-through estimator).

    Args:
        logits: floating tensor of unnormalized log-probabilities, categories along ``dim``.
        tau: the temperature (> 0); small values give nearly one-hot samples.
        hard: return one-hot samples.
        eps: deprecated and ignored, as in PyTorch.
        dim: the dimension of the categories.

    Returns:
        A tensor of ``logits``' shape whose slices along ``dim`` sum to 1.
    """
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    noise = -np.log(numpy_generator().standard_exponential(logits._data.shape))
    y_soft = softmax((logits + Tensor._make(noise.astype(logits._data.dtype))) / tau, dim)
    if not hard:
        return y_soft
    y = y_soft._data
    one_hot = np.zeros_like(y) if y.ndim else np.ones_like(y)
    if y.ndim:
        axis = norm_dim(dim, y.ndim, "gumbel_softmax")
        np.put_along_axis(one_hot, np.argmax(y, axis=axis, keepdims=True), 1.0, axis=axis)
    return Tensor._make(one_hot) - y_soft.detach() + y_soft


FUNCTIONAL = ["softmax", "log_softmax", "softmin", "gumbel_softmax"]
METHODS = {"softmax": softmax, "log_softmax": log_softmax}
