"""ember.autograd.functional against torch.autograd.functional."""

import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import ember
import ember.autograd.functional as EF


def f(lib):
    return lambda x, y: (x ** 2 * y.sum() + x * 3, (x * y).sum())


def inputs(lib):
    return (lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64),
            lib.tensor([1.5, 0.25, -0.5], dtype=lib.float64))


def flat(results):
    if isinstance(results, (tuple, list)):
        out = []
        for r in results:
            out.extend(flat(r))
        return out
    return [results.detach().numpy()]


@pytest.mark.parametrize("name", ["vjp", "jvp", "jacobian"])
def test_first_order_matches_torch(name):
    ef, tf = getattr(EF, name), getattr(TF, name)
    if name == "jacobian":
        mine, ref = ef(f(ember), inputs(ember)), tf(f(torch), inputs(torch))
    elif name == "vjp":
        v = (np.array([1.0, 2.0, 3.0]), np.array(0.5))
        mine = ef(f(ember), inputs(ember), tuple(ember.tensor(a) for a in v))
        ref = tf(f(torch), inputs(torch), tuple(torch.tensor(a) for a in v))
    else:
        v = (np.array([1.0, 0.0, -1.0]), np.array([0.5, 0.5, 2.0]))
        mine = ef(f(ember), inputs(ember), tuple(ember.tensor(a) for a in v))
        ref = tf(f(torch), inputs(torch), tuple(torch.tensor(a) for a in v))
    for a, b in zip(flat(mine), flat(ref)):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_hessian_and_hvp_match_torch():
    def g(lib):
        return lambda x: (x ** 3).sum() * x[0] if lib is torch else (x ** 3).sum() * x[0]

    xe = ember.tensor([1.0, 2.0, -0.5], dtype=ember.float64)
    xt = torch.tensor([1.0, 2.0, -0.5], dtype=torch.float64)
    np.testing.assert_allclose(EF.hessian(g(ember), xe).numpy(), TF.hessian(g(torch), xt).numpy())
    v = [0.3, -1.0, 2.0]
    _, mine = EF.hvp(g(ember), xe, ember.tensor(v, dtype=ember.float64))
    _, ref = TF.hvp(g(torch), xt, torch.tensor(v, dtype=torch.float64))
    np.testing.assert_allclose(mine.numpy(), ref.numpy())
