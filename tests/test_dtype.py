"""dtypes and promotion: every pair of dtypes, 0-dim and scalar cases, against torch."""

import itertools

import numpy as np
import pytest
import torch

import ember

NAMES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def pair(name, ndim):
    shape = (2,) * ndim
    e = ember.zeros(shape, dtype=getattr(ember, name))
    t = torch.zeros(shape, dtype=getattr(torch, name))
    return e, t


@pytest.mark.parametrize("a,b", list(itertools.product(NAMES, NAMES)))
@pytest.mark.parametrize("dims", [(1, 1), (1, 0), (0, 1), (0, 0)])
def test_tensor_tensor_promotion_matches_torch(a, b, dims):
    (ea, ta), (eb, tb) = pair(a, dims[0]), pair(b, dims[1])
    assert ember.result_type(ea, eb).name == str(torch.result_type(ta, tb)).split(".")[1]


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("scalar", [True, 3, 2.5])
def test_tensor_scalar_promotion_matches_torch(a, scalar):
    ea, ta = pair(a, 1)
    assert ember.result_type(ea, scalar).name == str(torch.result_type(ta, scalar)).split(".")[1]


def test_arithmetic_result_dtypes():
    i = ember.tensor([1, 2])
    assert (i * 2.5).dtype == ember.float32
    assert (i / 2).dtype == ember.float32
    assert (i + True).dtype == ember.int64
    assert (ember.tensor([True]) + ember.tensor([True])).dtype == ember.bool
    assert (ember.ones(2, dtype=ember.float16) * 2.0).dtype == ember.float16


def test_default_dtype_switch():
    try:
        ember.set_default_dtype(ember.float64)
        assert ember.tensor([1.0]).dtype == ember.float64
        assert (ember.tensor([1]) * 0.5).dtype == ember.float64
        assert ember.randn(2).dtype == ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    with pytest.raises(TypeError, match="only floating"):
        ember.set_default_dtype(ember.int64)


def test_dtype_objects():
    assert ember.float is ember.float32 and ember.long is ember.int64 and ember.half is ember.float16
    assert ember.float32.is_floating_point and not ember.int64.is_floating_point
    assert repr(ember.float32) == "ember.float32"
    assert ember.float32.itemsize == 4
    assert ember.finfo(ember.float32).eps == float(np.finfo(np.float32).eps)
    assert ember.iinfo(ember.int8).max == 127
    assert ember.promote_types(ember.int8, ember.uint8) == ember.int16


def test_unsupported_numpy_dtype_is_a_clear_error():
    with pytest.raises(TypeError, match="ember has no dtype"):
        ember.from_numpy(np.zeros(2, dtype=np.complex64))
