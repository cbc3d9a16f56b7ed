"""Upsample, UpsamplingNearest2d and UpsamplingBilinear2d against torch."""

import pytest
import torch

import ember
from tests.nn.layer_check import check_layer, pair, random_input

CASES = [
    ("Upsample", {"scale_factor": 2}, (1, 2, 3)),
    ("Upsample", {"size": 5, "mode": "linear"}, (2, 1, 3)),
    ("Upsample", {"scale_factor": 1.5, "mode": "linear", "align_corners": True}, (1, 2, 4)),
    ("Upsample", {"size": (4, 5), "mode": "bilinear"}, (1, 2, 3, 3)),
    ("Upsample", {"scale_factor": (2, 3), "mode": "nearest"}, (1, 1, 2, 2)),
    ("Upsample", {"scale_factor": 2, "mode": "bicubic", "align_corners": False}, (1, 1, 3, 3)),
    ("Upsample", {"scale_factor": 2, "mode": "nearest-exact"}, (1, 2, 3, 2)),
    ("Upsample", {"scale_factor": 0.5, "mode": "bilinear", "recompute_scale_factor": True},
     (1, 1, 5, 6)),
    ("Upsample", {"size": (2, 3, 2), "mode": "trilinear"}, (1, 1, 2, 2, 3)),
    ("Upsample", {"size": (2, 2), "mode": "area"}, (1, 2, 4, 5)),
    ("UpsamplingNearest2d", {"scale_factor": 2}, (1, 2, 2, 3)),
    ("UpsamplingBilinear2d", {"size": (5, 4)}, (1, 2, 2, 3)),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_upsampling_matches_torch(name, kwargs, shape, dtype):
    e, t = pair(name, dtype=dtype, **kwargs)
    check_layer(e, t, random_input(shape, dtype), dtype=dtype)


@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_repr_and_attributes_match_torch(name, kwargs, shape):
    e, t = getattr(ember.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(e) == repr(t)
    for attr in ("name", "size", "scale_factor", "mode", "align_corners",
                 "recompute_scale_factor"):
        assert getattr(e, attr) == getattr(t, attr), attr
