"""Stride-1 3x3 convolutions by Winograd's F(2x2, 3x3) (``ember.ops._winograd``).

``ember.ops._im2col`` runs a conv, its weight's gradient and (as a conv with the flipped
kernel) its input's gradient this way when ``_winograd.applies`` says so. Here the channel
rule is opened to every shape, each case checks the path ran, and values and gradients
agree with PyTorch, with the transforms compiled and run as Python; with compiled kernels
off the other paths run (``test_conv_shifted.test_default_rules``).
"""

import numpy as np
import pytest
import torch

import ember
from ember.backend import use_compiled_kernels, winograd_kernels
from ember.ops import _winograd
from ember.testing import gradcheck
from tests.ops.conv_paths import check, leaves

F = ember.nn.functional


class _AsPython:
    """A compiled kernel run as plain Python (checks the loops' logic, not Numba's)."""

    def __init__(self, kernel):
        self.py_func = kernel.py_func

    def ready(self):
        return True

    def __call__(self, *args):
        return self.py_func(*args)


@pytest.fixture(params=["compiled", "python"])
def winograd(request, monkeypatch):
    """Winograd's path for every stride-1 3x3 conv; returns the counts of its convs and
    weight gradients."""
    if request.param == "compiled":
        pytest.importorskip("numba")
        previous = use_compiled_kernels(True)
        request.addfinalizer(lambda: use_compiled_kernels(previous))
    else:
        for name in ("winograd_input", "winograd_output", "winograd_grad_output"):
            monkeypatch.setattr(_winograd, name, _AsPython(getattr(winograd_kernels, name)))
    monkeypatch.setattr(_winograd, "MIN_CHANNELS", 1)
    seen = {"conv": 0, "weight": 0}

    def counted(name, fn):
        def run(*args):
            seen[name] += 1
            return fn(*args)
        return run

    monkeypatch.setattr(_winograd, "conv2d", counted("conv", _winograd.conv2d))
    monkeypatch.setattr(_winograd, "conv2d_weight",
                        counted("weight", _winograd.conv2d_weight))
    return seen


# (N, C, H, W, C_out, padding): even and odd output sizes (a last tile half outside), no
# pads, pads as wide as the kernel, unequal pads per dim, one row of outputs, one sample; a
# weight of under 1024 values (its gradient: a gemm per sample, not Winograd's).
CASES = [
    (2, 12, 8, 8, 10, 1),
    (2, 13, 7, 9, 9, 1),
    (3, 10, 6, 5, 12, 0),
    (2, 11, 5, 6, 11, 2),
    (1, 9, 4, 7, 13, (2, 0)),
    (2, 16, 3, 10, 8, (0, 1)),
    (2, 3, 6, 6, 4, 1),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_matches_torch(winograd, case, dtype):
    n, c, h, w, c_out, padding = case
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, c, h, w)).astype(dtype),
              (rng.standard_normal((c_out, c, 3, 3)) * 0.3).astype(dtype),
              rng.standard_normal(c_out).astype(dtype)]
    e_in, t_in = leaves(arrays)
    check(F.conv2d(*e_in, padding=padding), torch.nn.functional.conv2d(*t_in, padding=padding),
           e_in, t_in, dtype)
    tiny = arrays[1].size < 1024
    # the forward, and the input's gradient as a flipped conv
    assert winograd == {"conv": 2, "weight": 0 if tiny else 1}


def test_conv_transpose2d_matches_torch(winograd):
    # Its forward is a flipped-kernel conv, with unequal pads from output_padding.
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((2, 5, 6, 7)), rng.standard_normal((5, 4, 3, 3)) * 0.3]
    e_in, t_in = leaves(arrays)
    kwargs = {"padding": 1, "output_padding": 0}
    check(F.conv_transpose2d(*e_in, **kwargs),
           torch.nn.functional.conv_transpose2d(*t_in, **kwargs), e_in, t_in, np.float64)
    assert winograd == {"conv": 2, "weight": 0}  # a tiny weight


def test_gradients_numerically(winograd):
    rng = np.random.default_rng(4)
    x = ember.tensor(rng.standard_normal((2, 12, 5, 4)), requires_grad=True)
    w = ember.tensor(rng.standard_normal((10, 12, 3, 3)), requires_grad=True)
    assert gradcheck(lambda a, b: F.conv2d(a, b, padding=1), (x, w))
    assert winograd["conv"] and winograd["weight"]


def test_non_contiguous_input_and_split(winograd, split_everything):
    from ember.ops import _im2col

    seen = split_everything(_im2col, "_SPLIT_WORK")
    rng = np.random.default_rng(2)
    e_base, t_base = leaves([rng.standard_normal((5, 9, 8, 12)).astype(np.float32)])
    e_w, t_w = leaves([(rng.standard_normal((10, 12, 3, 3)) * 0.3).astype(np.float32)])
    e_x, t_x = e_base[0].permute(0, 3, 1, 2), t_base[0].permute(0, 3, 1, 2)
    check(F.conv2d(e_x, e_w[0], padding=1), torch.nn.functional.conv2d(t_x, t_w[0], padding=1),
           e_base + e_w, t_base + t_w, np.float32)
    # each piece of the three splits (forward, input's and weight's gradients) ran here
    assert len(seen) == 3 and winograd["weight"] > 1 and winograd["conv"] == 2 * winograd[
        "weight"]


@pytest.mark.parametrize("kwargs", [{"stride": 2}, {"dilation": 2}, {"groups": 2}])
def test_other_geometries_take_other_paths(winograd, kwargs):
    rng = np.random.default_rng(6)
    e_in, t_in = leaves([rng.standard_normal((2, 4, 9, 9)),
                          rng.standard_normal((4, 4 // kwargs.get("groups", 1), 3, 3))])
    check(F.conv2d(*e_in, padding=1, **kwargs),
           torch.nn.functional.conv2d(*t_in, padding=1, **kwargs), e_in, t_in, np.float64)
    assert winograd == {"conv": 0, "weight": 0}


def test_default_rule_needs_compiled_kernels_and_channels():
    x = np.zeros((2, 64, 8, 8), np.float32)
    pads = ((1, 1), (1, 1))
    previous = use_compiled_kernels(False)
    try:
        assert not _winograd.applies(x, 64, (3, 3), (1, 1), pads, (1, 1), 1)
    finally:
        use_compiled_kernels(previous)
    if winograd_kernels.winograd_input.ready():
        assert _winograd.applies(x, 64, (3, 3), (1, 1), pads, (1, 1), 1)
    assert not _winograd.applies(x[:, :16], 16, (3, 3), (1, 1), pads, (1, 1), 1)
    assert not _winograd.applies(x, 64, (3, 3), (1, 1), ((1, -1), (1, 1)), (1, 1), 1)


@pytest.mark.parametrize("blas_threads", [1, 2])
def test_blocks_of_samples(winograd, monkeypatch, blas_threads):
    # One sample per block (the weight's gradient sums the blocks' products), unless
    # OpenBLAS runs its own threads: then one block.
    monkeypatch.setattr(_winograd, "_CHUNK_BYTES", 1)
    monkeypatch.setattr(_winograd, "blas_library_threads", lambda: blas_threads)
    blocks = []
    per_block = _winograd._samples_per_block
    monkeypatch.setattr(_winograd, "_samples_per_block",
                        lambda *args: blocks.append(per_block(*args)) or blocks[-1])
    rng = np.random.default_rng(9)
    e_in, t_in = leaves([rng.standard_normal((3, 12, 6, 7)),
                          rng.standard_normal((10, 12, 3, 3)) * 0.3])
    check(F.conv2d(*e_in, padding=1), torch.nn.functional.conv2d(*t_in, padding=1),
           e_in, t_in, np.float64)
    assert winograd == {"conv": 2, "weight": 1}
    assert blocks == [1 if blas_threads == 1 else 3] * 3
