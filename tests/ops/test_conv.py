"""Convolution behaviour the op table cannot express: errors, dtypes, edge shapes,
both kernel paths of the input gradient, and second derivatives against PyTorch."""

import numpy as np
import pytest
import torch

import ember
from tests.ops.harness import raises_like_torch

EF, TF = ember.nn.functional, torch.nn.functional


def _pair(*shape, seed=0, dtype=np.float64, requires_grad=True):
    arr = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return (ember.tensor(arr, requires_grad=requires_grad),
            torch.tensor(arr, requires_grad=requires_grad))


def _close(e, t, tol=1e-10):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


def test_channel_mismatch_message_names_both_shapes():
    text = raises_like_torch(lambda m: m.nn.functional.conv2d(m.ones(8, 3, 32, 32),
                                                               m.ones(6, 1, 5, 5)))
    assert ("conv2d: input has 3 channels (shape (8, 3, 32, 32)) but weight expects 1 "
            "(shape (6, 1, 5, 5)) with groups=1") in text
    assert "test_conv.py" in text  # the user's line


@pytest.mark.parametrize("call, words", [
    (lambda m: m.nn.functional.conv2d(m.ones(3, 32), m.ones(6, 3, 5, 5)), "3-D (unbatched)"),
    (lambda m: m.nn.functional.conv1d(m.ones(1, 2, 3, 4, 5), m.ones(1, 2, 3)), "(batched)"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 3, 4, 4), m.ones(6, 3, 5)), "4-D weight"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 3, 4, 4), m.ones(6, 3, 5, 5)), "larger"),
    (lambda m: m.nn.functional.conv1d(m.ones(1, 1, 4), m.ones(1, 1, 3), dilation=2), "larger"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 4, 8, 8), m.ones(3, 2, 3, 3), groups=2),
     "groups=2"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 3, 8, 8), m.ones(4, 2, 3, 3), groups=2),
     "input has 3 channels"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 2, 8, 8), m.ones(4, 2, 3, 3), m.ones(3)),
     "bias"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 2, 8, 8), m.ones(4, 2, 3, 3), stride=0),
     "stride"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 2, 8, 8), m.ones(4, 2, 3, 3), padding=-1),
     "padding"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 2, 8, 8), m.ones(4, 2, 3, 3), dilation=0),
     "dilation"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 2, 8, 8), m.ones(4, 2, 3, 3), groups=0),
     "groups"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 2, 8, 8), m.ones(4, 2, 3, 3), padding="full"),
     "padding"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 2, 8, 8), m.ones(4, 2, 3, 3), padding="same",
                                      stride=2), "strided"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 2, 8, 8), m.ones(4, 2, 3, 3),
                                      stride=(1, 2, 3)), "stride"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 2, 8, 8), m.ones(4, 2, 3, 3, dtype=m.float64)),
     "float64"),
    (lambda m: m.nn.functional.conv2d(m.ones(1, 2, 8, 8), m.ones(4, 2, 3, 3),
                                      m.ones(4, dtype=m.float64)), "bias"),
    (lambda m: m.nn.functional.conv_transpose2d(m.ones(2, 4, 8, 8), m.ones(3, 2, 3, 3)),
     "input has 4 channels"),
    (lambda m: m.nn.functional.conv_transpose2d(m.ones(2, 4, 8, 8), m.ones(4, 2, 3, 3),
                                                output_padding=1), "output padding"),
    (lambda m: m.nn.functional.conv_transpose2d(m.ones(2, 4, 8, 8), m.ones(4, 2, 3, 3),
                                                groups=3), "groups=3"),
    (lambda m: m.nn.functional.conv_transpose2d(m.ones(2, 4, 3, 3), m.ones(4, 2, 3, 3),
                                                m.ones(4)), "bias"),
    (lambda m: m.nn.functional.conv_transpose2d(m.ones(2, 4, 8, 8), m.ones(4, 2, 3, 3),
                                                padding="same"), "padding"),
])
def test_errors_like_torch(call, words):
    text = raises_like_torch(call)
    assert words in text and text.startswith("conv")


def test_transposed_output_too_small():
    with pytest.raises(RuntimeError, match="conv_transpose2d: the output size"):
        EF.conv_transpose2d(ember.ones(2, 4, 1, 1), ember.ones(4, 2, 3, 3), padding=2)


def test_bool_is_refused():
    with pytest.raises(TypeError, match="bool"):
        EF.conv2d(ember.ones(1, 1, 3, 3, dtype=ember.bool),
                  ember.ones(1, 1, 2, 2, dtype=ember.bool))


def test_integer_conv_matches_torch():
    rng = np.random.default_rng(0)
    x, w = rng.integers(-3, 4, (2, 2, 5, 5)), rng.integers(-3, 4, (3, 2, 3, 3))
    e = EF.conv2d(ember.tensor(x), ember.tensor(w), stride=2, padding=1)
    t = TF.conv2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1)
    assert e.dtype == ember.int64
    np.testing.assert_array_equal(e.numpy(), t.numpy())


@pytest.mark.parametrize("fn", ["conv2d", "conv_transpose2d"])
def test_float32_output_is_float32_and_contiguous(fn):
    (xe, xt), (we, wt) = _pair(2, 3, 6, 6, dtype=np.float32), _pair(3, 3, 3, 3, seed=1,
                                                                      dtype=np.float32)
    e, t = getattr(EF, fn)(xe, we, padding=1), getattr(TF, fn)(xt, wt, padding=1)
    assert e.dtype == ember.float32 and e.is_contiguous()
    _close(e, t, 1e-5)


def test_empty_batch():
    e = EF.conv2d(ember.ones(0, 4, 8, 8), ember.ones(4, 2, 3, 3), groups=2)
    t = TF.conv2d(torch.ones(0, 4, 8, 8), torch.ones(4, 2, 3, 3), groups=2)
    assert tuple(e.shape) == tuple(t.shape)


def test_top_level_names_are_the_functional_ones():
    for name in ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d"]:
        assert getattr(ember, name) is getattr(EF, name)


def test_no_graph_under_no_grad():
    (xe, _), (we, _) = _pair(1, 2, 5, 5), _pair(3, 2, 3, 3, seed=1)
    with ember.no_grad():
        out = EF.conv2d(xe, we)
    assert not out.requires_grad and out.grad_fn is None


# Both kernels of the transposed conv (col2im, and a plain conv with the flipped kernel
# when stride is 1), and geometries where the flipped pads would be negative:
# (stride, padding, dilation, groups, in channels, out channels).
GEOMETRIES = [
    (1, 0, 1, 1, 2, 6),
    (1, 1, 1, 1, 6, 2),
    (1, 4, 1, 1, 2, 4),
    (1, (2, 1), 2, 2, 4, 4),
    (2, 1, 1, 1, 3, 3),
    ((3, 2), 0, (1, 2), 3, 3, 6),
    (4, 2, 1, 1, 2, 2),
]


def _grads_close(e, t, e_inputs, t_inputs):
    up = np.random.default_rng(3).standard_normal(tuple(t.shape))
    for a, b in zip(ember.autograd.grad(e, e_inputs, ember.tensor(up)),
                    torch.autograd.grad(t, t_inputs, torch.tensor(up))):
        _close(a, b)


@pytest.mark.parametrize("stride, padding, dilation, groups, c_in, c_out", GEOMETRIES)
def test_conv2d_forward_and_gradients_match_torch(stride, padding, dilation, groups, c_in,
                                                  c_out):
    kw = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    (xe, xt), (we, wt) = _pair(2, c_in, 9, 8), _pair(c_out, c_in // groups, 3, 3, seed=1)
    (be, bt) = _pair(c_out, seed=2)
    e, t = EF.conv2d(xe, we, be, **kw), TF.conv2d(xt, wt, bt, **kw)
    _close(e, t)
    _grads_close(e, t, [xe, we, be], [xt, wt, bt])


@pytest.mark.parametrize("stride, padding, dilation, groups, c_in, c_out", GEOMETRIES)
def test_conv_transpose2d_matches_torch(stride, padding, dilation, groups, c_in, c_out):
    pairs = zip(*(v if isinstance(v, tuple) else (v, v) for v in (stride, dilation)))
    kw = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
          "output_padding": tuple(min(s, d) - 1 for s, d in pairs)}
    (xe, xt), (we, wt) = _pair(2, c_in, 8, 9), _pair(c_in, c_out // groups, 3, 2, seed=1)
    try:
        t = TF.conv_transpose2d(xt, wt, **kw)
    except RuntimeError:
        pytest.skip("PyTorch refuses this geometry")
    e = EF.conv_transpose2d(xe, we, **kw)
    _close(e, t)
    _grads_close(e, t, [xe, we], [xt, wt])


def _gradient_penalty(lib, x, w, b):
    """A WGAN-GP style loss: the gradient of the conv's output through backward twice."""
    out = lib.nn.functional.conv2d(x, w, b, stride=2, padding=1, groups=2)
    (gx,) = lib.autograd.grad((out * out).sum(), [x], create_graph=True)
    return (gx * gx).sum() + out.sum()


def test_double_backward_matches_torch():
    (xe, xt), (we, wt), (be, bt) = _pair(2, 4, 5, 5), _pair(4, 2, 3, 3, seed=1), _pair(4, seed=2)
    _gradient_penalty(ember, xe, we, be).backward()
    _gradient_penalty(torch, xt, wt, bt).backward()
    for a, b in ((xe, xt), (we, wt), (be, bt)):
        _close(a.grad, b.grad, 1e-9)


def test_conv1d_same_even_kernel_pads_right_like_torch():
    (xe, xt), (we, wt) = _pair(1, 1, 6), _pair(1, 1, 4, seed=1)
    e, t = EF.conv1d(xe, we, padding="same"), TF.conv1d(xt, wt, padding="same")
    assert tuple(e.shape) == (1, 1, 6)
    _close(e, t)


def test_unbatched_input_gives_unbatched_output():
    (xe, xt), (we, wt) = _pair(2, 5, 5), _pair(3, 2, 2, 2, seed=1)
    e, t = EF.conv2d(xe, we, stride=2), TF.conv2d(xt, wt, stride=2)
    assert tuple(e.shape) == tuple(t.shape) == (3, 2, 2)
    _close(e, t)
    e, t = EF.conv_transpose2d(e, we), TF.conv_transpose2d(t, wt)
    _close(e, t)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [0, 3])
def test_bias_gradient_by_product_matches_torch(dtype, batch):
    """Outside create_graph the bias gradient is one product with ones (ops/conv.py)."""
    rng = np.random.default_rng(7)
    arrays = [rng.standard_normal(s).astype(dtype) for s in ((batch, 3, 9, 9), (5, 3, 3, 3), (5,))]
    e = [ember.tensor(a, requires_grad=True) for a in arrays]
    t = [torch.tensor(a, requires_grad=True) for a in arrays]
    g = rng.standard_normal((batch, 5, 7, 7)).astype(dtype)
    ember.nn.functional.conv2d(*e).backward(ember.tensor(g))
    torch.nn.functional.conv2d(*t).backward(torch.tensor(g))
    assert e[2].grad.dtype == e[2].dtype
    np.testing.assert_allclose(e[2].grad.numpy(), t[2].grad.numpy(), rtol=1e-5, atol=1e-4)
