"""Cross-entropy on two threads (its softmax and gradient in pieces of rows on
``ember.backend.threads``), forced to split: the same bits as in one piece, and PyTorch's
values and gradients; with the compiled float32 softmax pass and without."""

import numpy as np
import pytest
import torch

import ember
from ember.backend import use_compiled_kernels
from ember.ops import loss as loss_module
from ember.ops import softmax_rows

EF, TF = ember.nn.functional, torch.nn.functional


@pytest.fixture(params=[True, False], ids=["compiled", "numpy"])
def splits(request, monkeypatch):
    """Two threads, compiled kernels on or off, and a record of the splits in more than
    one piece; ``force(True)`` makes every cross-entropy big enough to split,
    ``force(False)`` none (all restored after). Yields ``(seen, force, splits_for)``,
    ``splits_for(dtype)`` telling whether that dtype's logits split: the compiled float32
    pass never does."""
    if request.param:
        pytest.importorskip("numba")
    previous, kernels = ember.get_num_threads(), use_compiled_kernels(request.param)
    seen = []
    real = loss_module.split

    def counting(fn, n, count):
        if count > 1:
            seen.append((n, count))
        return real(fn, n, count)

    def force(on):
        monkeypatch.setattr(softmax_rows, "_SPLIT_SIZE", 0 if on else 1 << 62)

    monkeypatch.setattr(loss_module, "split", counting)  # the gradient's split
    monkeypatch.setattr(softmax_rows, "split", counting)  # the softmax pass's
    ember.set_num_threads(2)
    def splits_for(dtype):
        return not (request.param and dtype == np.float32)

    try:
        yield seen, force, splits_for
    finally:
        ember.set_num_threads(previous)
        use_compiled_kernels(kernels)


def _run(x, t, grad_seed, **kwargs):
    """Loss and input gradient of ember's cross_entropy, as arrays."""
    xe = ember.tensor(x, requires_grad=True)
    out = EF.cross_entropy(xe, ember.tensor(t), **kwargs)
    g = np.random.default_rng(grad_seed).standard_normal(out.shape).astype(x.dtype)
    out.backward(ember.tensor(g))
    return out.detach().numpy(), xe.grad.numpy(), g


def _torch(x, t, g, **kwargs):
    xt = torch.tensor(x, requires_grad=True)
    if kwargs.get("weight") is not None:
        kwargs["weight"] = torch.tensor(kwargs["weight"])
    out = TF.cross_entropy(xt, torch.tensor(t), **kwargs)
    out.backward(torch.tensor(g))
    return out.detach().numpy(), xt.grad.numpy()


CASES = [
    {},
    {"reduction": "sum"},
    {"reduction": "none"},
    {"label_smoothing": 0.1},
    {"ignore_index": 3, "label_smoothing": 0.2},
    {"weight": "w", "reduction": "none", "label_smoothing": 0.05},
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_split_cross_entropy_is_unsplit_and_torch(splits, dtype, case):
    seen, force, splits_for = splits
    rng = np.random.default_rng(case)
    x = (rng.standard_normal((37, 11)) * 3).astype(dtype)
    t = rng.integers(0, 11, 37)
    t[::5] = 3  # some ignored targets where ignore_index=3
    kwargs = dict(CASES[case])
    if kwargs.get("weight") == "w":
        kwargs["weight"] = rng.uniform(0.5, 2.0, 11).astype(dtype)

    def ember_kwargs():
        out = dict(kwargs)
        if out.get("weight") is not None:
            out["weight"] = ember.tensor(out["weight"])
        return out

    force(False)
    loss1, grad1, g = _run(x, t, 99, **ember_kwargs())
    assert seen == []
    force(True)
    loss2, grad2, _ = _run(x, t, 99, **ember_kwargs())
    # forward and backward each in two pieces
    assert seen == ([(37, 2), (37, 2)] if splits_for(dtype) else [])
    np.testing.assert_array_equal(loss2, loss1)
    np.testing.assert_array_equal(grad2, grad1)
    loss_t, grad_t = _torch(x, t, g, **kwargs)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(loss2, loss_t, **tol)
    np.testing.assert_allclose(grad2, grad_t, **tol)


def test_non_contiguous_or_spatial_logits_do_not_split(splits):
    seen, force, _ = splits
    force(True)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((11, 37)).astype(np.float32).T  # (37, 11), not C-contiguous
    t = rng.integers(0, 11, 37)
    loss, grad, g = _run(x, t, 1)
    loss_t, grad_t = _torch(np.ascontiguousarray(x), t, g)
    np.testing.assert_allclose(loss, loss_t, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad, grad_t, rtol=1e-5, atol=1e-6)
    x4 = rng.standard_normal((4, 5, 3, 2)).astype(np.float32)
    t4 = rng.integers(0, 5, (4, 3, 2))
    _run(x4, t4, 2)
    assert seen == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_retained_graph_second_backward_gives_the_same(splits, dtype):
    seen, force, splits_for = splits
    force(True)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((20, 7)).astype(dtype)
    t = rng.integers(0, 7, 20)
    xe = ember.tensor(x, requires_grad=True)
    out = EF.cross_entropy(xe, ember.tensor(t))
    out.backward(retain_graph=True)
    first = xe.grad.numpy().copy()
    xe.grad = None
    out.backward()
    np.testing.assert_allclose(xe.grad.numpy(), first, rtol=1e-6, atol=1e-7)
    assert seen == ([(20, 2)] * 3 if splits_for(dtype) else [])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_logits_match_torch(splits, dtype):
    """Rows with NaN, +inf, -inf or all -inf logits (the compiled pass leaves them to
    NumPy) next to finite rows with a -inf or hugely negative logit (exp underflows)."""
    seen, force, splits_for = splits
    force(True)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8, 6)).astype(dtype)
    x[0, 2] = np.nan
    x[1, 4] = np.inf
    x[2, :] = -np.inf
    x[3, 1] = -np.inf
    x[4, 0] = -1e30
    x[5, 5] = -100.0
    t = np.array([1, 4, 0, 2, 3, 5, 0, 1])
    for reduction in ("none", "sum"):
        loss, grad, g = _run(x, t, 4, reduction=reduction)
        loss_t, grad_t = _torch(x, t, g, reduction=reduction)
        np.testing.assert_allclose(loss, loss_t, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grad, grad_t, rtol=1e-5, atol=1e-6)
    assert seen == ([(8, 2)] * 4 if splits_for(dtype) else [])


@pytest.mark.parametrize("classes", [1, 16, 257])
def test_wide_and_narrow_rows_match_torch(splits, classes):
    """Rows long enough for the compiled pass's vectorized loop and its remainder, and a
    single class (its loss 0, its gradient 0)."""
    _, force, _ = splits
    force(False)
    rng = np.random.default_rng(classes)
    x = (rng.standard_normal((50, classes)) * 10).astype(np.float32)
    t = rng.integers(0, classes, 50)
    for kwargs in ({}, {"label_smoothing": 0.3}):
        loss, grad, g = _run(x, t, 5, **kwargs)
        loss_t, grad_t = _torch(x, t, g, **kwargs)
        np.testing.assert_allclose(loss, loss_t, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grad, grad_t, rtol=1e-5, atol=1e-6)
