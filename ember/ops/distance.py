"""Distances and similarities: cosine_similarity, pairwise_distance, cdist, pdist, normalize.

All are composed from Tensor ops (``norm``'s gradient already handles zero vectors),
except the matrix-product form of the Euclidean ``cdist``, which is one op
(``EuclideanDist``) with PyTorch's subgradient 0 at zero distance.
"""

import numpy as np

from ember._dtype import get_default_dtype
from ember._errors import fmt_shape, runtime_error, shape_error
from ember.autograd.node import Op
from ember.ops.reduce import norm
from ember.tensor import Tensor

__all__ = ["cdist", "cosine_similarity", "pairwise_distance", "pdist"]

_make = Tensor._make


def _floats(op, *xs):
    """The inputs as tensors of their common floating dtype."""
    from ember._dtype import result_type

    dtype = result_type(*xs)
    if not dtype.is_floating_point:
        if dtype.np.kind not in "iub":
            raise runtime_error(op, f"expected floating point inputs, got {dtype}")
        dtype = get_default_dtype()
    return tuple(x.to(dtype) for x in xs)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim``.

    ``sum(x1 / max(|x1|, eps) * x2 / max(|x2|, eps))``: each input is normalized first
    (which keeps the result in [-1, 1]); as in PyTorch, the clamp at ``eps`` changes the
    norm's value but not its gradient.

    Args:
        x1, x2: broadcastable tensors.
        dim: the dimension of the vectors (of the broadcast shape).
        eps: the smallest norm divided by.

    Returns:
        The broadcast shape without ``dim``.
    """
    x1, x2 = _floats("cosine_similarity", x1, x2)
    shape = np.broadcast_shapes(x1._data.shape, x2._data.shape)
    x1, x2 = x1.expand(*shape), x2.expand(*shape)
    n1 = _clamped_norm(x1, dim, eps)
    n2 = _clamped_norm(x2, dim, eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def _clamped_norm(x, dim, eps):
    n = norm(x, 2, dim, keepdim=True)
    return n + _make(np.maximum(n._data, eps) - n._data)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The ``p``-norm of ``x1 - x2 + eps`` over the last dimension.

    Args:
        x1, x2: broadcastable tensors ``(N, D)`` or ``(D,)``.
        p: the norm degree.
        eps: added to the differences, so that equal vectors have a nonzero distance.
        keepdim: keep the last dimension with size 1.

    Returns:
        ``(N,)`` (``(N, 1)`` with keepdim), or ``()`` for 1-D inputs.
    """
    x1, x2 = _floats("pairwise_distance", x1, x2)
    ndim = max(x1._data.ndim, x2._data.ndim)
    return norm(x1 - x2 + eps, p, ndim - 1, keepdim)


def pdist(input, p=2):  # noqa: A002
    """The ``p``-norm distance between every pair of rows, as the upper triangle of cdist.

    Args:
        input: ``(N, M)``.
        p: the norm degree (non-negative).

    Returns:
        ``(N * (N - 1) / 2,)``: distances of rows ``(0, 1), (0, 2), ..., (N - 2, N - 1)``.
    """
    if input._data.ndim != 2:
        raise shape_error("pdist", f"only supports 2D tensors, got {fmt_shape(input._data.shape)}")
    if p < 0:
        raise runtime_error("pdist", f"only supports non-negative p values, got {p}")
    first, second = np.triu_indices(input._data.shape[0], 1)
    rows1 = input.index_select(0, _make(first))
    rows2 = input.index_select(0, _make(second))
    return norm(rows1 - rows2, p, 1)


class EuclideanDist(Op):
    """``sqrt(max(|a|**2 + |b|**2 - 2 a b^T, 0))`` for row sets ``a (.., P, M)``, ``b (.., R, M)``.

    Backward with ``r = grad / dist`` (0 where the distance is 0):
    ``grad_a = a * sum_j r - r @ b`` and ``grad_b = b * sum_i r - r^T @ a``.
    """

    def forward(self, a, b):
        self.save_inputs(0, 1)
        self.save_outputs(0)
        sq = np.einsum("...ij,...ij->...i", a, a)[..., :, None]
        sq = sq + np.einsum("...ij,...ij->...i", b, b)[..., None, :]
        sq -= 2 * (a @ np.swapaxes(b, -1, -2))
        return np.sqrt(np.maximum(sq, 0, out=sq), out=sq)

    def backward(self, grad_out):
        a, b = self.saved_inputs
        (dist,) = self.saved_outputs
        zero = dist._data == 0
        ratio = grad_out / (dist + _make(zero.astype(dist._data.dtype)))
        ratio = ratio.masked_fill(_make(zero), 0.0)
        grad_a = a * ratio.sum(-1, keepdim=True) - ratio @ b
        grad_b = b * ratio.sum(-2).unsqueeze(-1) - ratio.mT @ a
        return grad_a, grad_b


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The ``p``-norm distance between each row of ``x1`` and each row of ``x2``.

    For ``p = 2`` the matrix-product form ``|a|**2 + |b|**2 - 2 a b^T`` is used when
    either set has more than 25 rows (PyTorch's rule; ``compute_mode`` forces it on or
    off); it is fast but less exact for nearly equal rows.

    Args:
        x1: ``(B..., P, M)``.
        x2: ``(B..., R, M)``; batch dimensions broadcast.
        p: the norm degree (non-negative).
        compute_mode: ``'use_mm_for_euclid_dist_if_necessary'``, ``'use_mm_for_euclid_dist'``
            or ``'donot_use_mm_for_euclid_dist'``.

    Returns:
        ``(B..., P, R)``.
    """
    x1, x2 = _floats("cdist", x1, x2)
    s1, s2 = x1._data.shape, x2._data.shape
    if len(s1) < 2 or len(s2) < 2:
        raise shape_error("cdist", f"only supports at least 2D tensors, got "
                                   f"{fmt_shape(s1)} and {fmt_shape(s2)}")
    if s1[-1] != s2[-1]:
        raise shape_error("cdist", f"X1 and X2 must have the same number of columns, got "
                                   f"{fmt_shape(s1)} and {fmt_shape(s2)}")
    if p < 0:
        raise runtime_error("cdist", f"only supports non-negative p values, got {p}")
    modes = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
             "donot_use_mm_for_euclid_dist")
    if compute_mode not in modes:
        raise runtime_error("cdist", f"{compute_mode} is not a valid value for compute_mode")
    big = s1[-2] > 25 or s2[-2] > 25
    if p == 2 and (compute_mode == modes[1] or (compute_mode == modes[0] and big)):
        return EuclideanDist.apply(x1, x2)
    return norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, -1)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):  # noqa: A002
    """``input / max(|input|_p, eps)`` along ``dim``: unit vectors (zero stays zero).

    Args:
        input: any shape.
        p: the norm degree.
        dim: the dimension of the vectors.
        eps: the smallest norm divided by.
        out: write the result into this tensor.

    Returns:
        The input's shape.
    """
    result = input / norm(input, p, dim, keepdim=True).clamp_min(eps)
    if out is None:
        return result
    from ember.ops._methods import write_out

    return write_out(result, out)


METHODS = {}

FUNCTIONAL = ["cosine_similarity", "pairwise_distance", "pdist", "normalize"]
