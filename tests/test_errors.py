"""Errors name the op, the shapes and the user's own line."""

import os

import pytest

import ember

HERE = os.path.basename(__file__)


def test_matmul_mismatch_reads_like_a_sentence():
    a, b = ember.ones(64, 100), ember.ones(84, 10)
    with pytest.raises(RuntimeError) as info:
        a @ b  # the line the message must name
    msg = str(info.value)
    assert msg.startswith("matmul: cannot multiply (64, 100) by (84, 10): inner sizes 100 "
                          "and 84 differ")
    assert f"({HERE}:" in msg


def test_broadcast_mismatch_names_op_and_shapes():
    with pytest.raises(RuntimeError) as info:
        ember.ones(3, 4) + ember.ones(5)
    msg = str(info.value)
    assert msg.startswith("add:") and "(3, 4)" in msg and "(5,)" in msg and HERE in msg


def test_errors_are_catchable_as_torch_users_expect():
    # PyTorch raises RuntimeError for shape mismatches; ember's ShapeError is also a ValueError.
    with pytest.raises(ValueError):
        ember.ones(2) * ember.ones(3)


def test_reshape_error():
    with pytest.raises(RuntimeError, match=r"reshape: shape \(4, 4\) is invalid for input of size 6"):
        ember.ones(2, 3).reshape(4, 4)


def test_view_on_non_contiguous_suggests_reshape():
    with pytest.raises(RuntimeError, match="use .reshape"):
        ember.ones(2, 3).T.view(6)


def test_dim_out_of_range():
    with pytest.raises((IndexError, RuntimeError), match="out of range"):
        ember.ones(2, 3).sum(dim=2)
