"""Samplers: orders and lengths against torch where they are deterministic, and
reproducibility and distribution where they are random (ember's and torch's random
streams differ by design)."""

import numpy as np
import pytest
import torch.utils.data as tud

import ember
from ember.data import (
    BatchSampler, RandomSampler, SequentialSampler, SubsetRandomSampler, WeightedRandomSampler,
)


def test_sequential_sampler():
    assert list(SequentialSampler(range(4))) == list(tud.SequentialSampler(range(4)))
    assert len(SequentialSampler(range(4))) == 4


@pytest.mark.parametrize("n, batch_size, drop_last", [
    (10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False), (2, 5, True), (0, 2, False),
    (7, 1, False),
])
def test_batch_sampler_like_torch(n, batch_size, drop_last):
    ours = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), batch_size, drop_last)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


@pytest.mark.parametrize("batch_size, drop_last, message", [
    (0, False, "batch_size should be a positive integer value, but got batch_size=0"),
    (True, False, "batch_size should be a positive integer value, but got batch_size=True"),
    (2.0, False, "batch_size should be a positive integer value, but got batch_size=2.0"),
    (2, 1, "drop_last should be a boolean value, but got drop_last=1"),
])
def test_batch_sampler_errors_like_torch(batch_size, drop_last, message):
    for cls in (BatchSampler, tud.BatchSampler):
        with pytest.raises(ValueError) as info:
            cls(range(3), batch_size, drop_last)
        assert str(info.value) == message


def _draws(sampler, passes=2):
    return [list(sampler) for _ in range(passes)]


def test_random_sampler_is_a_permutation_per_pass():
    ember.manual_seed(0)
    first, second = _draws(RandomSampler(range(20)))
    assert sorted(first) == sorted(second) == list(range(20))
    assert first != second


def test_random_sampler_reproducible():
    def run(generator=None, seed=0, **kwargs):
        ember.manual_seed(seed)
        return _draws(RandomSampler(range(50), generator=generator, **kwargs))

    assert run() == run() != run(seed=1)
    assert run(ember.Generator().manual_seed(4)) == run(ember.Generator().manual_seed(4), seed=9)
    assert run(replacement=True, num_samples=70) == run(replacement=True, num_samples=70)


def test_random_sampler_lengths_like_torch():
    for kwargs in [{}, {"num_samples": 7}, {"num_samples": 45}, {"replacement": True},
                   {"replacement": True, "num_samples": 100}]:
        ours, theirs = RandomSampler(range(20), **kwargs), tud.RandomSampler(range(20), **kwargs)
        assert len(ours) == len(theirs) == len(list(ours)) == len(list(theirs))


def test_random_sampler_more_samples_than_data_chains_permutations():
    out = list(RandomSampler(range(10), num_samples=25, generator=ember.Generator()))
    assert sorted(out[:10]) == sorted(out[10:20]) == list(range(10))
    assert len(set(out[20:])) == 5


def test_random_sampler_with_replacement_repeats():
    out = list(RandomSampler(range(5), replacement=True, num_samples=200,
                             generator=ember.Generator().manual_seed(0)))
    assert len(out) == 200 and set(out) == set(range(5))


@pytest.mark.parametrize("kwargs, exc, message", [
    ({"replacement": 1}, TypeError, "replacement should be a boolean value, but got "
                                    "replacement=1"),
    ({"num_samples": 0}, ValueError, "num_samples should be a positive integer value, but "
                                     "got num_samples=0"),
    ({"num_samples": 2.5}, ValueError, "num_samples should be a positive integer value, but "
                                       "got num_samples=2.5"),
])
def test_random_sampler_errors_like_torch(kwargs, exc, message):
    for cls in (RandomSampler, tud.RandomSampler):
        with pytest.raises(exc) as info:
            cls(range(3), **kwargs)
        assert str(info.value) == message


def test_subset_random_sampler():
    indices = [10, 20, 30, 40]
    sampler = SubsetRandomSampler(indices, generator=ember.Generator().manual_seed(1))
    first, second = _draws(sampler)
    assert sorted(first) == sorted(second) == indices and len(sampler) == 4
    again = SubsetRandomSampler(indices, generator=ember.Generator().manual_seed(1))
    assert _draws(again) == [first, second]


def test_weighted_random_sampler_reproducible_and_proportional():
    weights = [0.0, 1.0, 3.0]

    def run():
        g = ember.Generator().manual_seed(2)
        return list(WeightedRandomSampler(weights, 4000, generator=g))

    out = run()
    assert out == run() and len(out) == 4000
    counts = np.bincount(out, minlength=3)
    assert counts[0] == 0
    assert abs(counts[2] / counts[1] - 3.0) < 0.4
    assert sorted(WeightedRandomSampler([1, 1, 1, 5], 4, replacement=False)) == [0, 1, 2, 3]


@pytest.mark.parametrize("args, kwargs, message", [
    (([1.0], 0), {}, "num_samples should be a positive integer value, but got num_samples=0"),
    (([1.0], True), {}, "num_samples should be a positive integer value, but got "
                        "num_samples=True"),
    (([1.0], 2), {"replacement": 0}, "replacement should be a boolean value, but got "
                                     "replacement=0"),
    (([[1.0, 2.0]], 2), {}, "weights should be a 1d sequence but given weights have shape "
                            "(1, 2)"),
])
def test_weighted_random_sampler_errors_like_torch(args, kwargs, message):
    for cls in (WeightedRandomSampler, tud.WeightedRandomSampler):
        with pytest.raises(ValueError) as info:
            cls(*args, **kwargs)
        assert str(info.value) == message


def test_weighted_sampler_weights_are_float64():
    sampler = WeightedRandomSampler([1, 2], 3)
    assert sampler.weights.dtype == ember.float64 and len(sampler) == 3
