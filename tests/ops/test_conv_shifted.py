"""Stride-1 2-D convolutions by shifted products (``ember.backend.conv_kernels``).

``ember.ops._im2col`` runs a conv, its weight's gradient and (as a conv with the flipped
kernel) its input's gradient as one BLAS product per kernel tap when ``_shifted`` says so.
Here the rules are opened to every shape the grid fits, each case checks the path ran,
and values and gradients (first and second order) agree with PyTorch, with the loops over
products compiled and in Python; the default rules are checked to take ResNet-8's and
LeNet's layers, and the grid's reads to stay inside it.
"""

import itertools
import math

import numpy as np
import pytest
import torch

import ember
from ember.backend import conv_kernels
from ember.ops import _im2col, _winograd
from ember.testing import gradcheck, gradgradcheck
from tests.ops.conv_paths import check, leaves

F = ember.nn.functional

pytestmark = pytest.mark.skipif(not conv_kernels.shifted_products_available(np.float32),
                                reason="OpenBLAS's cblas_sgemm64_ not found")


@pytest.fixture
def calls(monkeypatch):
    """Counts of the shifted forward and weight-gradient calls, and of Winograd's convs
    (``ember.ops._winograd``), by name."""
    seen = {"conv": 0, "weight": 0, "winograd": 0, "winograd_weight": 0}

    def counted(name, fn):
        def run(*args, **kwargs):
            seen[name] += 1
            return fn(*args, **kwargs)
        return run

    monkeypatch.setattr(_im2col, "shifted_conv2d", counted("conv", _im2col.shifted_conv2d))
    monkeypatch.setattr(_im2col, "shifted_conv2d_weight",
                        counted("weight", _im2col.shifted_conv2d_weight))
    monkeypatch.setattr(_winograd, "conv2d", counted("winograd", _winograd.conv2d))
    monkeypatch.setattr(_winograd, "conv2d_weight",
                        counted("winograd_weight", _winograd.conv2d_weight))
    return seen


@pytest.fixture
def shifted_everywhere(monkeypatch, calls):
    """Shifted products for every 2-D conv of one group whose grid fits (no Winograd)."""
    monkeypatch.setattr(_winograd, "MIN_CHANNELS", math.inf)
    monkeypatch.setattr(_im2col, "_SHIFTED_PRODUCT", math.inf)
    monkeypatch.setattr(_im2col, "_SHIFTED_STRIDE", math.inf)
    monkeypatch.setattr(_im2col, "_SHIFTED_FORWARD", (1, math.inf))
    monkeypatch.setattr(_im2col, "_SHIFTED_WEIGHT", (1, math.inf))
    return calls


# (N, C, H, W, C_out, kernel, stride, padding, dilation): 'same' and valid, asymmetric
# 'same' (even kernel), unequal pads and dilations per dim, one sample, one row, pads as
# wide as the kernel's reach, a kernel as big as the padded input; strides 2 and 3 (each
# phase of the input a stride-1 image), with a kernel as wide as the stride.
CASES = [
    (2, 16, 9, 7, 8, 3, 1, 1, 1),
    (3, 5, 6, 11, 9, 5, 1, 2, 1),
    (2, 6, 14, 14, 16, 5, 1, 0, 1),
    (2, 4, 7, 6, 3, 4, 1, "same", 1),
    (2, 3, 8, 9, 5, (3, 2), 1, (0, 1), (2, 1)),
    (1, 7, 5, 5, 2, 3, 1, 2, 1),
    (2, 3, 1, 9, 4, (1, 3), 1, (0, 1), 1),
    (2, 2, 6, 6, 3, 3, 1, (2, 1), (1, 2)),
    (2, 3, 4, 5, 2, (6, 7), 1, 1, 1),
    (2, 16, 9, 8, 8, 3, 2, 1, 1),
    (2, 5, 11, 10, 6, (3, 4), (2, 3), (1, 2), 1),
    (2, 4, 9, 9, 3, 3, 2, 0, 2),
    (1, 3, 7, 8, 4, 5, (2, 1), 2, (1, 2)),
    (2, 3, 6, 7, 2, 2, 2, 0, 1),
    (2, 4, 10, 11, 3, 3, 3, 1, 1),
]


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_matches_torch(kernels, shifted_everywhere, case, dtype):
    n, c, h, w, c_out, k, stride, padding, dilation = case
    k = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, c, h, w)).astype(dtype),
              (rng.standard_normal((c_out, c) + k) * 0.3).astype(dtype),
              rng.standard_normal(c_out).astype(dtype)]
    e_in, t_in = leaves(arrays)
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation}
    check(F.conv2d(*e_in, **kwargs), torch.nn.functional.conv2d(*t_in, **kwargs),
           e_in, t_in, dtype)
    tiny = arrays[1].size < 1024  # a gemm per sample, as the plan's kept columns give
    strided = stride != 1  # the input's gradient: col2im, not a conv
    assert shifted_everywhere == {"conv": 1 if strided else 2, "weight": 0 if tiny else 1,
                                  "winograd": 0,
                                  "winograd_weight": 0}
    if kernels == "compiled":  # the loops over products ran compiled
        assert conv_kernels._forward_products._compiled is not None


@pytest.mark.parametrize("output_padding, dilation", [(0, 1), (1, 2)])
def test_conv_transpose2d_matches_torch(kernels, shifted_everywhere, output_padding,
                                        dilation):
    # conv_transpose2d's forward is the flipped-kernel conv; with output_padding its
    # flipped pads are unequal.
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 5, 6, 7)), rng.standard_normal((5, 4, 3, 3)) * 0.3]
    e_in, t_in = leaves(arrays)
    kwargs = {"padding": 1, "output_padding": output_padding, "dilation": dilation}
    check(F.conv_transpose2d(*e_in, **kwargs), torch.nn.functional.conv_transpose2d(
        *t_in, **kwargs), e_in, t_in, np.float64)
    assert shifted_everywhere == {"conv": 2, "weight": 0, "winograd": 0,
                                  "winograd_weight": 0}  # a tiny weight


def test_second_order_gradients(shifted_everywhere):
    rng = np.random.default_rng(4)
    # A weight of 1024 values or more: smaller ones take a gemm per sample for the gradient.
    x = ember.tensor(rng.standard_normal((2, 8, 4, 5)), requires_grad=True)
    w = ember.tensor(rng.standard_normal((16, 8, 3, 3)), requires_grad=True)
    assert gradcheck(lambda a, b: F.conv2d(a, b, padding=1), (x, w))
    assert gradgradcheck(lambda a, b: F.conv2d(a, b, padding=1), (x, w))
    assert shifted_everywhere["conv"] > 0 and shifted_everywhere["weight"] > 0


def test_non_contiguous_input(shifted_everywhere):
    rng = np.random.default_rng(2)
    e_base, t_base = leaves([rng.standard_normal((2, 9, 16, 11))])
    e_w, t_w = leaves([rng.standard_normal((8, 16, 3, 3)) * 0.3])
    e_x, t_x = e_base[0].permute(0, 2, 3, 1), t_base[0].permute(0, 2, 3, 1)
    check(F.conv2d(e_x, e_w[0], padding=1), torch.nn.functional.conv2d(t_x, t_w[0], padding=1),
           e_base + e_w, t_base + t_w, np.float64)
    assert shifted_everywhere["conv"] >= 2


@pytest.mark.parametrize("stride", [1, 2])
def test_split_over_threads_matches_torch(kernels, shifted_everywhere, split_everything, stride):
    # The forward, the input's gradient (stride 1: the flipped conv) and the weight's
    # gradient each split their grid's positions over two threads, with the batch whole
    # (5: stride 2's input gradient, by col2im).
    seen = split_everything(_im2col, "_SPLIT_WORK")
    rng = np.random.default_rng(5)
    e_in, t_in = leaves([rng.standard_normal((5, 16, 8, 8)).astype(np.float32),
                          (rng.standard_normal((16, 16, 3, 3)) * 0.2).astype(np.float32)])
    check(F.conv2d(*e_in, padding=1, stride=stride),
           torch.nn.functional.conv2d(*t_in, padding=1, stride=stride), e_in, t_in, np.float32)
    positions = {conv_kernels.ShiftedGrid(5, (8, 8), (3, 3), (s, s), ((1, 1), (1, 1)),
                                          (1, 1)).positions for s in (1, stride)}
    assert all(n in positions | {5} and count == 2 for n, count in seen)
    assert shifted_everywhere == {"conv": 2 if stride == 1 else 1, "weight": 1,
                                  "winograd": 0, "winograd_weight": 0}
    assert sum(n in positions for n, _ in seen) == (3 if stride == 1 else 2)


def test_large_convs_split_the_batch(kernels, shifted_everywhere, split_everything,
                                     monkeypatch):
    # Above _POSITIONS_SPLIT multiply-adds each piece of the batch runs shifted products.
    monkeypatch.setattr(_im2col, "_POSITIONS_SPLIT", 0)
    seen = split_everything(_im2col, "_SPLIT_WORK")
    rng = np.random.default_rng(9)
    e_in, t_in = leaves([rng.standard_normal((5, 16, 8, 8)).astype(np.float32),
                          (rng.standard_normal((16, 16, 3, 3)) * 0.2).astype(np.float32)])
    check(F.conv2d(*e_in, padding=1), torch.nn.functional.conv2d(*t_in, padding=1),
           e_in, t_in, np.float32)
    assert seen == [(5, 2)] * 3 and shifted_everywhere["conv"] >= 4


def test_wide_pads_take_the_columns(shifted_everywhere):
    # Pads wider than the kernel's reach on both sides: the grid does not fit.
    rng = np.random.default_rng(6)
    e_in, t_in = leaves([rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((2, 3, 3, 3))])
    check(F.conv2d(*e_in, padding=3), torch.nn.functional.conv2d(*t_in, padding=3),
           e_in, t_in, np.float64)
    assert shifted_everywhere == {"conv": 0, "weight": 0, "winograd": 0,
                                  "winograd_weight": 0}


# Calls (shifted forward, shifted weight gradient, Winograd forward, Winograd weight
# gradient) with compiled kernels and on the NumPy paths (Winograd's transforms are compiled
# only).
@pytest.mark.parametrize("shape, compiled, numpy", [
    ((32, 16, 32, 32, 16, 3, 1), (2, 1, 0, 0), (2, 1, 0, 0)),  # ResNet-8's first stage
    ((32, 32, 16, 16, 32, 3, 1), (0, 0, 2, 1), (2, 1, 0, 0)),  # second stage
    ((32, 64, 8, 8, 64, 3, 1), (0, 0, 2, 1), (0, 0, 0, 0)),  # third stage
    ((8, 6, 14, 14, 16, 5, 0), (1, 1, 0, 0), (1, 1, 0, 0)),  # LeNet's second conv
    ((4, 3, 32, 32, 16, 3, 1), (1, 0, 0, 0), (1, 0, 0, 0)),  # ResNet-8's first conv
])
def test_default_rules(kernels, calls, shape, compiled, numpy):
    n, c, h, w, c_out, k, padding = shape
    rng = np.random.default_rng(7)
    e_in, t_in = leaves([rng.standard_normal((n, c, h, w)).astype(np.float32),
                          (rng.standard_normal((c_out, c, k, k)) * 0.1).astype(np.float32)])
    check(F.conv2d(*e_in, padding=padding), torch.nn.functional.conv2d(*t_in, padding=padding),
           e_in, t_in, np.float32)
    expected = compiled if kernels == "compiled" else numpy
    assert tuple(calls.values()) == expected


def test_grid_reads_stay_inside_the_input():
    # Every product reads positions [offset + start, offset + start + count) of the flat
    # rows from a tap's offset, and writes [start, start + count) of the grid.
    for h, w, kh, kw, sh, sw, top, bottom, left, right, dh, dw in itertools.product(
            (1, 4), (3, 5), (1, 2, 3), (1, 3), (1, 2), (1, 3), (0, 2), (-1, 0, 3), (0, 1),
            (0, 2), (1, 2), (1, 3)):
        grid = conv_kernels.ShiftedGrid(3, (h, w), (kh, kw), (sh, sw),
                                        ((top, bottom), (left, right)), (dh, dw))
        if not grid.fits():
            continue
        flat = grid.place(np.ones((3, 2, h, w)))
        assert flat.shape == (sh * sw * 2, grid.length)
        assert grid.positions <= 3 * grid.rows * grid.pitch
        for offset in grid.offsets(2):
            row, shift = divmod(int(offset), grid.length)
            assert row % 2 == 0 and shift + grid.positions <= grid.length


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_channels_last_columns_in_small_products(monkeypatch, dtype):
    # LeNet's second conv (6 channels, runs of KW * C = 30 values) takes channels-last
    # columns; products of at most 3000 multiply-adds cut the rows in uneven pieces.
    seen, columns = [], _im2col._conv_channels_last
    monkeypatch.setattr(_im2col, "SMALL_PRODUCT", 3000)
    monkeypatch.setattr(_im2col, "_SMALL_ROWS", 1)
    monkeypatch.setattr(_im2col, "_conv_channels_last",
                        lambda *args: seen.append(args[0].shape) or columns(*args))
    rng = np.random.default_rng(8)
    e_in, t_in = leaves([rng.standard_normal((3, 6, 14, 13)).astype(dtype),
                          (rng.standard_normal((16, 6, 5, 5)) * 0.2).astype(dtype)])
    check(F.conv2d(*e_in), torch.nn.functional.conv2d(*t_in), e_in, t_in, dtype)
    assert seen == [(3, 6, 14, 13)]
