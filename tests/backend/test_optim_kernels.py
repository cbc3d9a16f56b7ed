"""The compiled optimizer updates against PyTorch's optimizers and against NumPy's path.

``tests/optim`` runs every option of SGD, Adam and AdamW both ways on a small model;
these cases add the shapes and layouts the kernels must handle or hand back to NumPy:
large parameters, gradients that are views, parameters in Fortran order, float16.
"""

import numpy as np
import pytest
import torch

import ember
from ember.backend import use_compiled_kernels
from ember.backend.optim_kernels import flat_views
from ember.optim.adam import adam_update
from ember.optim.sgd import sgd_update

numba = pytest.importorskip("numba")


def _steps(e_cls, t_cls, kwargs, param, grads):
    """Run both optimizers over ``grads`` from ``param``; return the final parameters."""
    e_p = ember.nn.Parameter(ember.tensor(param.copy()))
    t_p = torch.nn.Parameter(torch.tensor(param.copy()))
    e_opt, t_opt = e_cls([e_p], **kwargs), t_cls([t_p], **kwargs)
    for g in grads:
        e_p.grad = ember.tensor(g)
        t_p.grad = torch.tensor(g)
        e_opt.step()
        t_opt.step()
    return e_p.detach().numpy(), t_p.detach().numpy()


CASES = [
    (ember.optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True,
                                        "weight_decay": 0.01}),
    (ember.optim.Adam, torch.optim.Adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    (ember.optim.AdamW, torch.optim.AdamW, {"lr": 0.01, "betas": (0.3, 0.9)}),
]


@pytest.mark.parametrize("e_cls, t_cls, kwargs", CASES, ids=lambda c: getattr(c, "__name__", ""))
@pytest.mark.parametrize("compiled", [True, False])
def test_large_parameter_matches_torch(e_cls, t_cls, kwargs, compiled):
    rng = np.random.default_rng(0)
    param = rng.standard_normal((300, 700)).astype(np.float32)
    grads = [rng.standard_normal(param.shape).astype(np.float32) for _ in range(4)]
    previous = use_compiled_kernels(compiled)
    try:
        e, t = _steps(e_cls, t_cls, kwargs, param, grads)
    finally:
        use_compiled_kernels(previous)
    np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-6)


def _sgd(param, grad, buf, **options):
    options = {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01,
               "nesterov": False, "maximize": True, **options}
    return sgd_update(param, grad, buf, **options)


@pytest.mark.parametrize("grad_view", ["transposed", "broadcast", "strided"])
def test_sgd_kernel_reads_gradients_of_any_layout(grad_view):
    rng = np.random.default_rng(1)
    param = rng.standard_normal((6, 8))
    grad = {"transposed": rng.standard_normal((8, 6)).T,
            "broadcast": np.broadcast_to(rng.standard_normal(8), (6, 8)),
            "strided": rng.standard_normal((12, 8))[::2]}[grad_view]
    results = []
    for compiled in (True, False):
        previous = use_compiled_kernels(compiled)
        try:
            p = param.copy()
            buf = _sgd(p, grad, None)
            buf = _sgd(p, grad, buf)
            results.append((p, buf))
        finally:
            use_compiled_kernels(previous)
    (p1, b1), (p2, b2) = results
    np.testing.assert_allclose(p1, p2, rtol=1e-12)
    np.testing.assert_allclose(b1, b2, rtol=1e-12)


def test_kernels_leave_parameters_they_cannot_write_to_numpy():
    f_order = np.asfortranarray(np.ones((4, 3)))
    grad = np.ones((4, 3))
    assert flat_views(grad, f_order) is None
    assert flat_views(grad.astype(np.float16), np.ones((4, 3), np.float16)) is None
    assert flat_views(grad.astype(np.float32), np.ones((4, 3))) is None
    views = flat_views(grad.T.T, np.ones((4, 3)), None)
    assert views[2] is None and views[1].shape == (12,)


def test_fortran_ordered_parameter_is_updated_in_place():
    param = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    before = param.copy()
    grad = np.full((3, 4), 2.0)
    buf = _sgd(param, grad, None, maximize=False, weight_decay=0.0, dampening=0.0)
    np.testing.assert_allclose(param, before - 0.1 * 2.0)
    np.testing.assert_allclose(buf, grad)


def test_adam_kernel_matches_numpy_path_on_float64():
    rng = np.random.default_rng(2)
    shape = (50, 40)
    start = rng.standard_normal(shape)
    grads = [rng.standard_normal(shape) for _ in range(3)]
    finals = []
    for compiled in (True, False):
        previous = use_compiled_kernels(compiled)
        try:
            p, m, v, vmax = start.copy(), np.zeros(shape), np.zeros(shape), np.zeros(shape)
            for step, g in enumerate(grads, 1):
                adam_update(p, g, m, v, vmax, step, lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8,
                            weight_decay=0.05, amsgrad=True, maximize=False,
                            decoupled_weight_decay=False)
            finals.append((p, m, v, vmax))
        finally:
            use_compiled_kernels(previous)
    for a, b in zip(*finals):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
