"""Metrics that accumulate over the batches of an epoch: ``update``, ``compute``, ``reset``.

Each metric has a ``name`` (its key in the logs, ``'val_'``-prefixed for validation) and
``higher_is_better`` (what ``mode='auto'`` of the callbacks uses). ``Trainer(metrics=...)``
takes instances or these names: ``'accuracy'``, ``'top_k_accuracy'`` (k=5),
``'precision'``, ``'recall'``, ``'f1'``, ``'mae'``, ``'mse'``, ``'auc'``; a plain
function ``fn(output, target)`` becomes the batch-size-weighted mean of its values.

Predictions are read as PyTorch's losses read them: ``(N, C)`` (or ``(N, C, d...)``)
scores, one per class, with class indices as targets (one-hot or probability targets of
the same shape work too); ``(N,)`` or ``(N, 1)`` scores are binary, thresholded at
``threshold`` (0.5 for probabilities; pass 0.0 for logits), with 0/1 targets. The counts
live in NumPy, in float64 where they are sums, so metrics never build autograd graphs.

    >>> import ember
    >>> acc = Accuracy()
    >>> acc.update(ember.tensor([[0.1, 0.9], [0.8, 0.2]]), ember.tensor([1, 1]))
    >>> acc.compute()
    0.5
"""

import numpy as np

from ember.tensor import Tensor

__all__ = [
    "AUC",
    "Accuracy",
    "F1Score",
    "Mean",
    "MeanAbsoluteError",
    "MeanMetric",
    "MeanSquaredError",
    "Metric",
    "Precision",
    "Recall",
    "TopKAccuracy",
    "get",
]


def _array(value):
    return value.detach().numpy() if isinstance(value, Tensor) else np.asarray(value)


def _is_binary(scores):
    return scores.ndim == 1 or (scores.ndim == 2 and scores.shape[1] == 1)


def _labels(output, target, threshold):
    """Predicted and true labels as flat int arrays, from scores and targets."""
    scores, target = _array(output), _array(target)
    if _is_binary(scores):
        return (scores.reshape(-1) > threshold).astype(np.int64), target.reshape(-1).astype(
            np.int64)
    predicted = scores.argmax(axis=1)
    if target.shape == scores.shape:  # one-hot or class probabilities
        target = target.argmax(axis=1)
    return predicted.reshape(-1), target.reshape(-1).astype(np.int64)


class Metric:
    """Base class: subclasses keep running counts in ``update`` and turn them into one
    float in ``compute``; ``reset`` starts over (the trainer resets at each epoch)."""

    name = None
    higher_is_better = True

    def __init__(self, name=None):
        if name is not None:
            self.name = name
        self.reset()

    def reset(self):
        raise NotImplementedError

    def update(self, output, target):
        raise NotImplementedError

    def compute(self):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


class Mean(Metric):
    """The weighted mean of the values given: ``sum(w * v) / sum(w)`` (the trainer's
    ``'loss'``, weighted by batch size)."""

    name = "mean"
    higher_is_better = False

    def reset(self):
        self.total, self.weight = 0.0, 0.0

    def update(self, value, weight=1.0):
        self.total += float(value) * weight
        self.weight += weight

    def compute(self):
        return self.total / self.weight if self.weight else float("nan")


class MeanMetric(Mean):
    """The batch-size-weighted mean of ``fn(output, target)`` over the batches.

    Args:
        fn: a function of a batch's output and targets returning a number.
        name: the key in the logs; default ``fn.__name__``.
        higher_is_better: the direction of improvement of ``fn``.
    """

    def __init__(self, fn, name=None, higher_is_better=False):
        self.fn = fn
        self.higher_is_better = higher_is_better
        super().__init__(name or fn.__name__)

    def update(self, output, target):
        super().update(_array(self.fn(output, target)), weight=len(_array(target)))


class Accuracy(Metric):
    """The fraction of samples whose predicted class (argmax, or score > threshold for
    binary scores) is the target."""

    name = "accuracy"

    def __init__(self, threshold=0.5, name=None):
        self.threshold = threshold
        super().__init__(name)

    def reset(self):
        self.correct, self.count = 0, 0

    def update(self, output, target):
        predicted, target = _labels(output, target, self.threshold)
        self.correct += int(np.count_nonzero(predicted == target))
        self.count += target.size

    def compute(self):
        return self.correct / self.count if self.count else float("nan")


class TopKAccuracy(Accuracy):
    """The fraction of samples whose target is among the ``k`` highest scores
    (``(N, C)`` scores and class-index targets)."""

    name = "top_k_accuracy"

    def __init__(self, k=5, name=None):
        self.k = k
        super().__init__(name=name)

    def update(self, output, target):
        scores, target = _array(output), _array(target).reshape(-1)
        top = np.argpartition(-scores, min(self.k, scores.shape[1]) - 1, axis=1)[:, :self.k]
        self.correct += int(np.count_nonzero((top == target[:, None]).any(axis=1)))
        self.count += target.size


class _Confusion(Metric):
    """Per-class true positive, false positive and false negative counts.

    ``average``: None picks ``'binary'`` for binary scores and ``'macro'`` for class
    scores. ``'binary'`` scores class 1; ``'macro'`` averages the per-class values over
    the classes seen in targets or predictions (scikit-learn's rule; 0/0 counts as 0);
    ``'micro'`` pools the counts of all classes (for single-label data, the accuracy).
    """

    def __init__(self, average=None, threshold=0.5, name=None):
        if average not in (None, "binary", "macro", "micro"):
            raise ValueError(f"{type(self).__name__}: average must be None, 'binary', "
                             f"'macro' or 'micro', not {average!r}")
        self.average = average
        self.threshold = threshold
        super().__init__(name)

    def reset(self):
        self.tp = self.fp = self.fn = self.seen = np.zeros(0, np.int64)
        self._binary = None

    def update(self, output, target):
        binary = _is_binary(_array(output))
        self._binary = binary if self._binary is None else self._binary
        predicted, target = _labels(output, target, self.threshold)
        n = max(len(self.tp), int(predicted.max(initial=-1)) + 1,
                int(target.max(initial=-1)) + 1, 2 if binary else 0)
        hit = predicted == target
        self.tp = _add(self.tp, np.bincount(target[hit], minlength=n))
        self.fp = _add(self.fp, np.bincount(predicted[~hit], minlength=n))
        self.fn = _add(self.fn, np.bincount(target[~hit], minlength=n))
        self.seen = _add(self.seen, np.bincount(np.concatenate([predicted, target]),
                                                minlength=n))

    def _counts(self):
        """``(tp, fp, fn)`` arrays over the classes that ``average`` scores."""
        average = self.average or ("binary" if self._binary else "macro")
        if average == "binary":
            return self.tp[1:2], self.fp[1:2], self.fn[1:2]
        if average == "micro":
            return self.tp.sum(keepdims=True), self.fp.sum(keepdims=True), \
                self.fn.sum(keepdims=True)
        seen = self.seen > 0
        return self.tp[seen], self.fp[seen], self.fn[seen]

    def compute(self):
        if self._binary is None:
            return float("nan")
        return float(np.mean(self._score(*self._counts())))


def _add(counts, more):
    if len(counts) < len(more):
        counts = np.pad(counts, (0, len(more) - len(counts)))
    return counts + np.pad(more, (0, len(counts) - len(more)))


def _ratio(numerator, denominator):
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)),
                     where=denominator > 0)


class Precision(_Confusion):
    """``tp / (tp + fp)``: of the samples predicted as a class, the fraction that are."""

    name = "precision"

    def _score(self, tp, fp, fn):
        return _ratio(tp, tp + fp)


class Recall(_Confusion):
    """``tp / (tp + fn)``: of the samples of a class, the fraction predicted as it."""

    name = "recall"

    def _score(self, tp, fp, fn):
        return _ratio(tp, tp + fn)


class F1Score(_Confusion):
    """``2 tp / (2 tp + fp + fn)``, the harmonic mean of precision and recall (per class,
    then averaged for ``'macro'``)."""

    name = "f1"

    def _score(self, tp, fp, fn):
        return _ratio(2 * tp, 2 * tp + fp + fn)


class MeanAbsoluteError(Metric):
    """``mean(|output - target|)`` over every element of the epoch."""

    name = "mae"
    higher_is_better = False

    def reset(self):
        self.total, self.count = 0.0, 0

    def update(self, output, target):
        error = _array(output).astype(np.float64) - _array(target)
        self.total += float(self._reduce(error))
        self.count += error.size

    @staticmethod
    def _reduce(error):
        return np.abs(error).sum()

    def compute(self):
        return self.total / self.count if self.count else float("nan")


class MeanSquaredError(MeanAbsoluteError):
    """``mean((output - target) ** 2)`` over every element of the epoch."""

    name = "mse"

    @staticmethod
    def _reduce(error):
        return np.square(error).sum()


class AUC(Metric):
    """The area under the ROC curve of binary scores, computed exactly from ranks.

    ``AUC = (R - P (P + 1) / 2) / (P N)``, where R is the sum of the (tie-averaged,
    1-based) ranks of the positives' scores among all scores, P the number of positives
    and N of negatives: the probability that a random positive scores above a random
    negative, ties counting one half. NaN until both classes were seen. Keeps every
    score of the epoch.
    """

    name = "auc"

    def reset(self):
        self._scores, self._targets = [], []

    def update(self, output, target):
        self._scores.append(_array(output).reshape(-1).astype(np.float64))
        self._targets.append(_array(target).reshape(-1) > 0.5)

    def compute(self):
        if not self._scores:
            return float("nan")
        scores, positive = np.concatenate(self._scores), np.concatenate(self._targets)
        n_pos = int(positive.sum())
        n_neg = positive.size - n_pos
        if n_pos == 0 or n_neg == 0:
            return float("nan")
        _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
        ends = np.cumsum(counts)
        ranks = ((ends - counts + 1 + ends) / 2)[inverse.reshape(-1)]
        return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


_BY_NAME = {cls.name: cls for cls in (Accuracy, TopKAccuracy, Precision, Recall, F1Score,
                                      MeanAbsoluteError, MeanSquaredError, AUC)}


def get(metric):
    """A new metric for a name (``'accuracy'``...), the metric itself for a ``Metric``,
    or a ``MeanMetric`` over a function ``fn(output, target)``."""
    if isinstance(metric, Metric):
        return metric
    if isinstance(metric, str):
        if metric not in _BY_NAME:
            raise ValueError(f"unknown metric {metric!r}; the metric names are "
                             f"{', '.join(map(repr, _BY_NAME))}, or pass a Metric")
        return _BY_NAME[metric]()
    if callable(metric):
        return MeanMetric(metric)
    raise TypeError(f"a metric must be a name, a Metric or a function, not "
                    f"{type(metric).__name__}")
