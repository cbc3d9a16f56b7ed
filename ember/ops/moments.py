"""Variance and standard deviation: var, std, var_mean, std_mean.

``correction`` is subtracted from the count of elements in the denominator
(Bessel's correction, 1 by default); the legacy ``unbiased`` flag means
``correction=1`` (True) or ``correction=0`` (False), as in PyTorch.
"""

import numpy as np

from ember._errors import runtime_error, type_error
from ember.autograd.node import Op
from ember.ops._reduce_dims import const, grad_to_input, keep_dims, norm_dims

__all__ = ["var", "std", "var_mean", "std_mean"]


class Moments(Op):
    """``(var or std, mean)`` over ``axes`` in one pass; either output may be unused.

    var = sum((x - mean)^2) / max(n - correction, 0); std = sqrt(var).
    """

    def forward(self, x, axes, correction, keepdim, sqrt):
        self.in_shape, self.axes, self.keepdim, self.sqrt = x.shape, axes, keepdim, sqrt
        self.save_inputs(0)
        self.save_outputs(0)
        n = 1
        for a in axes:
            n *= x.shape[a]
        self.n, self.dof = n, max(n - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):  # NaN/inf as PyTorch gives
            mean = np.sum(x, axis=axes, keepdims=True) / n
            dev = np.asarray(x - mean)
            np.multiply(dev, dev, out=dev)
            out = np.sum(dev, axis=axes, keepdims=keepdim) / float(self.dof)
        out = np.asarray(out, dtype=x.dtype)
        if sqrt:
            np.sqrt(out, out=out)
        return out, mean if keepdim else mean.reshape(out.shape)

    def backward(self, grad_out, grad_mean):
        (x,) = self.saved_inputs
        grad_x = None
        if grad_out is not None:
            grad = keep_dims(grad_out, self.in_shape, self.axes, self.keepdim)
            if self.sqrt:  # d std = d var / (2 std); PyTorch gives 0 where std == 0
                (std,) = self.saved_outputs
                std = keep_dims(std, self.in_shape, self.axes, self.keepdim)
                zero = std._data == 0
                d = x._data.dtype
                grad = grad * const(~zero, d) / (std * 2 + const(zero, d))
            scale = 2.0 / self.dof if self.dof else float("inf")
            grad_x = grad * scale * (x - x.mean(self.axes, keepdim=True))
        if grad_mean is not None:
            g = grad_to_input(grad_mean / self.n, self.in_shape, self.axes, self.keepdim)
            grad_x = g if grad_x is None else grad_x + g
        return grad_x


def _moments(input, dim, unbiased, keepdim, correction, sqrt, op):
    if isinstance(dim, bool):  # var(x, True): the legacy unbiased flag in dim's place
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise type_error(op, "pass either correction or the legacy unbiased, not both")
    if correction is None:
        correction = 0 if unbiased is False else 1
    if input._data.dtype.kind != "f":
        raise runtime_error(op, f"std and var only support floating point dtypes, not "
                                f"{input.dtype}")
    axes = norm_dims(dim, input._data.ndim, op)
    return Moments.apply(input, axes=axes, correction=correction, keepdim=keepdim, sqrt=sqrt)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """Variance over ``dim``: ``sum((x - mean)^2) / (n - correction)``.

    Args:
        input: a floating tensor.
        dim: an int, a tuple of ints, or None for all elements.
        unbiased: legacy form of ``correction`` (True is 1, False is 0).
        keepdim: keep the reduced dimensions with size 1.
        correction: subtracted from the element count in the denominator (default 1).
    """
    return _moments(input, dim, unbiased, keepdim, correction, False, "var")[0]


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """Standard deviation over ``dim``: ``sqrt(var(input, dim, correction))``.

    The arguments are those of :func:`var`. Where the result is 0 the gradient is 0
    (not NaN), as in PyTorch.
    """
    return _moments(input, dim, unbiased, keepdim, correction, True, "std")[0]


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """``(var, mean)`` over ``dim`` in one pass, as a plain tuple; both are differentiable.

    The arguments are those of :func:`var`.
    """
    return _moments(input, dim, unbiased, keepdim, correction, False, "var_mean")


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):  # noqa: A002
    """``(std, mean)`` over ``dim`` in one pass, as a plain tuple; both are differentiable.

    The arguments are those of :func:`var`.
    """
    return _moments(input, dim, unbiased, keepdim, correction, True, "std_mean")


METHODS = {"var": var, "std": std}

FUNCTIONAL = []
