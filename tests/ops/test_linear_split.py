"""``linear`` on two threads (NOTE [split products] in ember/ops/linalg.py): forced to split,
forward and every gradient against PyTorch, in each input layout ``Linear`` handles."""

import numpy as np
import pytest
import torch

import ember
from ember.backend import threads
from ember.ops import linalg

EF, TF = ember.nn.functional, torch.nn.functional


@pytest.fixture
def two_threads(split_everything):
    """Two threads, and every product big enough to split."""
    split_everything(linalg, "_SPLIT_WORK", record=False)


def _pair(*shape, seed, dtype=np.float32):
    arr = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return ember.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)


def _close(e, t):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-5)


def _grads(out, seed):
    g = np.random.default_rng(seed).standard_normal(tuple(out[0].shape)).astype(np.float32)
    out[0].backward(ember.tensor(g))
    out[1].backward(torch.tensor(g))


# (7, 5) @ (5, 6) splits rows, (2, 5) @ (5, 6) columns (the longer side of the output);
# in backward, (6, 7) @ (7, 5) and (6, 2) @ (2, 9) likewise.
@pytest.mark.parametrize("xshape, out", [((7, 5), 6), ((3, 4, 5), 6), ((5,), 6), ((2, 5), 6),
                                         ((2, 9), 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_split_linear_matches_torch(two_threads, xshape, out, bias):
    x, tx = _pair(*xshape, seed=0)
    w, tw = _pair(out, xshape[-1], seed=1)
    b, tb = _pair(out, seed=2) if bias else (None, None)
    out = EF.linear(x, w, b), TF.linear(tx, tw, tb)
    _close(out[0], out[1])
    _grads(out, seed=3)
    for e, t in [(x, tx), (w, tw)] + ([(b, tb)] if bias else []):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_split_linear_of_a_transposed_input(two_threads):
    x, tx = _pair(5, 9, seed=4)
    w, tw = _pair(3, 5, seed=5)
    out = EF.linear(x.mT, w), TF.linear(tx.mT, tw)
    _close(out[0], out[1])
    _grads(out, seed=6)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_split_linear_with_a_broadcast_bias(two_threads):
    """A bias of another shape than (out,) is summed back by the engine."""
    x, tx = _pair(4, 3, seed=7, dtype=np.float64)
    w, tw = _pair(2, 3, seed=8, dtype=np.float64)
    b, tb = _pair(4, 2, seed=9, dtype=np.float64)
    out = EF.linear(x, w, b), TF.linear(tx, tw, tb)
    out[0].sum().backward()
    out[1].sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy())
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy())


def test_split_linear_second_order_matches_torch(two_threads):
    """With create_graph the gradient is built from differentiable ops."""
    x, tx = _pair(6, 4, seed=10, dtype=np.float64)
    w, tw = _pair(3, 4, seed=11, dtype=np.float64)
    (gx,) = ember.autograd.grad(EF.linear(x, w).square().sum(), x, create_graph=True)
    (tgx,) = torch.autograd.grad(TF.linear(tx, tw).square().sum(), tx, create_graph=True)
    gx.sum().backward()
    tgx.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy())


def test_products_split_into_one_block_per_thread(two_threads, monkeypatch):
    """The forward product is one block per thread; backward's two products, of equal
    work, are one whole product per thread."""
    calls = []
    real = threads.split

    def counting(fn, n, count, per_thread, weights):
        calls.append((n, count, per_thread, weights))
        return real(fn, n, count, per_thread, weights)

    monkeypatch.setattr(linalg, "split", counting)
    x, _ = _pair(8, 5, seed=12)
    w, _ = _pair(6, 5, seed=13)
    EF.linear(x, w).sum().backward()
    # Each task weighs its multiply-adds: x (8,5) @ w.T (5,6) by rows, 4x5x6 a half;
    # g (8,6) @ w (6,5) and g.T (6,8) @ x (8,5) whole, 8x6x5 each.
    assert calls == [(2, 2, 1, [120, 120]), (2, 2, 1, [240, 240])]


@pytest.mark.parametrize("needs", ["x", "w"])
def test_split_linear_with_one_gradient_needed(two_threads, needs):
    x, tx = _pair(9, 5, seed=14)
    w, tw = _pair(4, 5, seed=15)
    for t in ((x, tx) if needs == "w" else (w, tw)):
        t.requires_grad_(False)
    out = EF.linear(x, w), TF.linear(tx, tw)
    _grads(out, seed=16)
    e, t = (x, tx) if needs == "x" else (w, tw)
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_small_products_or_one_thread_do_not_split(monkeypatch):
    monkeypatch.setattr(linalg, "split", lambda *a: pytest.fail("split a small product"))
    previous = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        EF.linear(ember.ones(4, 3), ember.ones(2, 3))
        monkeypatch.setattr(linalg, "_SPLIT_WORK", 0)
        ember.set_num_threads(1)
        EF.linear(ember.ones(4, 3), ember.ones(2, 3))
    finally:
        ember.set_num_threads(previous)


@pytest.mark.skipif(not ember._threads._find(), reason="NumPy's BLAS is not OpenBLAS")
def test_unsplit_products_give_openblas_the_threads_only_outside_autograd():
    """NOTE [inference products] in ember/_threads.py."""
    from ember._threads import blas_library_threads

    previous = ember.get_num_threads()
    ember.set_num_threads(2)
    layer = ember.nn.Linear(8, 4)
    x = ember.randn(3, 8)
    try:
        with ember.no_grad():
            inferred = layer(x)
        assert blas_library_threads() == 2
        trained = layer(x)
        assert blas_library_threads() == 1
        trained.sum().backward()  # backward's products are training's
        assert blas_library_threads() == 1
        np.testing.assert_array_equal(inferred.numpy(), trained.detach().numpy())
    finally:
        ember.set_num_threads(previous)
