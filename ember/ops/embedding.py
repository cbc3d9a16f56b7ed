"""Embeddings: ``embedding`` (a lookup of weight rows), ``embedding_bag``, ``one_hot``.

The lookup and its gradient are a pair of adjoint ops: ``TakeRows`` gathers rows,
``PutRows`` scatter-adds rows into zeros; each is the other's backward, so gradients of
any order work. The gradient may be scaled per looked-up index (0 at ``padding_idx``,
``1 / count`` with ``scale_grad_by_freq``).
"""

import numpy as np

from ember._errors import fmt_shape, index_error, runtime_error, value_error
from ember.autograd.deferred import RowsGradient
from ember.autograd.grad_mode import no_grad
from ember.autograd.node import Op
from ember.autograd.traceable import traceable
from ember.backend.index_kernels import add_rows
from ember.tensor import Tensor

# torch.embedding and torch.embedding_bag take the weight first: only the functional
# forms (input first) are exported.
__all__ = []

_make = Tensor._make


def _scaled(rows, scale):
    return rows if scale is None else rows * scale.reshape(scale.shape + (1,))


class TakeRows(Op):
    """``out[i] = weight[index[i]] * scale[i]``; the gradient is scaled by ``grad_scale``.

    ``plain`` is True when the output's rows are the weight's rows unscaled, so that two
    positions with one index hold equal rows (``LSTMSequence`` reads that off its input's
    ``grad_fn`` to project each distinct row once).
    """

    def forward(self, weight, index, scale=None, grad_scale=None):
        self.index, self.grad_scale, self.rows = index, grad_scale, weight.shape[0]
        self.plain = scale is None
        return _scaled(np.take(weight, index, axis=0), scale)

    def backward(self, grad_out):
        if type(grad_out) is RowsGradient:  # already summed per row (ember.autograd.deferred)
            return _make(grad_out.summed_rows(self.rows))
        return PutRows.apply(grad_out, index=self.index, scale=self.grad_scale, rows=self.rows)

    def takes_rows_gradient(self):
        """Whether this lookup's backward can take its output's gradient as a
        ``RowsGradient``: unscaled rows, in both directions."""
        return self.plain and self.grad_scale is None


class PutRows(Op):
    """``out = zeros(rows, ...)``; ``out[index[i]] += g[i] * scale[i]`` (TakeRows' adjoint)."""

    def forward(self, g, index, scale, rows):
        self.index, self.scale = index, scale
        out = np.zeros((rows,) + g.shape[index.ndim:], dtype=g.dtype)
        flat = _scaled(g, scale).reshape((index.size,) + out.shape[1:])
        add_rows(out, index.reshape(-1), flat)
        return out

    def backward(self, grad_out):
        return TakeRows.apply(grad_out, index=self.index, scale=self.scale,
                              grad_scale=self.scale)


def _check_indices(op, input, rows):  # noqa: A002
    idx = input._data
    if idx.dtype.kind not in "iu":
        raise runtime_error(op, f"expected indices of an integer dtype (Long or Int), got "
                                f"{input.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= rows):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise index_error(op, f"index {bad} is out of range for a weight of {rows} rows")
    return idx


def _padding(op, padding_idx, rows):
    if padding_idx is None:
        return None
    if not -rows <= padding_idx < rows:
        raise value_error(op, f"padding_idx {padding_idx} must be within num_embeddings "
                              f"({rows})")
    return padding_idx % rows


def _grad_scale(idx, padding_idx, scale_grad_by_freq, dtype):
    """Per-index factors for the weight's gradient, or None when all are 1."""
    if padding_idx is None and not scale_grad_by_freq:
        return None
    scale = np.ones(idx.shape, dtype=dtype)
    if scale_grad_by_freq:
        _, inverse, counts = np.unique(idx, return_inverse=True, return_counts=True)
        scale /= counts[inverse.reshape(idx.shape)]
    if padding_idx is not None:
        scale[idx == padding_idx] = 0
    return scale


def _renorm_(weight, idx, max_norm, norm_type):
    """Scale the looked-up rows whose norm exceeds ``max_norm`` down to it, in place."""
    with no_grad():
        rows = np.unique(idx)
        w = weight._data
        norms = np.linalg.norm(w[rows].reshape(len(rows), -1), ord=norm_type, axis=1)
        big = norms > max_norm
        if big.any():
            factor = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
            w[rows[big]] *= factor.reshape((-1,) + (1,) * (w.ndim - 1))
            weight._vbox[0] += 1


@traceable("embedding")
def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,  # noqa: A002
              scale_grad_by_freq=False, sparse=False):
    """Look up rows of ``weight``: ``out[..., :] = weight[input[...], :]``.

    Args:
        input: integer indices, any shape.
        weight: ``(num_embeddings, embedding_dim)``.
        padding_idx: the row at this index gets no gradient.
        max_norm: rows looked up whose ``norm_type``-norm exceeds it are rescaled to it,
            in place in ``weight`` (as PyTorch does).
        norm_type: the norm degree for ``max_norm``.
        scale_grad_by_freq: divide each row's gradient by its index's count in ``input``.
        sparse: accepted for compatibility; the gradient is always dense.

    Returns:
        ``input.shape + (embedding_dim,)``.
    """
    if weight._data.ndim != 2:
        raise runtime_error("embedding", f"weight must be 2-D, got shape "
                                         f"{fmt_shape(weight._data.shape)}")
    rows = weight._data.shape[0]
    idx = _check_indices("embedding", input, rows)
    padding_idx = _padding("embedding", padding_idx, rows)
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    scale = _grad_scale(idx, padding_idx, scale_grad_by_freq, weight._data.dtype)
    # A copy: backward (and an LSTM reading the rows) must see the indices looked up, even
    # if the input is changed in place afterwards.
    return TakeRows.apply(weight, index=idx.copy(), grad_scale=scale)


@traceable("embedding_bag")
def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,  # noqa: A002
                  scale_grad_by_freq=False, mode="mean", sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxima of bags of embeddings, without building the looked-up rows.

    Bags are the rows of a 2-D ``input`` ``(B, N)``, or the slices of a 1-D ``input``
    starting at each of ``offsets``. Entries equal to ``padding_idx`` are left out
    (an empty bag gives zeros).

    Args:
        input: integer indices ``(B, N)``, or 1-D with ``offsets``.
        weight: ``(num_embeddings, embedding_dim)``.
        offsets: 1-D start of each bag (1-D input only).
        mode: ``'sum'`` | ``'mean'`` | ``'max'``.
        per_sample_weights: the input's shape, scales each row (``mode='sum'`` only).
        include_last_offset: ``offsets`` has one more entry, the end of the last bag.

    Returns:
        ``(B, embedding_dim)``.
    """
    rows = weight._data.shape[0]
    idx = _check_indices("embedding_bag", input, rows)
    padding_idx = _padding("embedding_bag", padding_idx, rows)
    flat, bag = _bags(idx, offsets, include_last_offset)
    if per_sample_weights is not None and mode != "sum":
        raise value_error("embedding_bag", "per_sample_weights was not None; it is only "
                                           f"supported for mode='sum', got mode='{mode}'")
    if mode not in ("sum", "mean", "max"):
        raise value_error("embedding_bag", f"mode has to be one of sum, mean or max, got {mode}")
    if max_norm is not None:
        _renorm_(weight, flat, max_norm, norm_type)
    keep = np.ones(flat.shape, bool) if padding_idx is None else flat != padding_idx
    flat, bag, n_bags = flat[keep], bag[keep], _n_bags(idx, offsets, include_last_offset)
    scale = _grad_scale(flat, None, scale_grad_by_freq, weight._data.dtype)
    looked_up = TakeRows.apply(weight, index=flat, grad_scale=scale)
    if per_sample_weights is not None:
        w = per_sample_weights.reshape(-1)[_make(np.flatnonzero(keep))]
        looked_up = looked_up * w.unsqueeze(1)
    if mode == "max":
        return _bag_max(looked_up, bag, n_bags)
    summed = PutRows.apply(looked_up, index=bag, scale=None, rows=n_bags)
    if mode == "sum":
        return summed
    counts = np.bincount(bag, minlength=n_bags).astype(weight._data.dtype)
    return summed / _make(np.maximum(counts, 1)[:, None])


def _bags(idx, offsets, include_last_offset):
    """The indices flattened, and the bag of each."""
    if idx.ndim == 2:
        if offsets is not None:
            raise value_error("embedding_bag", "if input is 2D, then offsets has to be None")
        return idx.reshape(-1), np.repeat(np.arange(idx.shape[0]), idx.shape[1])
    if idx.ndim != 1 or offsets is None:
        raise value_error("embedding_bag", "input has to be 2D, or 1D with offsets; got shape "
                                           f"{fmt_shape(idx.shape)}")
    starts = offsets._data.astype(np.int64)
    if include_last_offset:
        starts = starts[:-1]
    bag = np.searchsorted(starts, np.arange(idx.size), side="right") - 1
    return idx, bag


def _n_bags(idx, offsets, include_last_offset):
    if idx.ndim == 2:
        return idx.shape[0]
    return offsets._data.shape[0] - (1 if include_last_offset else 0)


def _bag_max(looked_up, bag, n_bags):
    """Per-bag, per-column maximum of the rows, gathered from the winning rows (the first
    one reaching the maximum carries the gradient); empty bags give 0."""
    data = looked_up._data
    best = np.full((n_bags,) + data.shape[1:], -np.inf, dtype=data.dtype)
    np.maximum.at(best, bag, data)
    position = np.arange(len(bag)).reshape((-1,) + (1,) * (data.ndim - 1))
    first = np.where(data == best[bag], position, len(bag))
    winners = np.full(best.shape, len(bag), dtype=np.int64)
    np.minimum.at(winners, bag, first)
    empty = winners == len(bag)
    picked = looked_up.gather(0, _make(np.where(empty, 0, winners)))
    return picked.masked_fill(_make(empty), 0.0)


class OneHot(Op):
    differentiable = False

    def forward(self, t, num_classes):
        out = np.zeros(t.shape + (num_classes,), dtype=np.int64)
        np.put_along_axis(out, t[..., None], 1, axis=-1)
        return out


def one_hot(tensor, num_classes=-1):
    """``out[..., c] = 1`` where ``tensor[...] == c``, else 0 (int64).

    Args:
        tensor: int64 class values, any shape.
        num_classes: the number of classes; -1 infers ``max + 1``.

    Returns:
        ``tensor.shape + (num_classes,)``, int64.
    """
    t = tensor._data
    if t.dtype != np.int64:
        raise runtime_error("one_hot", f"one_hot is only applicable to index tensors of type "
                                       f"int64 (LongTensor), got {tensor.dtype}")
    if num_classes == -1:
        if t.size == 0:
            raise runtime_error("one_hot", "Can not infer total number of classes from empty "
                                           "tensor.")
        num_classes = int(t.max()) + 1
    if t.size and t.min() < 0:
        raise runtime_error("one_hot", f"Class values must be non-negative, got {t.min()}")
    if t.size and t.max() >= num_classes:
        raise runtime_error("one_hot", f"Class values must be smaller than num_classes "
                                       f"({num_classes}), got {t.max()}")
    return OneHot.apply(tensor, num_classes=num_classes)


METHODS = {}

FUNCTIONAL = ["embedding", "embedding_bag", "one_hot"]


def top_level_embedding(weight, input, padding_idx=-1, scale_grad_by_freq=False, sparse=False):  # noqa: A002
    """``torch.embedding``'s argument order (weight first, padding_idx -1 for none);
    exported as ``ember.embedding``. ``F.embedding`` keeps the functional order."""
    return embedding(input, weight, None if padding_idx < 0 else padding_idx,
                     scale_grad_by_freq=scale_grad_by_freq)

