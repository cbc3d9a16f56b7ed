"""ember.testing.assert_close behaves like torch.testing.assert_close."""

import numpy as np
import pytest
import torch

import ember
from ember.testing import assert_close


@pytest.mark.parametrize("a,b", [
    ([1.0, 2.0], [1.0, 2.0 + 1e-7]), ([1.0], [1.001]), ([1, 2], [1, 3]), ([1.0, float("nan")],
                                                                         [1.0, float("nan")]),
])
def test_same_verdict_as_torch(a, b):
    def verdict(fn, lib):
        try:
            fn(lib.tensor(a), lib.tensor(b))
            return True
        except AssertionError:
            return False

    assert verdict(assert_close, ember) == verdict(torch.testing.assert_close, torch)


def test_message_and_structures():
    with pytest.raises(AssertionError, match="Mismatched elements: 1 / 3"):
        assert_close(ember.tensor([1.0, 2.0, 3.0]), ember.tensor([1.0, 2.5, 3.0]))
    with pytest.raises(AssertionError, match="dtype"):
        assert_close(ember.ones(2), ember.ones(2, dtype=ember.float64))
    assert_close({"a": [ember.ones(2)]}, {"a": [ember.ones(2)]})
    assert_close(ember.ones(2), np.ones(2, dtype=np.float32))
    assert_close(ember.tensor([1.0, 1.1]), ember.tensor([1.0, 1.0]), rtol=0.2, atol=0)


def test_set_printoptions():
    try:
        ember.set_printoptions(precision=2)
        assert repr(ember.tensor([1.23456])) == "tensor([1.23])"
    finally:
        ember.set_printoptions(profile="default")
    assert repr(ember.tensor([1.23456])) == "tensor([1.2346])"
