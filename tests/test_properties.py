"""Property tests (hypothesis): random shapes for broadcasting and reductions, values and
gradients compared with torch."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def broadcastable_pair(draw):
    """Two shapes that broadcast: each dim of the shorter is 1 or equal to the other's."""
    ndim = draw(st.integers(0, 4))
    shape = [draw(st.integers(1, 4)) for _ in range(ndim)]
    other_ndim = draw(st.integers(0, ndim))
    other = [draw(st.sampled_from([1, s])) for s in shape[ndim - other_ndim:]]
    if draw(st.booleans()):
        return tuple(shape), tuple(other)
    return tuple(other), tuple(shape)


OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1), "pow": lambda a, b: (a * a + 1) ** b,
    "matmul_like": lambda a, b: (a * b).sum(),
}


@given(shapes=broadcastable_pair(), op=st.sampled_from(sorted(OPS)), seed=st.integers(0, 99))
@SETTINGS
def test_broadcasting_values_and_gradients(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(s) for s in shapes)
    results = []
    for lib in (ember, torch):
        ta, tb = (lib.tensor(x, requires_grad=True) for x in (a, b))
        out = OPS[op](ta, tb)
        out.sum().backward()
        results.append((out.detach().numpy(), ta.grad.numpy(), tb.grad.numpy()))
    for mine, ref in zip(*results):
        assert mine.shape == ref.shape
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)


@st.composite
def shape_and_dims(draw):
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.integers(1, 4)) for _ in range(ndim))
    dims = draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                          st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                   unique=True).map(tuple)))
    return shape, dims, draw(st.booleans())


REDUCTIONS = {
    "sum": lambda x, d, k: x.sum() if d is None else x.sum(d, keepdim=k),
    "mean": lambda x, d, k: x.mean() if d is None else x.mean(d, keepdim=k),
    "amax": lambda x, d, k: x.amax() if d is None else x.amax(d, keepdim=k),
    "logsumexp": lambda x, d, k: x.logsumexp(tuple(range(x.ndim)) if d is None else d,
                                             keepdim=k),
    "var": lambda x, d, k: x.var() if d is None else x.var(d, keepdim=k),
    "std": lambda x, d, k: x.std(d, keepdim=k, correction=0),
    "prod": lambda x, d, k: x.prod() if not isinstance(d, int) else x.prod(d, keepdim=k),
}


@given(case=shape_and_dims(), name=st.sampled_from(sorted(REDUCTIONS)), seed=st.integers(0, 99))
@SETTINGS
def test_reductions_values_and_gradients(case, name, seed):
    shape, dims, keepdim = case
    x = np.random.default_rng(seed).uniform(0.5, 2.0, shape)
    results = []
    for lib in (ember, torch):
        t = lib.tensor(x, requires_grad=True)
        out = REDUCTIONS[name](t, dims, keepdim)
        out.sum().backward()
        results.append((out.detach().numpy(), t.grad.numpy()))
    for mine, ref in zip(*results):
        assert mine.shape == ref.shape
        np.testing.assert_allclose(mine, ref, rtol=1e-9, atol=1e-12, equal_nan=True)
