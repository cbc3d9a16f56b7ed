"""Attention's compiled softmax rows (ember/backend/attention_kernels.py) against its NumPy
path and PyTorch on the values its integer row maximum must order right (NOTE [row
maximum by integers]): signed zeros, infinities, NaN with either sign bit, dead rows."""

import numpy as np
import pytest
import torch

import ember
from ember.backend import attention_kernels
from ember.ops.attention import _causal_bias, _safe_softmax

pytestmark = pytest.mark.skipif(not attention_kernels._forward32.ready(),
                                reason="needs Numba")


def _negative_nan(dtype):
    bits = np.array([np.nan], dtype).view(np.int32 if dtype == np.float32 else np.int64)
    return (bits | np.array([-1 << (8 * np.dtype(dtype).itemsize - 1)], bits.dtype)).view(
        dtype)[0]


def _rows(dtype):
    inf, nan, nnan = np.inf, np.nan, _negative_nan(dtype)
    rows = [
        [1.0, -2.0, 3.0, 0.5, -7.0],
        [-0.0, 0.0, -0.0, -1e-30, 1e-30],
        [-inf, -inf, -inf, -inf, -inf],     # every key masked: zeros
        [-inf, -inf, 2.0, -inf, -inf],
        [-3.0, -1e30, -2.0, -5.0, -4.0],    # all negative
        [1.0, nan, 2.0, 3.0, 4.0],          # NaN: the row is NaN
        [1.0, nnan, 2.0, 3.0, 4.0],         # NaN with its sign bit set
        [-inf, nnan, -inf, -inf, -inf],     # ... in a row otherwise masked
        [inf, 1.0, 2.0, 3.0, 4.0],
        [-1e4, -1e4 - 1, -1e4 - 2, -1e4 - 3, -1e4 - 4],
    ]
    assert np.signbit(np.array(rows, dtype)[6, 1])
    return np.array(rows, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [False, True])
def test_special_rows_match_numpy_and_torch(dtype, causal):
    scores = _rows(dtype)
    ref = scores + (_causal_bias(*scores.shape, dtype) if causal else 0)
    expected = _safe_softmax(ref.copy())
    mine = scores.copy()
    attention_kernels.softmax_forward(mine, 1.0, causal)
    np.testing.assert_allclose(mine, expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(np.isnan(mine), np.isnan(expected))
    t = torch.softmax(torch.tensor(ref), -1)
    dead = np.all(ref == -np.inf, axis=-1)
    t[torch.tensor(dead)] = 0  # PyTorch's attention gives zeros, its plain softmax NaN
    np.testing.assert_allclose(mine, t.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [0.125, 1.0, 3.0])
def test_random_scores_match_torch(dtype, scale):
    rng = np.random.default_rng(0)
    scores = (rng.standard_normal((2, 3, 7, 7)) * 4).astype(dtype)
    for causal in (False, True):
        mine = scores.copy()
        attention_kernels.softmax_forward(mine, scale, causal)
        t = torch.tensor(scores.astype(np.float64)) * scale
        if causal:
            t = t + torch.tensor(_causal_bias(7, 7, np.float64))
        tol = {"rtol": 2e-6, "atol": 1e-7} if dtype == np.float32 else {"rtol": 1e-13}
        np.testing.assert_allclose(mine, torch.softmax(t, -1).numpy(), **tol)


def test_sdpa_rows_with_signed_nan_follow_torch():
    q = np.zeros((1, 2, 1), np.float32)
    k = np.zeros((1, 3, 1), np.float32)
    v = np.arange(6, dtype=np.float32).reshape(1, 3, 2)
    mask = np.zeros((2, 3), np.float32)
    mask[0, 1] = _negative_nan(np.float32)
    mask[1] = -np.inf
    outs = [lib.nn.functional.scaled_dot_product_attention(
        lib.tensor(q), lib.tensor(k), lib.tensor(v), attn_mask=lib.tensor(mask)).numpy()
        for lib in (ember, torch)]
    assert np.all(np.isnan(outs[0][0, 0]))
    np.testing.assert_array_equal(outs[0][0, 1], outs[1][0, 1])
