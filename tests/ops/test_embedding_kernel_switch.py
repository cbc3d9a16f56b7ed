"""The embedding gradient's scatter-add (``PutRows``, through
``ember.backend.index_kernels.add_rows``) on both paths, the compiled pass and NumPy's
sort + reduceat, against PyTorch."""

import numpy as np
import pytest
import torch

import ember
from ember.backend import use_compiled_kernels
from ember.backend import index_kernels

EF, TF = ember.nn.functional, torch.nn.functional


class _Counting:
    """Stands in for the compiled ``_add_rows`` and counts its calls."""

    def __init__(self, real):
        self.real, self.calls = real, 0

    def ready(self):
        return self.real.ready()

    def __call__(self, *args):
        self.calls += 1
        return self.real(*args)


@pytest.fixture(params=[True, False], ids=["compiled", "numpy"])
def path(request, monkeypatch):
    """Compiled kernels on or off (restored after); yields (on, the counting kernel)."""
    on = request.param
    if on:
        pytest.importorskip("numba")
    counting = _Counting(index_kernels._add_rows)
    monkeypatch.setattr(index_kernels, "_add_rows", counting)
    previous = use_compiled_kernels(on)
    try:
        yield on, counting
    finally:
        use_compiled_kernels(previous)


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-12,
                                                                      "atol": 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 3}, {"scale_grad_by_freq": True}],
                         ids=["plain", "padding", "freq"])
def test_embedding_gradient_matches_torch(path, dtype, index_dtype, kwargs):
    on, counting = path
    rng = np.random.default_rng(4)
    w = rng.standard_normal((40, 6)).astype(dtype)
    idx = rng.integers(0, 40, (5, 30)).astype(index_dtype)
    idx[0, :10] = 3  # many repeats of one row (the padding row, with padding_idx)
    g = rng.standard_normal((5, 30, 6)).astype(dtype)
    e_w, t_w = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    EF.embedding(ember.tensor(idx), e_w, **kwargs).backward(ember.tensor(g))
    TF.embedding(torch.tensor(idx).long(), t_w, **kwargs).backward(torch.tensor(g))
    np.testing.assert_allclose(e_w.grad.numpy(), t_w.grad.numpy(), **_tol(dtype))
    assert e_w.grad.dtype == e_w.dtype
    assert counting.calls == (1 if on else 0)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_gradient_matches_torch(path, mode):
    on, counting = path
    rng = np.random.default_rng(6)
    w = rng.standard_normal((20, 5))
    idx = rng.integers(0, 20, 17)
    offsets = np.array([0, 4, 4, 11])
    e_w, t_w = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    e = EF.embedding_bag(ember.tensor(idx), e_w, ember.tensor(offsets), mode=mode)
    t = TF.embedding_bag(torch.tensor(idx), t_w, torch.tensor(offsets), mode=mode)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-12)
    (e * e).sum().backward()
    (t * t).sum().backward()
    np.testing.assert_allclose(e_w.grad.numpy(), t_w.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert (counting.calls > 0) == on


def test_embedding_double_backward_matches_torch(path):
    on, counting = path
    rng = np.random.default_rng(7)
    w = rng.standard_normal((9, 4))
    idx = rng.integers(0, 9, (3, 8))
    e_w, t_w = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    e = EF.embedding(ember.tensor(idx), e_w)
    t = TF.embedding(torch.tensor(idx), t_w)
    (e_g,) = ember.autograd.grad((e * e).sum(), e_w, create_graph=True)
    (t_g,) = torch.autograd.grad((t * t).sum(), t_w, create_graph=True)
    np.testing.assert_allclose(e_g.detach().numpy(), t_g.detach().numpy(), rtol=1e-12)
    e_g.pow(2).sum().backward()
    t_g.pow(2).sum().backward()
    np.testing.assert_allclose(e_w.grad.numpy(), t_w.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert (counting.calls > 0) == on


def test_float16_weight_takes_numpy_path(path):
    _, counting = path
    w = ember.tensor(np.ones((4, 3), np.float16), requires_grad=True)
    EF.embedding(ember.tensor(np.array([1, 1, 2])), w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0] * 3, [2] * 3, [1] * 3, [0] * 3])
    assert counting.calls == 0
