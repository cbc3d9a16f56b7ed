"""Flatten and Unflatten against torch."""

import pytest
import torch

import ember
from tests.nn.layer_check import check_layer, pair, random_input


@pytest.mark.parametrize("args, shape", [((), (2, 3, 4)), ((0, -1), (2, 3, 4)),
                                         ((1, 2), (2, 3, 4, 5)), ((-3, -2), (2, 3, 4, 5))])
def test_flatten_matches_torch(args, shape):
    e, t = pair("Flatten", *args)
    check_layer(e, t, random_input(shape))
    assert repr(e) == repr(t)


@pytest.mark.parametrize("dim, size, shape", [(1, (2, 3), (4, 6)), (-1, (2, -1), (3, 8)),
                                              (0, [2, 2], (4, 3)), (1, (1, 5, 1), (2, 5))])
def test_unflatten_matches_torch(dim, size, shape):
    e, t = pair("Unflatten", dim, size)
    check_layer(e, t, random_input(shape))
    assert repr(e) == repr(t)


def test_flatten_unflatten_in_sequential():
    model = ember.nn.Sequential(ember.nn.Flatten(), ember.nn.Unflatten(1, (3, 4)))
    assert model(ember.zeros(2, 3, 4)).shape == (2, 3, 4)


@pytest.mark.parametrize("size", [5, (2, 2.0), "ab"])
def test_unflatten_rejects_non_int_sizes_like_torch(size):
    with pytest.raises(TypeError) as e_err:
        ember.nn.Unflatten(1, size)
    with pytest.raises(TypeError) as t_err:
        torch.nn.Unflatten(1, size)
    assert str(e_err.value) == str(t_err.value)
