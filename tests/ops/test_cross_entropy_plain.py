"""Cross-entropy's short path for plain targets (NOTE [plain targets] in
``ember/ops/softmax_rows.py``): taken when every target is a class and there are no
weights, bitwise the general op's values, PyTorch's on non-finite logits, with the
compiled softmax pass and without."""

import numpy as np
import pytest
import torch

import ember
from ember.backend import use_compiled_kernels

EF, TF = ember.nn.functional, torch.nn.functional


@pytest.fixture(params=[True, False], ids=["compiled", "numpy"])
def kernels(request):
    if request.param:
        pytest.importorskip("numba")
    previous = use_compiled_kernels(request.param)
    yield
    use_compiled_kernels(previous)


def _loss_and_grad(x, t, **kwargs):
    xe = ember.tensor(x, requires_grad=True)
    loss = EF.cross_entropy(xe, ember.tensor(t), **kwargs)
    plain = getattr(loss.grad_fn, "plain", False)
    loss.backward(ember.tensor(np.full(loss.shape, 1.7, x.dtype)))
    return loss.detach().numpy(), xe.grad.numpy(), plain


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_plain_targets_take_the_short_path_with_the_general_ops_bits(kernels, dtype,
                                                                     reduction):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((33, 12)) * 4).astype(dtype)
    t = rng.integers(0, 11, 33)  # never class 11
    loss, grad, plain = _loss_and_grad(x, t, reduction=reduction)
    assert plain
    # The general op: class weights of 1, or an ignore_index that no target has.
    for general in ({"weight": ember.tensor(np.ones(12, dtype))}, {"ignore_index": 11}):
        loss2, grad2, plain2 = _loss_and_grad(x, t, reduction=reduction, **general)
        assert not plain2
        np.testing.assert_array_equal(loss, loss2)
        np.testing.assert_array_equal(grad, grad2)


def test_targets_out_of_range_or_ignored_leave_the_short_path(kernels):
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        EF.cross_entropy(ember.tensor(x), ember.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match="target -2 is out of bounds"):
        EF.cross_entropy(ember.tensor(x), ember.tensor([0, -2, 1]))
    assert not _loss_and_grad(x, np.array([0, -100, 1]))[2]
    assert not _loss_and_grad(x, np.array([0, 2, 1]), label_smoothing=0.1)[2]
    assert not _loss_and_grad(x, np.array([0, 2, 1]), reduction="none")[2]
    assert _loss_and_grad(x, np.array([0, 2, 1]))[2]


def test_float_class_targets_are_not_plain():
    """``plain_targets`` checks the targets' dtype itself: the eager op and the compiled
    step's rule both ask it, and float class indices get the general op's error."""
    from ember.ops.softmax_rows import plain_targets

    x = np.zeros((3, 4), np.float32)
    assert plain_targets(x, np.array([0, 2, 1]), -100)
    assert not plain_targets(x, np.array([0.0, 2.0, 1.0]), -100)
    with pytest.raises(RuntimeError, match="expected class indices of an integer dtype"):
        EF.cross_entropy(ember.tensor(x), ember.tensor([0.0, 2.0, 1.0]))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_logits_give_torchs_values(kernels, bad):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    x[2, 3] = bad
    x[4] = -np.inf if bad == -np.inf else x[4]  # a whole row of -inf too
    t = np.array([0, 1, 3, 2, 0, 4])
    loss, grad, _ = _loss_and_grad(x, t)
    xt = torch.tensor(x, requires_grad=True)
    lt = TF.cross_entropy(xt, torch.tensor(t))
    lt.backward(torch.tensor(1.7))
    np.testing.assert_allclose(loss, lt.detach().numpy(), rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-6, atol=1e-7, equal_nan=True)


def test_a_retained_graphs_second_backward_gives_the_same(kernels):
    rng = np.random.default_rng(5)
    xe = ember.tensor(rng.standard_normal((9, 4)).astype(np.float32), requires_grad=True)
    loss = EF.cross_entropy(xe, ember.tensor(rng.integers(0, 4, 9)))
    loss.backward(retain_graph=True)
    first = xe.grad.numpy().copy()
    xe.grad = None
    loss.backward()
    np.testing.assert_allclose(xe.grad.numpy(), first, rtol=1e-6, atol=1e-8)


def test_the_softmax_kernel_finds_numpys_row_maxima_and_skips_non_finite_rows():
    pytest.importorskip("numba")
    from ember.backend.loss_kernels import exp_rows32

    rng = np.random.default_rng(6)
    x = (rng.standard_normal((7, 13)) * 30).astype(np.float32)
    x[3, 5] = np.nan
    x[5, 0] = np.inf
    top, exps, sums = np.empty((7, 1), np.float32), np.empty_like(x), np.empty((7, 1), np.float32)
    assert exp_rows32(x, top, exps, sums) == 2  # the NaN row and the inf row
    finite = [0, 1, 2, 4, 6]
    np.testing.assert_array_equal(top[finite], x[finite].max(axis=1, keepdims=True))
    want = np.exp(x[finite] - top[finite])
    np.testing.assert_allclose(exps[finite], want, rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(sums[finite], want.sum(axis=1, keepdims=True), rtol=1e-6)
