"""Conv, max pool and norm with compiled kernels on and off, both against PyTorch.

The compiled paths (``ember.backend.conv_kernels``, ``pool_kernels``, ``norm_kernels``)
take over only for some shapes (2-D, channel counts, 2x2 pools, batch and layer norm), so
the cases here are chosen to cross each threshold; every case runs twice, once with kernels
and once with the NumPy path, and checks values and gradients against PyTorch.
"""

import numpy as np
import pytest
import torch

import ember
from ember.testing import gradcheck

F = ember.nn.functional
TOL = {np.float32: {"rtol": 2e-4, "atol": 2e-4}, np.float64: {"rtol": 1e-9, "atol": 1e-10}}


def _leaves(arrays):
    """The same arrays as ember and torch leaves that require grad."""
    return ([ember.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def _check(e_out, t_out, e_in, t_in, dtype, seed=1):
    """Outputs, then the gradients of a random projection of them, agree with PyTorch."""
    tol = TOL[dtype]
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), **tol)
    g = np.random.default_rng(seed).standard_normal(t_out.shape).astype(dtype)
    e_out.backward(ember.tensor(g))
    t_out.backward(torch.tensor(g))
    for e, t in zip(e_in, t_in):
        if t.grad is None:  # an input the output does not use
            assert e.grad is None
            continue
        scale = max(1.0, float(np.abs(t.grad.numpy()).max()))
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=tol["rtol"],
                                   atol=tol["atol"] * scale)


# (N, C, H, W, C_out, kernel, stride, padding, dilation, groups): many channels (the
# channels-last gemm and col2im), few (the planar col2im), 1x1, strided, dilated, grouped,
# asymmetric 'same' padding, odd sizes, weight gradients of each path.
CONV_CASES = [
    (2, 16, 9, 7, 8, 3, 1, 1, 1, 1),
    (2, 16, 9, 8, 6, 3, 2, 1, 1, 1),
    (3, 17, 6, 5, 5, (3, 2), (2, 1), (0, 1), (2, 1), 1),
    (2, 3, 8, 8, 2, 5, 1, 2, 1, 1),
    (2, 16, 7, 7, 8, 1, 2, 0, 1, 1),
    (2, 16, 7, 6, 8, 4, 1, "same", 1, 1),
    (2, 18, 7, 7, 6, 3, 2, 1, 1, 2),
    (1, 4, 5, 6, 6, 3, 1, 1, 2, 1),
    (2, 16, 12, 12, 8, 3, 1, 1, 1, 1),  # weight gradient: tall gemm over >128 positions
    (2, 32, 12, 11, 16, 3, 1, 1, 1, 2),
]


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv2d_matches_torch(kernels, case, dtype):
    n, c, h, w, c_out, k, stride, padding, dilation, groups = case
    k = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight = rng.standard_normal((c_out, c // groups) + k).astype(dtype) * 0.3
    bias = rng.standard_normal(c_out).astype(dtype)
    e_in, t_in = _leaves([x, weight, bias])
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    _check(F.conv2d(*e_in, **kwargs), torch.nn.functional.conv2d(*t_in, **kwargs),
           e_in, t_in, dtype)


def test_conv2d_of_a_non_contiguous_input(kernels):
    rng = np.random.default_rng(2)
    base = rng.standard_normal((2, 9, 16, 11)).astype(np.float32)
    weight = rng.standard_normal((8, 16, 3, 3)).astype(np.float32)
    e_base, t_base = _leaves([base])
    e_w, t_w = _leaves([weight])
    # (N, W, C, H) -> (N, C, H, W): a view whose strides run the other way.
    e_x, t_x = e_base[0].permute(0, 2, 3, 1), t_base[0].permute(0, 2, 3, 1)
    _check(F.conv2d(e_x, e_w[0], padding=1, stride=(1, 2)),
           torch.nn.functional.conv2d(t_x, t_w[0], padding=1, stride=(1, 2)),
           e_base + e_w, t_base + t_w, np.float32)


@pytest.mark.parametrize("stride,padding,output_padding", [(2, 1, 1), (1, 0, 0), (3, 2, 2)])
@pytest.mark.parametrize("channels", [6, 16])
def test_conv_transpose2d_matches_torch(kernels, stride, padding, output_padding, channels):
    # With 16 channels, the gradient of the input is a channels-last conv whose trailing
    # pads were fitted to the output size (negative when output_padding is not reached).
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, channels, 5, 4))
    weight = rng.standard_normal((channels, 8, 3, 3))
    e_in, t_in = _leaves([x, weight])
    kwargs = {"stride": stride, "padding": padding, "output_padding": output_padding}
    _check(F.conv_transpose2d(*e_in, **kwargs),
           torch.nn.functional.conv_transpose2d(*t_in, **kwargs), e_in, t_in, np.float64)


def test_conv2d_gradients_are_numerically_right(kernels):
    rng = np.random.default_rng(4)
    x = ember.tensor(rng.standard_normal((2, 16, 5, 5)), requires_grad=True)
    w = ember.tensor(rng.standard_normal((5, 16, 3, 3)), requires_grad=True)
    assert gradcheck(lambda a, b: F.conv2d(a, b, stride=2, padding=1), (x, w))


# --- max pooling ------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(2, 3, 8, 6), (3, 7, 9), (1, 2, 2, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool2d_2x2_matches_torch(kernels, shape, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(dtype)
    even = shape[-1] - shape[-1] % 2
    x[..., ::3, 1:even:2] = x[..., ::3, 0:even:2]  # ties inside windows: the first one wins
    e_in, t_in = _leaves([x])
    e_out, e_idx = F.max_pool2d(e_in[0], 2, return_indices=True)
    t_out, t_idx = torch.nn.functional.max_pool2d(t_in[0], 2, return_indices=True)
    np.testing.assert_array_equal(e_idx.numpy(), t_idx.numpy())
    _check(e_out, t_out, e_in, t_in, dtype)


def test_max_pool2d_2x2_nan_and_infinity_like_torch(kernels):
    x = np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4)
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = np.nan
    x[0, 1, 2:, 2:] = -np.inf
    x[0, 1, 0, 1] = np.inf
    e_out, e_idx = F.max_pool2d(ember.tensor(x), 2, return_indices=True)
    t_out, t_idx = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(e_out.numpy(), t_out.numpy())
    np.testing.assert_array_equal(e_idx.numpy(), t_idx.numpy())


@pytest.mark.parametrize("shape", [(2, 3, 8, 6), (2, 3, 7, 9)])
def test_max_pool2d_2x2_gradient_is_zero_away_from_the_max_like_torch(kernels, shape):
    """An inf or nan in the output's gradient reaches only its window's max (never a 0 * inf
    elsewhere), and an odd last row or column gets zeros."""
    x = np.random.default_rng(8).standard_normal(shape)
    e_in, t_in = _leaves([x])
    e_out, t_out = F.max_pool2d(e_in[0], 2), torch.nn.functional.max_pool2d(t_in[0], 2)
    if kernels == "compiled" and pool_kernels_ready():
        assert e_out.grad_fn.code is not None  # the 2x2 kernels' path, not the NumPy one
    g = np.random.default_rng(9).standard_normal(t_out.shape)
    g[0, 0, 0, 0], g[1, 2, -1, -1], g[0, 1, 1, 2] = np.inf, -np.inf, np.nan
    e_out.backward(ember.tensor(g))
    t_out.backward(torch.tensor(g))
    np.testing.assert_array_equal(e_in[0].grad.numpy(), t_in[0].grad.numpy())


def test_max_pool2d_2x2_second_order_gradients_like_torch(kernels):
    x = np.random.default_rng(10).standard_normal((2, 2, 6, 5))
    grads = []
    for lib, tensor in ((ember, ember.tensor), (torch, torch.tensor)):
        xx = tensor(x, requires_grad=True)
        y = lib.nn.functional.max_pool2d(xx * xx, 2)
        (gx,) = lib.autograd.grad((y * y).sum(), xx, create_graph=True)
        (ggx,) = lib.autograd.grad((gx * gx).sum(), xx)
        grads.append((gx.detach().numpy(), ggx.detach().numpy()))
    for mine, ref in zip(*grads):
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)


def test_max_pool2d_2x2_split_over_threads_like_torch(kernels, split_everything):
    from ember.ops import pool

    seen = split_everything(pool, "_SPLIT_SIZE", "_SPLIT_SCATTER")
    x = np.random.default_rng(11).standard_normal((3, 4, 6, 7)).astype(np.float32)
    e_in, t_in = _leaves([x])
    _check(F.max_pool2d(e_in[0], 2), torch.nn.functional.max_pool2d(t_in[0], 2), e_in, t_in,
           np.float32)
    if kernels == "compiled" and pool_kernels_ready():
        assert [count for _, count in seen] == [2, 2]  # the max, then its gradient


def pool_kernels_ready():
    from ember.backend import pool_kernels

    return pool_kernels.max_pool2x2.ready()


def test_max_pool2d_of_a_non_contiguous_input(kernels):
    x = np.random.default_rng(6).standard_normal((2, 6, 6, 3))
    e_in, t_in = _leaves([x])
    _check(F.max_pool2d(e_in[0].permute(0, 3, 1, 2), 2),
           torch.nn.functional.max_pool2d(t_in[0].permute(0, 3, 1, 2), 2), e_in, t_in,
           np.float64)


def test_max_pool2d_other_windows_match_torch(kernels):
    x = np.random.default_rng(7).standard_normal((2, 3, 9, 8))
    e_in, t_in = _leaves([x])
    _check(F.max_pool2d(e_in[0], 3, stride=2, padding=1),
           torch.nn.functional.max_pool2d(t_in[0], 3, stride=2, padding=1), e_in, t_in,
           np.float64)


# --- batch norm and layer norm ----------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_training_matches_torch(kernels, shape, affine, dtype):
    rng = np.random.default_rng(8)
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    arrays = [x] + ([rng.standard_normal(3).astype(dtype) for _ in range(2)] if affine else [])
    e_in, t_in = _leaves(arrays)
    e_rm, e_rv = ember.zeros(3, dtype=e_in[0].dtype), ember.ones(3, dtype=e_in[0].dtype)
    t_rm, t_rv = torch.zeros(3, dtype=t_in[0].dtype), torch.ones(3, dtype=t_in[0].dtype)
    e_out = F.batch_norm(e_in[0], e_rm, e_rv, *e_in[1:], training=True, momentum=0.3)
    t_out = torch.nn.functional.batch_norm(t_in[0], t_rm, t_rv, *t_in[1:], training=True,
                                           momentum=0.3)
    _check(e_out, t_out, e_in, t_in, dtype)
    for e, t in ((e_rm, t_rm), (e_rv, t_rv)):
        np.testing.assert_allclose(e.numpy(), t.numpy(), **TOL[dtype])


@pytest.mark.parametrize("normalized", [(6,), (4, 6)])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_matches_torch(kernels, normalized, affine, dtype):
    rng = np.random.default_rng(9)
    x = (rng.standard_normal((3, 4, 6)) * 2 - 1).astype(dtype)
    arrays = [x] + ([rng.standard_normal(normalized).astype(dtype) for _ in range(2)]
                    if affine else [])
    e_in, t_in = _leaves(arrays)
    _check(F.layer_norm(e_in[0], normalized, *e_in[1:]),
           torch.nn.functional.layer_norm(t_in[0], normalized, *t_in[1:]), e_in, t_in, dtype)


def test_norm_gradients_of_gradients_match_torch(kernels):
    rng = np.random.default_rng(10)
    x, w, b = rng.standard_normal((4, 3, 2)), rng.standard_normal(3), rng.standard_normal(3)
    e_in, t_in = _leaves([x, w, b])
    grads = []
    for lib, (xx, ww, bb) in ((ember, e_in), (torch, t_in)):
        y = lib.nn.functional.batch_norm(xx, None, None, ww, bb, training=True)
        (gx,) = lib.autograd.grad((y ** 3).sum(), xx, create_graph=True)
        (ggx,) = lib.autograd.grad((gx * gx).sum(), xx)
        grads.append(ggx.detach().numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-8, atol=1e-10)


def test_the_compiled_cases_run_the_kernels():
    # Guards the cases above: with Numba, each kernel is called (hence compiled) by them.
    pytest.importorskip("numba")
    from ember.backend import conv_kernels, norm_kernels, pool_kernels

    x = ember.randn(2, 16, 6, 6, requires_grad=True)
    y = F.conv2d(x, ember.randn(8, 16, 3, 3), padding=1)
    y = F.batch_norm(y, None, None, training=True)
    y = F.layer_norm(y, (6,))
    # 2x2 windows run max_pool2x2 and unpool2x2; other windows scatter by flat indices
    (F.max_pool2d(y, 2).sum() + F.max_pool2d(y, 3, stride=2, padding=1).sum()).backward()
    for k in (conv_kernels.col2im_channels_last, norm_kernels.batch_norm_forward,
              norm_kernels.batch_norm_backward, norm_kernels.layer_norm_forward,
              norm_kernels.layer_norm_backward, pool_kernels.max_pool2x2,
              pool_kernels.unpool2x2, pool_kernels.scatter_add_planes):
        serial = getattr(k, "_serial", None)  # small arrays run a serial compilation
        assert k._compiled is not None or serial._compiled is not None, k


LARGE = {  # 64K elements: parallel kernels once SERIAL_BELOW is lowered to that
    "conv_channels_last": lambda lib, x, w: lib.nn.functional.conv2d(x, w[:8], padding=1),
    "conv_planar_col2im": lambda lib, x, w: lib.nn.functional.conv2d(x[:, :2], w[:16, :2],
                                                                       padding=1),
    "batch_norm": lambda lib, x, w: lib.nn.functional.batch_norm(x, None, None, w[:, 0, 0, 0],
                                                                 w[:, 0, 0, 1], training=True),
    "layer_norm": lambda lib, x, w: lib.nn.functional.layer_norm(
        x.reshape(512, 128), (128,), w[0].reshape(-1)[:128], w[1].reshape(-1)[:128]),
    "max_pool": lambda lib, x, w: lib.nn.functional.max_pool2d(
        x.reshape(4, 16, 64, 16).repeat(1, 1, 1, 4), 2),
}


@pytest.fixture
def parallel_from_small_sizes(monkeypatch):
    # The serial/parallel switch moves down so that these inputs take the parallel kernels.
    from ember.backend import parallel

    monkeypatch.setattr(parallel, "SERIAL_BELOW", 1 << 16)


@pytest.mark.parametrize("name", sorted(LARGE))
def test_large_inputs_match_torch(kernels, parallel_from_small_sizes, name):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((4, 16, 32, 32)).astype(np.float32)
    w = (rng.standard_normal((16, 16, 3, 3)) * 0.2).astype(np.float32)
    e_in, t_in = _leaves([x, w])
    _check(LARGE[name](ember, *e_in), LARGE[name](torch, *t_in), e_in, t_in, np.float32)


@pytest.fixture
def one_sample_blocks(monkeypatch):
    # On one BLAS thread the channels-last paths work in blocks of samples; make every
    # block one sample, whatever the machine's thread count.
    from ember.ops import _im2col

    monkeypatch.setattr(_im2col, "blas_library_threads", lambda: 1)
    monkeypatch.setattr(_im2col, "_CHUNK_BYTES", 1)


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_in_blocks_of_samples_matches_torch(kernels, one_sample_blocks, case):
    n, c, h, w, c_out, k, stride, padding, dilation, groups = case
    k = (k, k) if isinstance(k, int) else k
    rng = np.random.default_rng(12)
    x = rng.standard_normal((n + 1, c, h, w))
    weight = rng.standard_normal((c_out, c // groups) + k) * 0.3
    e_in, t_in = _leaves([x, weight])
    kwargs = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    _check(F.conv2d(*e_in, **kwargs), torch.nn.functional.conv2d(*t_in, **kwargs),
           e_in, t_in, np.float64)
