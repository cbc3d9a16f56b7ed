"""einsum, tensordot and bilinear behaviour the op table cannot express: equation
errors, dtypes, memory ownership, and higher-order gradients against PyTorch."""

import numpy as np
import pytest
import torch

import ember
from tests.ops.harness import raises_like_torch


def _pair(*shape, seed=0):
    arr = np.random.default_rng(seed).standard_normal(shape)
    return ember.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)


@pytest.mark.parametrize("call, words", [
    (lambda m: m.einsum("ij,jk", m.ones(2, 3)), "2 operands"),
    (lambda m: m.einsum("ijk", m.ones(2, 3)), "number of subscripts"),
    (lambda m: m.einsum("ij->ii", m.ones(2, 3)), "more than once"),
    (lambda m: m.einsum("ij->k", m.ones(2, 3)), "does not appear"),
    (lambda m: m.einsum("ii->i", m.ones(2, 3)), "repeated"),
    (lambda m: m.einsum("ij,jk", m.ones(2, 3), m.ones(4, 2)), "broadcast"),
    (lambda m: m.einsum("ij,jk", m.ones(2, 3), m.ones(3, 4, dtype=m.float64)), "dtype"),
    (lambda m: m.einsum("i.j", m.ones(2, 3)), "invalid"),
    (lambda m: m.tensordot(m.ones(2, 3), m.ones(3, 2), dims=-1), "dims"),
    (lambda m: m.tensordot(m.ones(2, 3, 4), m.ones(4, 3, 5), dims=([1], [0])), "match"),
    (lambda m: m.tensordot(m.ones(2, 3, 4), m.ones(4, 3, 5), dims=([1], [0, 1])), "length"),
    (lambda m: m.tensordot(m.ones(3), m.ones(3, dtype=m.float64), dims=1), "dtype"),
    (lambda m: m.bilinear(m.ones(2, 3), m.ones(2, 4), m.ones(5, 3, 3)), "input2"),
    (lambda m: m.bilinear(m.ones(7, 3), m.ones(2, 4), m.ones(5, 3, 4)), "batch"),
    (lambda m: m.bilinear(m.ones(7, 3), m.ones(7, 4), m.ones(5, 3, 4), m.ones(4)), "bias"),
    (lambda m: m.bilinear(m.ones(2, 3), m.ones(2, 4, dtype=m.float64), m.ones(5, 3, 4)),
     "dtype"),
])
def test_errors_like_torch(call, words):
    text = raises_like_torch(call)
    assert words in text


def test_integer_einsum_matches_torch():
    a, b = np.arange(6).reshape(2, 3), np.arange(12).reshape(3, 4)
    e = ember.einsum("ij,jk->ik", ember.tensor(a), ember.tensor(b))
    t = torch.einsum("ij,jk->ik", torch.tensor(a), torch.tensor(b))
    assert e.dtype == ember.int64
    np.testing.assert_array_equal(e.numpy(), t.numpy())


@pytest.mark.parametrize("equation", ["ij->ji", "ii->i", "ij->ij"])
def test_result_owns_its_memory(equation):
    x = ember.eye(3)
    y = ember.einsum(equation, x)
    y.numpy()[...] = 7.0
    np.testing.assert_array_equal(x.numpy(), np.eye(3))


def test_spaces_and_uppercase_labels():
    (ae, at), (be, bt) = _pair(2, 3), _pair(3, 4, seed=1)
    e = ember.einsum("Ab, bC -> CA", ae, be)
    t = torch.einsum("Ab, bC -> CA", at, bt)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-12)


def test_zero_dim_operand():
    (se, st), (ve, vt) = _pair(), _pair(3, seed=1)
    e, t = ember.einsum(",i->i", se, ve), torch.einsum(",i->i", st, vt)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("equation, shapes", [
    ("ii->i", [(3, 3)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("...ij,...j", [(2, 1, 2, 3), (3, 3)]),
    ("ij,ij,i->j", [(2, 3), (2, 3), (2,)]),
])
def test_third_order_gradients_match_torch(equation, shapes):
    pairs = [_pair(*s, seed=i) for i, s in enumerate(shapes)]
    results = []
    for lib, k in ((ember, 0), (torch, 1)):
        xs = [p[k] for p in pairs]
        out = lib.einsum(equation, *xs)
        (g,) = lib.autograd.grad((out ** 2).sum(), xs[:1], create_graph=True)
        (gg,) = lib.autograd.grad((g ** 2).sum(), xs[:1], create_graph=True)
        (ggg,) = lib.autograd.grad(gg.sum(), xs[:1])
        results.append(ggg.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-12)


def test_tensordot_dims_as_tensor():
    (ae, at), (be, bt) = _pair(2, 3, 4), _pair(4, 3, 5, seed=1)
    e = ember.tensordot(ae, be, dims=ember.tensor([[1, 2], [1, 0]]))
    t = torch.tensordot(at, bt, dims=torch.tensor([[1, 2], [1, 0]]))
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-12)
