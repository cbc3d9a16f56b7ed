"""``small_product``: ``a @ b`` as a run of products small enough for OpenBLAS to skip packing.

OpenBLAS (0.3.30) multiplies a product of at most ``2**19`` multiply-adds with its
small-matrix kernels, which read the operands where they lie instead of copying them into
packed panels first. A recurrent step's product is a few times larger than that, and
packing its weight again at every step is a good part of its cost; cut by the rows of the
weight into products of at most ``SMALL`` multiply-adds, it runs faster. Measured, one
thread, the LSTM benchmark's recurrent products (weight ``(1024, 256)``, and its transpose
``(256, 1024)`` in backward), right operand C-contiguous, pieces by this module's compiled
loop (by NumPy products in a Python loop: 86, 170, 89 and 174 us):

==========  ===========  ==========  ==========
batch rows  one product  in pieces   pieces of
==========  ===========  ==========  ==========
16          106 us       81 us       128 rows
32          185 us       156 us      64 rows
16 (bwd)    108 us       84 us       32 rows
32 (bwd)    190 us       160 us      16 rows
==========  ===========  ==========  ==========

Pieces of half the size ran slower again (100-120 us at 16 rows), and so did a right
operand that was a transposed view (125 us), which OpenBLAS's small kernels handle with
a slower variant. The compiled loop calls ``cblas_sgemm`` by address
(``ember.backend.conv_kernels``), so the GIL is released once per product, not once per
piece.
"""


from ember.backend.conv_kernels import _Gemm, _gemm_at, _loop, _run

__all__ = ["SMALL", "small_product", "small_product_columns", "small_products_available"]

SMALL = 1 << 19


def small_products_available(dtype):
    """True when ``small_product`` can run on ``dtype`` arrays (OpenBLAS found)."""
    return _Gemm.get(dtype) is not None


def small_product(a, b, out):
    """``out[...] = a @ b`` for C-contiguous ``b (K, N)`` and ``out (M, N)``, and ``a (M,
    K)`` with contiguous rows, all of one float dtype (``small_products_available``), in
    row blocks of at most ``SMALL`` multiply-adds."""
    m, k = a.shape
    n = b.shape[1]
    if 0 in (m, n, k):
        out[...] = 0
        return out
    rows = max(1, SMALL // (k * n))
    _run(_blocks, a.dtype, a.ctypes.data, _lead(a), b.ctypes.data, out.ctypes.data, m, n, k,
         rows)
    return out


@_loop
def _blocks(address, double, item, a, lda, b, out, m, n, k, rows):
    """``out[i:i + rows] = a[i:i + rows] @ b`` for each block (addresses; ``b`` and
    ``out`` C-contiguous, ``a``'s rows ``lda`` items apart)."""
    for start in range(0, m, rows):
        count = min(rows, m - start)
        _gemm_at(address, double, 111, count, n, k, a + start * lda * item, lda, b, n, 0.0,
                 out + start * n * item, n)


def small_product_columns(a, b, out, beta=0.0):
    """``out[...] = a @ b + beta * out`` for ``a (M, K)``, ``b (K, N)`` and ``out (M, N)``
    with contiguous rows, of one float dtype, in column blocks of at most ``SMALL``
    multiply-adds (each block of ``b`` read in place, no transposed copy)."""
    m, k = a.shape
    n = b.shape[1]
    if 0 in (m, n, k):
        out *= beta
        return out
    cols = max(1, SMALL // (k * m))
    _run(_column_blocks, a.dtype, a.ctypes.data, _lead(a), b.ctypes.data, _lead(b),
         out.ctypes.data, _lead(out), m, n, k, cols, beta)
    return out


def _lead(x):
    """The distance between ``x``'s rows in items, as BLAS wants it: NumPy may give a
    single row any stride (a ``(4, 1)`` array's transpose has rows 1 item apart)."""
    return x.strides[0] // x.itemsize if x.shape[0] > 1 else x.shape[1]


@_loop
def _column_blocks(address, double, item, a, lda, b, ldb, out, ldo, m, n, k, cols, beta):
    for start in range(0, n, cols):
        count = min(cols, n - start)
        _gemm_at(address, double, 111, m, count, k, a, lda, b + start * item, ldb, beta,
                 out + start * item, ldo)
