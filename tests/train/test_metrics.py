"""Metrics against PyTorch where it computes the same thing, else against their
definitions written out plainly (and scikit-learn's documented examples)."""

import itertools
import math

import numpy as np
import pytest
import torch

import ember
from ember.train import metrics

RNG = np.random.default_rng(0)


def _batches(*arrays, size=7):
    """The arrays cut into batches of ``size`` rows, as ember tensors."""
    n = len(arrays[0])
    for start in range(0, n, size):
        yield tuple(ember.tensor(a[start:start + size]) for a in arrays)


def _accumulate(metric, *arrays):
    metric.reset()
    for batch in _batches(*arrays):
        metric.update(*batch)
    return metric.compute()


def test_accuracy_multiclass_binary_and_one_hot():
    scores = RNG.normal(size=(50, 5)).astype(np.float32)
    target = RNG.integers(0, 5, 50)
    expected = (torch.tensor(scores).argmax(1) == torch.tensor(target)).double().mean().item()
    assert _accumulate(metrics.Accuracy(), scores, target) == expected
    assert _accumulate(metrics.Accuracy(), scores, np.eye(5)[target]) == expected
    probabilities = RNG.random((40, 1))
    labels = RNG.integers(0, 2, (40, 1))
    assert _accumulate(metrics.Accuracy(), probabilities, labels) == \
        np.mean((probabilities > 0.5) == labels)
    logits = RNG.normal(size=40)
    assert _accumulate(metrics.Accuracy(threshold=0.0), logits, labels[:, 0]) == \
        np.mean((logits > 0) == labels[:, 0])


@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_accuracy_against_torch_topk(k):
    scores = RNG.normal(size=(60, 8))
    target = RNG.integers(0, 8, 60)
    top = torch.topk(torch.tensor(scores), k, dim=1).indices
    expected = (top == torch.tensor(target)[:, None]).any(1).double().mean().item()
    assert _accumulate(metrics.TopKAccuracy(k=k), scores, target) == expected
    assert metrics.get("top_k_accuracy").k == 5


def _confusion_reference(predicted, target, average):
    """precision, recall, f1 by their definitions, class by class."""
    classes = [1] if average == "binary" else sorted(set(predicted) | set(target))
    per_class = []
    for c in classes:
        tp = sum(p == c and t == c for p, t in zip(predicted, target))
        fp = sum(p == c and t != c for p, t in zip(predicted, target))
        fn = sum(p != c and t == c for p, t in zip(predicted, target))
        per_class.append((tp, fp, fn))
    if average == "micro":
        per_class = [tuple(map(sum, zip(*per_class)))]

    def safe(a, b):
        return a / b if b else 0.0
    p = np.mean([safe(tp, tp + fp) for tp, fp, _ in per_class])
    r = np.mean([safe(tp, tp + fn) for tp, _, fn in per_class])
    f = np.mean([safe(2 * tp, 2 * tp + fp + fn) for tp, fp, fn in per_class])
    return p, r, f


@pytest.mark.parametrize("average", ["macro", "micro"])
def test_precision_recall_f1_multiclass(average):
    scores = RNG.normal(size=(70, 6))
    scores[:, 5] -= 100  # class 5 is never predicted...
    target = RNG.integers(0, 5, 70)  # ...nor a target: it does not count in 'macro'
    expected = _confusion_reference(scores.argmax(1).tolist(), target.tolist(), average)
    got = [_accumulate(cls(average=average), scores, target)
           for cls in (metrics.Precision, metrics.Recall, metrics.F1Score)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    if average == "micro":  # single-label data: all three are the accuracy
        np.testing.assert_allclose(got, [_accumulate(metrics.Accuracy(), scores, target)] * 3)


def test_precision_recall_f1_binary():
    probabilities = RNG.random(45)
    target = RNG.integers(0, 2, 45)
    expected = _confusion_reference((probabilities > 0.5).astype(int).tolist(),
                                    target.tolist(), "binary")
    got = [_accumulate(cls(), probabilities, target)
           for cls in (metrics.Precision, metrics.Recall, metrics.F1Score)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_precision_recall_f1_match_scikit_learn_documentation():
    # scikit-learn's precision_score / recall_score / f1_score docstring example.
    target = np.array([0, 1, 2, 0, 1, 2])
    scores = np.eye(3)[[0, 2, 1, 0, 0, 1]]
    macro = [_accumulate(cls(average="macro"), scores, target)
             for cls in (metrics.Precision, metrics.Recall, metrics.F1Score)]
    np.testing.assert_allclose(macro, [0.2222222, 0.3333333, 0.2666666], atol=1e-6)
    micro = _accumulate(metrics.F1Score(average="micro"), scores, target)
    np.testing.assert_allclose(micro, 0.3333333, atol=1e-6)


def test_mean_absolute_and_squared_error_against_torch():
    output = RNG.normal(size=(33, 2)).astype(np.float32)
    target = RNG.normal(size=(33, 2)).astype(np.float32)
    mae = torch.nn.functional.l1_loss(torch.tensor(output).double(), torch.tensor(target).double())
    mse = torch.nn.functional.mse_loss(torch.tensor(output).double(),
                                       torch.tensor(target).double())
    np.testing.assert_allclose(_accumulate(metrics.MeanAbsoluteError(), output, target),
                               mae.item(), rtol=1e-12)
    np.testing.assert_allclose(_accumulate(metrics.MeanSquaredError(), output, target),
                               mse.item(), rtol=1e-12)


def _auc_by_pairs(scores, labels):
    """P(score of a random positive > score of a random negative), ties counting 1/2."""
    positives = [s for s, y in zip(scores, labels) if y]
    negatives = [s for s, y in zip(scores, labels) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p, n in itertools.product(positives, negatives))
    return wins / (len(positives) * len(negatives))


def test_auc_is_exact():
    # scikit-learn's roc_auc_score docstring example.
    assert _accumulate(metrics.AUC(), np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) \
        == 0.75
    scores = np.round(RNG.random(80), 1)  # many ties
    labels = RNG.integers(0, 2, 80)
    np.testing.assert_allclose(_accumulate(metrics.AUC(), scores, labels),
                               _auc_by_pairs(scores, labels), rtol=1e-12)
    assert math.isnan(_accumulate(metrics.AUC(), scores, np.ones(80)))  # one class only


def test_get_names_objects_and_functions():
    for name in ("accuracy", "top_k_accuracy", "precision", "recall", "f1", "mae", "mse",
                 "auc"):
        assert metrics.get(name).name == name
    accuracy = metrics.Accuracy(name="acc")
    assert metrics.get(accuracy) is accuracy and accuracy.name == "acc"

    def max_error(output, target):
        return (output - target).abs().max()

    metric = metrics.get(max_error)
    assert metric.name == "max_error"
    # The batch-size-weighted mean of the batch values: (8 * 3 + 2 * 1) / 10.
    metric.update(ember.full((8, 1), 3.0), ember.zeros(8, 1))
    metric.update(ember.ones(2, 1), ember.zeros(2, 1))
    assert metric.compute() == 2.6
    with pytest.raises(ValueError, match="unknown metric 'acc'"):
        metrics.get("acc")
    with pytest.raises(TypeError, match="not int"):
        metrics.get(3)
    with pytest.raises(ValueError, match="average must be"):
        metrics.Precision(average="weighted")


def test_reset_and_empty_metrics():
    for name in ("accuracy", "precision", "mae", "auc"):
        assert math.isnan(metrics.get(name).compute())
    metric = metrics.Accuracy()
    metric.update(ember.tensor([[1.0, 0.0]]), ember.tensor([0]))
    assert metric.compute() == 1.0
    metric.reset()
    assert math.isnan(metric.compute())
