"""Pooling layers against torch: outputs, indices, gradients, repr."""

import numpy as np
import pytest
import torch

import ember
from tests.nn.layer_check import check_layer, pair, random_input

CASES = [
    ("MaxPool1d", (3,), {}, (2, 3, 9)),
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1, "dilation": 2}, (2, 3, 9)),
    ("MaxPool1d", (2,), {"ceil_mode": True}, (3, 7)),
    ("MaxPool2d", (2,), {}, (2, 3, 6, 4)),
    ("MaxPool2d", ((3, 2),), {"stride": (2, 1), "padding": (1, 0)}, (1, 2, 7, 5)),
    ("MaxPool2d", (3,), {"stride": 2, "ceil_mode": True, "dilation": (1, 2)}, (2, 8, 9)),
    ("AvgPool1d", (3,), {}, (2, 3, 9)),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False}, (2, 3, 8)),
    ("AvgPool1d", (2,), {"ceil_mode": True}, (3, 7)),
    ("AvgPool2d", (2,), {}, (2, 3, 6, 4)),
    ("AvgPool2d", ((3, 2),), {"stride": (2, 1), "padding": (1, 0)}, (1, 2, 7, 5)),
    ("AvgPool2d", (3,), {"padding": 1, "ceil_mode": True, "count_include_pad": False},
     (1, 2, 7, 5)),
    ("AvgPool2d", (2,), {"divisor_override": 3}, (1, 2, 4, 4)),
    ("AdaptiveAvgPool1d", (3,), {}, (2, 3, 8)),
    ("AdaptiveAvgPool2d", ((2, 3),), {}, (2, 3, 5, 7)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 4, 4)),
    ("AdaptiveAvgPool2d", ((None, 2),), {}, (3, 5, 4)),
    ("AdaptiveMaxPool1d", (3,), {}, (2, 3, 8)),
    ("AdaptiveMaxPool2d", ((2, 3),), {}, (2, 3, 5, 7)),
    ("AdaptiveMaxPool2d", ((3, None),), {}, (3, 5, 4)),
]

INDEX_CASES = [
    ("MaxPool1d", (2,), {"return_indices": True}, (2, 3, 8)),
    ("MaxPool2d", (2,), {"return_indices": True, "stride": 1}, (2, 3, 4, 5)),
    ("AdaptiveMaxPool1d", (3,), {"return_indices": True}, (2, 3, 8)),
    ("AdaptiveMaxPool2d", (2,), {"return_indices": True}, (1, 2, 5, 4)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, args, kwargs, shape", CASES + INDEX_CASES)
def test_pooling_matches_torch(name, args, kwargs, shape, dtype):
    e, t = pair(name, *args, dtype=dtype, **kwargs)
    check_layer(e, t, random_input(shape, dtype), dtype=dtype)


@pytest.mark.parametrize("name, args, kwargs, shape", CASES + INDEX_CASES)
def test_repr_and_attributes_match_torch(name, args, kwargs, shape):
    e, t = getattr(ember.nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(e) == repr(t)
    for attr in ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices",
                 "count_include_pad", "divisor_override", "output_size"):
        assert getattr(e, attr, "absent") == getattr(t, attr, "absent"), attr
    assert list(e.state_dict()) == []


@pytest.mark.parametrize("nd, shape", [(1, (2, 3, 8)), (2, (1, 2, 4, 6))])
def test_max_unpool_inverts_max_pool_like_torch(nd, shape):
    x = random_input(shape)
    outs = []
    for lib in (ember, torch):
        pool = getattr(lib.nn, f"MaxPool{nd}d")(2, return_indices=True)
        unpool = getattr(lib.nn, f"MaxUnpool{nd}d")(2)
        xin = lib.tensor(x, requires_grad=True)
        values, indices = pool(xin)
        out = unpool(values, indices, output_size=xin.shape)
        out.sum().backward()
        outs.append((out.detach().numpy(), xin.grad.numpy(), repr(unpool)))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-12)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-12)
    assert outs[0][2] == outs[1][2]


def test_max_unpool_attributes_are_tuples_like_torch():
    for args in [(2,), (3, 2, 1), ((2, 3),)]:
        e, t = ember.nn.MaxUnpool2d(*args), torch.nn.MaxUnpool2d(*args)
        assert (e.kernel_size, e.stride, e.padding) == (t.kernel_size, t.stride, t.padding)
