"""Tensor factories against torch: values, dtypes, shapes."""

import numpy as np
import pytest
import torch

import ember


def same(e, t):
    assert tuple(e.shape) == tuple(t.shape)
    assert e.dtype.name == str(t.dtype).split(".")[1], (e.dtype, t.dtype)
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("data", [
    [1.0, 2.0], [1, 2], [True, False], [[1, 2], [3, 4]], 3.5, 7, [], [[1.0], [2.0]],
    [1, 2.5], np.array([1, 2], dtype=np.int32), np.array([1.0], dtype=np.float64),
    np.float64(2.0),
])
def test_tensor_infers_dtype_like_torch(data):
    same(ember.tensor(data), torch.tensor(data))


@pytest.mark.parametrize("call", [
    lambda m: m.zeros(2, 3), lambda m: m.ones((2, 3)), lambda m: m.zeros([4]),
    lambda m: m.full((2, 2), 7), lambda m: m.full((2,), 1.5), lambda m: m.full((1,), True),
    lambda m: m.arange(5), lambda m: m.arange(1, 4), lambda m: m.arange(0, 1, 0.1),
    lambda m: m.arange(10, 0, -3), lambda m: m.arange(0.5, 3), lambda m: m.arange(5.0),
    lambda m: m.linspace(0, 1, 5), lambda m: m.linspace(-2, 2, 1), lambda m: m.eye(3),
    lambda m: m.eye(2, 4), lambda m: m.logspace(0, 2, 3),
    lambda m: m.zeros(2, dtype=m.int32), lambda m: m.ones(2, dtype=m.float64),
    lambda m: m.arange(4, dtype=m.float32),
])
def test_factories_match_torch(call):
    same(call(ember), call(torch))


def test_like_factories_keep_dtype_and_shape():
    x = ember.zeros(2, 3, dtype=ember.float64)
    for f in (ember.zeros_like, ember.ones_like, ember.empty_like, ember.rand_like,
              ember.randn_like):
        y = f(x)
        assert y.shape == (2, 3) and y.dtype == ember.float64
    assert ember.full_like(x, 4).tolist() == [[4.0] * 3] * 2
    assert ember.randint_like(x, 5).dtype == ember.float64


def test_from_numpy_is_zero_copy_and_numpy_shares():
    arr = np.arange(6.0).reshape(2, 3)
    t = ember.from_numpy(arr)
    arr[0, 0] = 100
    assert t[0, 0].item() == 100 if hasattr(t, "__getitem__") else t.numpy()[0, 0] == 100
    t.numpy()[1, 2] = -1
    assert arr[1, 2] == -1


def test_tensor_copies():
    arr = np.zeros(3)
    t = ember.tensor(arr)
    arr[0] = 5
    assert t.numpy()[0] == 0


def test_dlpack_both_ways():
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    e = ember.from_dlpack(t)
    assert e.shape == (2, 3) and e.dtype == ember.float32
    t[0, 0] = 42
    assert e.numpy()[0, 0] == 42  # shared memory
    back = torch.from_dlpack(e)
    assert back.shape == (2, 3) and back[0, 0].item() == 42
    n = np.from_dlpack(ember.ones(2))
    assert n.tolist() == [1.0, 1.0]


def test_random_factories_shapes_dtypes_and_ranges():
    ember.manual_seed(0)
    r = ember.rand(1000)
    assert r.dtype == ember.float32 and 0 <= r.numpy().min() and r.numpy().max() < 1
    n = ember.randn(10000, dtype=ember.float64)
    assert abs(n.numpy().mean()) < 0.05 and abs(n.numpy().std() - 1) < 0.05
    i = ember.randint(3, 7, (100,))
    assert i.dtype == ember.int64 and set(i.tolist()) <= {3, 4, 5, 6}
    assert ember.randint(5, (2, 2)).shape == (2, 2)
    p = ember.randperm(10)
    assert sorted(p.tolist()) == list(range(10)) and p.dtype == ember.int64


def test_manual_seed_reproduces_and_generators_are_independent():
    ember.manual_seed(123)
    a = ember.randn(5)
    ember.manual_seed(123)
    b = ember.randn(5)
    assert a.tolist() == b.tolist()
    g1 = ember.Generator().manual_seed(7)
    g2 = ember.Generator().manual_seed(7)
    assert ember.rand(3, generator=g1).tolist() == ember.rand(3, generator=g2).tolist()


def test_generator_state_round_trip():
    g = ember.Generator().manual_seed(1)
    ember.rand(3, generator=g)
    state = g.get_state()
    assert state.dtype == ember.uint8
    first = ember.rand(4, generator=g).tolist()
    g.set_state(state)
    assert ember.rand(4, generator=g).tolist() == first
    ember.manual_seed(5)
    s = ember.get_rng_state()
    x = ember.randn(3).tolist()
    ember.set_rng_state(s)
    assert ember.randn(3).tolist() == x


def test_requires_grad_factories():
    assert ember.zeros(2, requires_grad=True).requires_grad
    assert ember.tensor([1.0], requires_grad=True).is_leaf
    with pytest.raises(RuntimeError, match="only floating point"):
        ember.zeros(2, dtype=ember.int64, requires_grad=True)


def test_bad_arguments():
    with pytest.raises(ValueError, match="arange"):
        ember.arange(0, 5, -1)
    with pytest.raises(RuntimeError, match="CPU only"):
        ember.zeros(2, device="cuda")
    with pytest.raises(TypeError, match="numeric dtype"):
        ember.tensor(["a", "b"])


def test_multinomial_and_bernoulli():
    ember.manual_seed(0)
    w = ember.tensor([0.0, 1.0, 0.0])
    assert ember.multinomial(w, 3, replacement=True).tolist() == [1, 1, 1]
    b = ember.bernoulli(ember.full((1000,), 0.3))
    assert 0.25 < b.numpy().mean() < 0.35
