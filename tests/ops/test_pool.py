"""Pooling beyond the op table: returned indices, ties, NaN, integer inputs, names, errors."""

import itertools

import numpy as np
import pytest
import torch

import ember
from ember.ops import avg_pool, pool

EF, TF = ember.nn.functional, torch.nn.functional


def _both(arr, requires_grad=False):
    e = ember.from_numpy(np.array(arr, copy=True))
    t = torch.from_numpy(np.array(arr, copy=True))
    if requires_grad:
        e.requires_grad_(True)
        t.requires_grad_(True)
    return e, t


def _equal(mine, ref):
    np.testing.assert_array_equal(mine.detach().numpy(), ref.detach().numpy())


def test_names_exist_in_torch():
    for module in (pool, avg_pool):
        for name in module.__all__:
            assert hasattr(torch, name), name
        for name in module.FUNCTIONAL:
            assert hasattr(TF, name), name


MAX_CONFIGS = list(itertools.product([1, 2, 3, (2, 3)], [None, 1, 2], [0, 1], [1, 2],
                                     [False, True]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pool2d_indices_match_torch(dtype):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 8)).astype(dtype)
    e, t = _both(x)
    checked = 0
    for k, s, p, d, ceil in MAX_CONFIGS:
        try:
            ref = TF.max_pool2d(t, k, s, p, d, ceil, return_indices=True)
        except RuntimeError:
            with pytest.raises(RuntimeError):
                EF.max_pool2d(e, k, s, p, d, ceil, return_indices=True)
            continue
        mine = EF.max_pool2d(e, k, s, p, d, ceil, return_indices=True)
        _equal(mine[0], ref[0])
        _equal(mine[1], ref[1])
        assert mine[1].dtype == ember.int64
        checked += 1
    assert checked > 60


def test_max_pool1d_indices_match_torch():
    x = np.random.default_rng(1).standard_normal((3, 10))  # unbatched
    e, t = _both(x)
    for k, s, p, d, ceil in MAX_CONFIGS:
        if isinstance(k, tuple) or p > (d * (k - 1) + 1) // 2:
            continue
        mine = EF.max_pool1d(e, k, s, p, d, ceil, return_indices=True)
        ref = TF.max_pool1d(t, k, s, p, d, ceil, return_indices=True)
        _equal(mine[0], ref[0])
        _equal(mine[1], ref[1])


@pytest.mark.parametrize("size", [1, 2, 3, (4, None), (7, 3), (None, 5), (9, 9), (3, 7)])
def test_adaptive_max_pool2d_indices_match_torch(size):
    x = np.random.default_rng(2).standard_normal((2, 3, 7, 8))
    e, t = _both(x)
    mine = EF.adaptive_max_pool2d(e, size, return_indices=True)
    ref = TF.adaptive_max_pool2d(t, size, return_indices=True)
    _equal(mine[0], ref[0])
    _equal(mine[1], ref[1])


@pytest.mark.parametrize("pool_fn", [
    lambda m, x: m.nn.functional.max_pool2d(x, 2, return_indices=True),
    lambda m, x: m.nn.functional.max_pool2d(x, 3, 1, 1, return_indices=True),
    lambda m, x: m.nn.functional.max_pool2d(x, 3, 2, 1, 2, True, return_indices=True),
    lambda m, x: m.nn.functional.adaptive_max_pool2d(x, (3, 5), return_indices=True),
    lambda m, x: m.nn.functional.max_pool1d(x.flatten(-2), 4, 3, 2, return_indices=True),
])
def test_ties_pick_the_first_maximum_like_torch(pool_fn):
    x = np.random.default_rng(3).integers(0, 3, (2, 2, 8, 8)).astype(np.float64)
    e, t = _both(x, requires_grad=True)
    mine, ref = pool_fn(ember, e), pool_fn(torch, t)
    _equal(mine[1], ref[1])
    g = np.random.default_rng(4).standard_normal(tuple(ref[0].shape))
    mine[0].backward(ember.from_numpy(g))
    ref[0].backward(torch.from_numpy(g))
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy())


def test_nan_wins_like_torch():
    x = np.random.default_rng(5).standard_normal((1, 1, 6, 6))
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[0, 0, 3, 2] = np.nan
    e, t = _both(x)
    for k, s, p in [(2, 2, 0), (3, 1, 1), (3, 2, 1)]:
        mine = EF.max_pool2d(e, k, s, p, return_indices=True)
        ref = TF.max_pool2d(t, k, s, p, return_indices=True)
        np.testing.assert_array_equal(mine[0].numpy(), ref[0].numpy())
        _equal(mine[1], ref[1])


def test_windows_of_only_minus_inf_point_into_the_input():
    e, t = _both(np.full((1, 1, 4, 4), -np.inf))
    mine = EF.max_pool2d(e, 3, 2, 1, return_indices=True)
    ref = TF.max_pool2d(t, 3, 2, 1, return_indices=True)
    _equal(mine[1], ref[1])


def test_integer_inputs():
    x = np.random.default_rng(6).integers(-9, 9, (2, 3, 7, 7))
    e, t = _both(x)
    for mine, ref in [(EF.max_pool2d(e, 3, 2, 1, return_indices=True),
                       TF.max_pool2d(t, 3, 2, 1, return_indices=True)),
                      ((EF.avg_pool2d(e, 3, 2, 1),), (TF.avg_pool2d(t, 3, 2, 1),)),
                      ((EF.avg_pool2d(e, 2, ceil_mode=True, count_include_pad=False),),
                       (TF.avg_pool2d(t, 2, ceil_mode=True, count_include_pad=False),))]:
        for m, r in zip(mine, ref):
            assert str(m.dtype) == str(r.dtype).replace("torch", "ember")
            _equal(m, r)
    with pytest.raises(NotImplementedError, match="adaptive_avg_pool2d"):
        EF.adaptive_avg_pool2d(e, 2)


def test_top_level_forms():
    x = np.random.default_rng(7).standard_normal((2, 3, 7))
    e, t = _both(x)
    values, indices = ember.adaptive_max_pool1d(e, 3)  # a tuple at top level, as in torch
    ref = torch.adaptive_max_pool1d(t, 3)
    _equal(values, ref[0])
    _equal(indices, ref[1])
    assert isinstance(EF.adaptive_max_pool1d(e, 3), ember.Tensor)
    _equal(ember.max_pool1d(e, 2, (), 1), torch.max_pool1d(t, 2, [], 1))
    _equal(ember.max_pool1d_with_indices(e, 3)[1], torch.max_pool1d_with_indices(t, 3)[1])
    _equal(ember.avg_pool1d(e, 3, 2, 1, True, False), torch.avg_pool1d(t, 3, 2, 1, True, False))
    np.testing.assert_allclose(ember.adaptive_avg_pool1d(e, 4).numpy(),
                               torch.adaptive_avg_pool1d(t, 4).numpy())
    _equal(ember.max_pool2d(e.unsqueeze(0), 2), torch.max_pool2d(t.unsqueeze(0), 2))


def test_adaptive_pools_to_size_zero_are_empty():
    e, t = _both(np.ones((1, 2, 5, 5)), requires_grad=True)
    for size in [(0, 2), (3, 0)]:
        assert EF.adaptive_avg_pool2d(e, size).shape == TF.adaptive_avg_pool2d(t, size).shape
        values, indices = EF.adaptive_max_pool2d(e, size, return_indices=True)
        assert values.shape == TF.adaptive_max_pool2d(t, size).shape
        assert indices.dtype == ember.int64
    EF.adaptive_avg_pool2d(e, (0, 2)).sum().backward()
    np.testing.assert_array_equal(e.grad.numpy(), 0)


def test_no_grad_pooling_matches():
    x = np.random.default_rng(8).standard_normal((2, 2, 6, 6))
    e, t = _both(x, requires_grad=True)
    with ember.no_grad():
        y = EF.max_pool2d(e, 2)
    assert not y.requires_grad
    _equal(y, TF.max_pool2d(t, 2))


def test_max_unpool_places_values_like_torch():
    x = np.random.default_rng(9).standard_normal((2, 3, 6, 7))
    e, t = _both(x)
    for k, s, p, size in [(2, None, 0, (6, 7)), (2, 2, 1, (6, 7)), (3, 3, 0, (2, 3, 6, 7))]:
        ev, ei = EF.max_pool2d(e, k, s, p, return_indices=True)
        tv, ti = TF.max_pool2d(t, k, s, p, return_indices=True)
        _equal(EF.max_unpool2d(ev, ei, k, s, p, size), TF.max_unpool2d(tv, ti, k, s, p, size))
    ev, ei = EF.max_pool1d(e[0], 2, return_indices=True)
    tv, ti = TF.max_pool1d(t[0], 2, return_indices=True)
    _equal(EF.max_unpool1d(ev, ei, 2, output_size=[7]), TF.max_unpool1d(tv, ti, 2, output_size=[7]))


def _message(excinfo):
    return str(excinfo.value)


def test_pad_greater_than_half_the_kernel():
    e, t = _both(np.zeros((1, 3, 4, 4)))
    with pytest.raises(RuntimeError):
        TF.max_pool2d(t, 2, padding=2)
    with pytest.raises(RuntimeError) as info:
        EF.max_pool2d(e, 2, padding=2)
    text = _message(info)
    assert "max_pool2d" in text and "half" in text and "padding=(2, 2)" in text
    assert "(1, 3, 4, 4)" in text and "test_pool.py" in text
    with pytest.raises(RuntimeError, match="avg_pool2d: pad should be at most half"):
        EF.avg_pool2d(e, 3, padding=2)


def test_kernel_larger_than_input():
    e, t = _both(np.zeros((1, 3, 4, 4)))
    with pytest.raises(RuntimeError):
        TF.max_pool2d(t, 5)
    with pytest.raises(RuntimeError) as info:
        EF.max_pool2d(e, 5)
    text = _message(info)
    assert "max_pool2d" in text and "(1, 3, 4, 4)" in text and "kernel_size=(5, 5)" in text
    assert "(1, 3, 0, 0)" in text
    with pytest.raises(RuntimeError, match=r"avg_pool1d: the input of shape \(3, 4, 4\)"):
        EF.avg_pool1d(e[0], 5)


@pytest.mark.parametrize("call", [
    lambda m, x: m.nn.functional.max_pool2d(x[0, 0], 2),
    lambda m, x: m.nn.functional.max_pool2d(x[None], 2),
    lambda m, x: m.nn.functional.max_pool1d(x, 2),
    lambda m, x: m.nn.functional.avg_pool2d(x[0, 0], 2),
    lambda m, x: m.nn.functional.adaptive_avg_pool2d(x[0, 0], 2),
    lambda m, x: m.nn.functional.adaptive_max_pool1d(x, 2),
])
def test_wrong_rank(call):
    e, t = _both(np.zeros((1, 3, 4, 4)))
    with pytest.raises((RuntimeError, IndexError)):  # IndexError from avg_pool2d
        call(torch, t)
    with pytest.raises(RuntimeError) as info:
        call(ember, e)
    text = _message(info)
    assert "pool" in text and "expected" in text and "got shape" in text


def test_bad_parameters():
    e = ember.zeros(1, 3, 4, 4)
    with pytest.raises(RuntimeError, match="stride must be greater than zero"):
        EF.max_pool2d(e, 2, stride=0)
    with pytest.raises(RuntimeError, match="kernel_size must either be a single int"):
        EF.max_pool2d(e, (2, 2, 2))
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        EF.avg_pool2d(e, 2, divisor_override=0)
    values, indices = EF.max_pool2d(e, 2, return_indices=True)
    with pytest.raises(IndexError, match="max_unpool2d: found an invalid max index"):
        EF.max_unpool2d(values, indices + 16, 2)
    with pytest.raises(ValueError, match="invalid output_size"):
        EF.max_unpool2d(values, indices, 2, output_size=(9, 9))
