"""``ember.backend.small_products`` against NumPy's products: row blocks and column blocks,
compiled and through ctypes, on the layouts the LSTM's time loops give them (rows of a
wider buffer, a single row, nothing at all)."""

import numpy as np
import pytest

from ember.backend import small_products
from ember.backend.small_products import (
    small_product,
    small_product_columns,
    small_products_available,
)

pytestmark = pytest.mark.skipif(not small_products_available(np.float32),
                                reason="NumPy's BLAS is not OpenBLAS")

SHAPES = [(16, 256, 1024), (32, 1024, 256), (1, 1, 4), (5, 3, 7), (3, 300, 2000)]


def _tolerance(dtype):
    return {"rtol": 1e-5, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-12,
                                                                      "atol": 1e-10}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, k, n", SHAPES)
def test_row_blocks_match_numpy(kernels, dtype, m, k, n):
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((m, k + 5)).astype(dtype)[:, :k]  # rows of a wider buffer
    b = rng.standard_normal((k, n)).astype(dtype)
    out = np.full((m, n), np.nan, dtype)
    assert small_product(a, b, out) is out
    np.testing.assert_allclose(out, a @ b, **_tolerance(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m, k, n", SHAPES)
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_column_blocks_match_numpy(kernels, dtype, m, k, n, beta):
    rng = np.random.default_rng(m * k + n)
    a = rng.standard_normal((m, k + 3)).astype(dtype)[:, :k]
    b = rng.standard_normal((k, n)).astype(dtype)
    padded = rng.standard_normal((m, n + 16)).astype(dtype)
    out, spare = padded[:, :n], padded[:, n:].copy()
    want = beta * out + a @ b
    small_product_columns(a, b, out, beta)
    np.testing.assert_allclose(out, want, **_tolerance(dtype))
    np.testing.assert_array_equal(padded[:, n:], spare)  # nothing past the columns written


def test_blocks_stay_small(monkeypatch):
    """Every block's product is at most ``SMALL`` multiply-adds, and they cover the output."""
    calls = []
    real = small_products._run

    def record(loop, dtype, *args):
        calls.append((loop.py_func.__name__, args))
        return real(loop, dtype, *args)

    monkeypatch.setattr(small_products, "_run", record)
    a, b = np.ones((16, 256), np.float32), np.ones((256, 1024), np.float32)
    small_product_columns(a, b, np.zeros((16, 1024), np.float32))
    _, (*_, m, n, k, cols, _beta) = calls[-1]
    assert cols * m * k <= small_products.SMALL and cols == 128
    small_product(np.ones((1024, 256), np.float32), np.ones((256, 16), np.float32),
                  np.zeros((1024, 16), np.float32))
    _, (*_, m, n, k, rows) = calls[-1]
    assert rows * n * k <= small_products.SMALL and rows == 128


def test_a_single_row_whatever_its_stride():
    """A ``(4, 1)`` array's transpose is one row whose stride NumPy leaves at one item."""
    w = np.arange(4, dtype=np.float32).reshape(4, 1)
    row = np.ascontiguousarray(w.T)
    assert row.strides[0] == row.itemsize  # the case: BLAS must be told 4, not 1
    a = np.full((3, 1), 2.0, np.float32)
    out = np.zeros((3, 4), np.float32)
    small_product_columns(a, row, out)
    np.testing.assert_array_equal(out, a @ row)


def test_nothing_to_multiply():
    out = np.ones((0, 4), np.float32)
    small_product_columns(np.ones((0, 3), np.float32), np.ones((3, 4), np.float32), out, 1.0)
    zero_inner = np.full((2, 4), 5.0, np.float32)
    small_product(np.ones((2, 0), np.float32), np.ones((0, 4), np.float32), zero_inner)
    np.testing.assert_array_equal(zero_inner, 0)
