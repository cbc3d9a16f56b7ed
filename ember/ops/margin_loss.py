"""Margin and embedding losses: margin_ranking, hinge_embedding, soft_margin,
cosine_embedding, triplet_margin (and with a distance function), multi_margin,
multilabel_margin, multilabel_soft_margin.

These are composed from Tensor ops (their inputs are small: one score or one
embedding per sample), so autograd gives their gradients of any order.
"""

import numpy as np

from ember._errors import fmt_shape, index_error, runtime_error, shape_error, value_error
from ember.ops.loss import legacy_reduction, reduce_loss
from ember.tensor import Tensor

# torch's top-level loss functions take the reduction as an enum int in another position
# than F's; only the functional forms are exported.
__all__ = []

_make = Tensor._make


def _const(array, like):
    return _make(np.asarray(array, dtype=like._data.dtype))


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """``max(0, -y (x1 - x2) + margin)``: ``y = 1`` wants ``x1`` ranked above ``x2``.

    Args:
        input1, input2: scores ``(N,)`` or ``()``.
        target: ``y`` in ``{1, -1}``, the same shape.
        margin: the required gap.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss: a scalar, or ``(N,)`` with ``reduction='none'``.
    """
    reduction = legacy_reduction("margin_ranking_loss", size_average, reduce, reduction)
    shapes = {input1._data.shape, input2._data.shape, target._data.shape}
    if len(shapes) > 1:
        raise shape_error("margin_ranking_loss", "input1, input2 and target must have the same "
                                                 f"shape, got {fmt_shape(input1._data.shape)}, "
                                                 f"{fmt_shape(input2._data.shape)} and "
                                                 f"{fmt_shape(target._data.shape)}")
    loss = (-target * (input1 - input2) + margin).clamp_min(0)
    return reduce_loss(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,  # noqa: A002
                         reduction="mean"):
    """``x`` where ``y = 1``; ``max(0, margin - x)`` where ``y = -1`` (x: a distance).

    Args:
        input: any shape.
        target: ``y`` in ``{1, -1}``, the input's shape.
        margin: the margin for dissimilar pairs.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss: a scalar, or the input's shape with ``reduction='none'``.
    """
    reduction = legacy_reduction("hinge_embedding_loss", size_average, reduce, reduction)
    margin_part = (margin - input).clamp_min(0).masked_fill(target == 1, 0.0)
    loss = margin_part + input.masked_fill(target == -1, 0.0)
    return reduce_loss(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None,  # noqa: A002
                     reduction="mean"):
    """Two-class logistic loss ``log(1 + exp(-y x))``.

    Args:
        input: any shape.
        target: ``y`` in ``{1, -1}``, the input's shape.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss: a scalar, or the input's shape with ``reduction='none'``.
    """
    reduction = legacy_reduction("soft_margin_loss", size_average, reduce, reduction)
    return reduce_loss((-input * target).exp().log1p(), reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """``1 - cos(x1, x2)`` where ``y = 1``; ``max(0, cos(x1, x2) - margin)`` where ``y = -1``.

    The cosine is ``x1 . x2 / sqrt((|x1|**2 + 1e-12) (|x2|**2 + 1e-12))``, as in PyTorch.

    Args:
        input1, input2: ``(N, D)`` or ``(D,)``.
        target: ``(N,)`` or ``()``, values in ``{1, -1}``.
        margin: in ``[-1, 1]``.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss: a scalar, or ``(N,)`` with ``reduction='none'``.
    """
    reduction = legacy_reduction("cosine_embedding_loss", size_average, reduce, reduction)
    n1, nt = input1._data.ndim, target._data.ndim
    if n1 not in (1, 2) or input2._data.ndim != n1 or nt != n1 - 1:
        raise runtime_error("cosine_embedding_loss", "expected inputs of shape (N, D) with a "
                                                     "target (N,), or (D,) with a target (), "
                                                     f"got {fmt_shape(input1._data.shape)}, "
                                                     f"{fmt_shape(input2._data.shape)} and "
                                                     f"{fmt_shape(target._data.shape)}")
    dim = n1 - 1
    dot = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + 1e-12
    mag2 = (input2 * input2).sum(dim) + 1e-12
    cos = dot / (mag1 * mag2).sqrt()
    pos = (1 - cos).masked_fill(target != 1, 0.0)
    neg = (cos - margin).clamp_min(0).masked_fill(target != -1, 0.0)
    return reduce_loss(pos + neg, reduction)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the pairwise ``p``-distance.

    Args:
        anchor, positive, negative: ``(N, D)`` or ``(D,)``.
        margin: the required gap.
        p: the norm degree of the distance.
        eps: added to the differences (see ``pairwise_distance``).
        swap: use ``min(d(a, n), d(p, n))`` as the negative distance.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss: a scalar, or ``(N,)`` with ``reduction='none'``.
    """
    from ember.ops.distance import pairwise_distance

    reduction = legacy_reduction("triplet_margin_loss", size_average, reduce, reduction)
    if margin <= 0:
        raise value_error("triplet_margin_loss", f"margin must be greater than 0, got {margin}")
    _same_ndim("triplet_margin_loss", anchor, positive, negative)

    def distance(x1, x2):
        return pairwise_distance(x1, x2, p, eps)

    return _triplet(anchor, positive, negative, distance, margin, swap, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """``max(0, margin + d(a, p) - d(a, n))`` for any distance function ``d``.

    Args:
        anchor, positive, negative: embeddings of one shape.
        distance_function: ``d(x1, x2)`` returning a tensor of distances; default
            ``pairwise_distance``.
        margin: the required gap (positive).
        swap: use ``min(d(a, n), d(p, n))`` as the negative distance.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss: a scalar, or the distances' shape with ``reduction='none'``.
    """
    from ember.ops.distance import pairwise_distance

    reduction = legacy_reduction("triplet_margin_with_distance_loss", None, None, reduction)
    if margin <= 0:
        raise value_error("triplet_margin_with_distance_loss",
                          f"margin must be greater than 0, got {margin}")
    _same_ndim("triplet_margin_with_distance_loss", anchor, positive, negative)
    distance = pairwise_distance if distance_function is None else distance_function
    return _triplet(anchor, positive, negative, distance, margin, swap, reduction)


def _same_ndim(op, anchor, positive, negative):
    dims = [t._data.ndim for t in (anchor, positive, negative)]
    if len(set(dims)) > 1:
        raise runtime_error(op, f"the anchor, positive, and negative tensors are expected to "
                                f"have the same number of dimensions, but got: anchor "
                                f"{dims[0]}D, positive {dims[1]}D, and negative {dims[2]}D")


def _triplet(anchor, positive, negative, distance, margin, swap, reduction):
    dist_pos = distance(anchor, positive)
    dist_neg = distance(anchor, negative)
    if swap:
        dist_neg = dist_neg.minimum(distance(positive, negative))
    return reduce_loss((margin + dist_pos - dist_neg).clamp_min(0), reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None,  # noqa: A002
                      size_average=None, reduce=None, reduction="mean"):
    """Multi-class hinge loss: ``sum_{i != y} max(0, margin - x[y] + x[i])**p / C``.

    Args:
        input: scores ``(N, C)`` or ``(C,)``.
        target: class indices ``(N,)`` or ``()``.
        p: 1 or 2.
        margin: the required gap.
        weight: ``(C,)``: the loss of a sample is scaled by its target's weight.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss: a scalar, or ``(N,)`` with ``reduction='none'``.
    """
    reduction = legacy_reduction("multi_margin_loss", size_average, reduce, reduction)
    if p not in (1, 2):
        raise value_error("multi_margin_loss", f"only p == 1 and p == 2 are supported, got {p}")
    x = input if input._data.ndim == 2 else input.reshape(1, -1)
    index = _class_index("multi_margin_loss", x, target)
    classes = x._data.shape[1]
    picked = x.gather(1, _make(index[:, None]))
    hinge = (margin - picked + x).clamp_min(0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight[_make(index)].unsqueeze(1)
    others = np.ones(x._data.shape, dtype=x._data.dtype)
    others[np.arange(len(index)), index] = 0
    loss = (hinge * _make(others)).sum(1) / classes
    loss = loss if input._data.ndim == 2 else loss.reshape(())
    return reduce_loss(loss, reduction)


def _class_index(op, x, target):
    """The target as a flat int64 array of class indices, checked against ``x`` (N, C)."""
    t = target._data.reshape(-1)
    if target._data.dtype.kind not in "iu" or t.shape[0] != x._data.shape[0]:
        raise shape_error(op, f"expected class indices of shape ({x._data.shape[0]},) for an "
                              f"input of shape {fmt_shape(x._data.shape)}, got a "
                              f"{target.dtype} target of shape {fmt_shape(target._data.shape)}")
    classes = x._data.shape[1]
    bad = (t < 0) | (t >= classes)
    if bad.any():
        raise index_error(op, f"target {t[bad][0]} is out of bounds for {classes} classes")
    return t.astype(np.int64)


def multilabel_margin_loss(input, target, size_average=None, reduce=None,  # noqa: A002
                           reduction="mean"):
    """Multi-label hinge loss: ``sum_{j in y, i not in y} max(0, 1 - (x[j] - x[i])) / C``.

    ``target`` holds each sample's label indices, ended by the first ``-1``.

    Args:
        input: scores ``(N, C)`` or ``(C,)``.
        target: the input's shape, int64 label indices then ``-1`` padding.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss: a scalar, or ``(N,)`` with ``reduction='none'``.
    """
    reduction = legacy_reduction("multilabel_margin_loss", size_average, reduce, reduction)
    if target._data.shape != input._data.shape or input._data.ndim not in (1, 2):
        raise shape_error("multilabel_margin_loss", f"expected an input (N, C) or (C,) and a "
                                                    f"target of the same shape, got "
                                                    f"{fmt_shape(input._data.shape)} and "
                                                    f"{fmt_shape(target._data.shape)}")
    x = input if input._data.ndim == 2 else input.reshape(1, -1)
    counts = _label_counts(target._data.reshape(x._data.shape))
    classes = x._data.shape[1]
    # pairs[n, j, i] = max(0, 1 - (x[n, j] - x[n, i])), counted once per listing of label j,
    # for each class i that is not a label.
    pairs = (1 - (x.unsqueeze(2) - x.unsqueeze(1))).clamp_min(0)
    mask = counts[:, :, None] * (counts == 0)[:, None, :]
    loss = (pairs * _const(mask, x)).sum((1, 2)) / classes
    loss = loss if input._data.ndim == 2 else loss.reshape(())
    return reduce_loss(loss, reduction)


def _label_counts(t):
    """``counts[n, c]``: how often class c is listed as a label of sample n (the labels
    are the entries before the first -1)."""
    n, classes = t.shape
    listed = np.cumsum(t < 0, axis=1) == 0
    rows = np.repeat(np.arange(n), classes)[listed.reshape(-1)]
    labels = t[listed]
    if ((labels < 0) | (labels >= classes)).any():
        raise index_error("multilabel_margin_loss", f"label indices must be in [0, {classes}), "
                                                    f"got {labels.min()}..{labels.max()}")
    counts = np.zeros((n, classes), dtype=np.int64)
    np.add.at(counts, (rows, labels), 1)
    return counts


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None,  # noqa: A002
                                reduce=None, reduction="mean"):
    """Multi-label one-versus-all logistic loss, averaged over the classes.

    ``loss_n = -sum_c w_c (y log(sigmoid(x)) + (1 - y) log(sigmoid(-x))) / C``.

    Args:
        input: logits ``(N, C)`` or ``(C,)``.
        target: the input's shape, values in ``{0, 1}``.
        weight: ``(C,)`` or None.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Returns:
        The loss: a scalar, or ``(N,)`` with ``reduction='none'``.
    """
    from ember.ops.activation import logsigmoid

    reduction = legacy_reduction("multilabel_soft_margin_loss", size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input._data.ndim - 1
    loss = loss.sum(class_dim) / input._data.shape[class_dim]
    return reduce_loss(loss, reduction)


METHODS = {}

FUNCTIONAL = ["margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
              "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
              "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss"]
