"""Shared checks for the attention and Transformer tests: build a layer in both
frameworks with the same random weights, run both on the same inputs, compare outputs
and every gradient."""

import numpy as np
import torch

import ember
from tests.nn.layer_check import DTYPES, TOL


def randomized(e_layer, t_layer, dtype="float64", seed=7):
    """Give the torch layer random weights (biases too, which start at 0) in ``dtype`` and
    load them into the ember layer; their state-dict keys must be equal."""
    t_layer.to(DTYPES[dtype][1])
    e_layer.to(DTYPES[dtype][0])
    assert list(e_layer.state_dict()) == list(t_layer.state_dict())
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in t_layer.parameters():
            p.copy_(torch.tensor(rng.uniform(-0.5, 0.5, tuple(p.shape))))
    e_layer.load_state_dict({k: ember.tensor(v.detach().numpy().copy())
                             for k, v in t_layer.state_dict().items()})
    return e_layer, t_layer


def assert_close(e_value, t_value, dtype, what, tol=None):
    """Same shape, dtype and values (NaN where torch has NaN); ``tol`` overrides the
    dtype's ``rtol``/``atol``."""
    assert (e_value is None) == (t_value is None), what
    if t_value is None:
        return
    t_np, e_np = t_value.detach().numpy(), e_value.detach().numpy()
    assert e_np.shape == t_np.shape, f"{what}: shape {e_np.shape} != torch's {t_np.shape}"
    assert e_np.dtype == t_np.dtype, f"{what}: dtype {e_np.dtype} != torch's {t_np.dtype}"
    np.testing.assert_allclose(e_np, t_np, err_msg=what, **(tol or TOL[dtype]))


def both(value, requires_grad=False):
    """A NumPy array (or None) as ``(ember tensor, torch tensor)``."""
    if value is None:
        return None, None
    return (ember.tensor(value.copy(), requires_grad=requires_grad),
            torch.tensor(value.copy(), requires_grad=requires_grad))


def compare(e_layer, t_layer, inputs, kwargs=None, dtype="float64", grad=True, seed=3,
            tol=None):
    """Call both layers on ``inputs`` (NumPy arrays; the same array object passed twice
    becomes the same tensor twice, as self-attention needs) and ``kwargs`` (arrays become
    tensors); compare the outputs and, with ``grad``, the gradients of a random linear
    function of every floating output w.r.t. the inputs and every parameter."""
    tensors = {}
    for a in inputs:
        if id(a) not in tensors:
            tensors[id(a)] = both(a, requires_grad=grad)
    e_args = [tensors[id(a)][0] for a in inputs]
    t_args = [tensors[id(a)][1] for a in inputs]
    e_kw, t_kw = {}, {}
    for k, v in (kwargs or {}).items():
        e_kw[k], t_kw[k] = both(v) if isinstance(v, np.ndarray) else (v, v)
    e_out, t_out = e_layer(*e_args, **e_kw), t_layer(*t_args, **t_kw)
    e_all = e_out if isinstance(e_out, tuple) else (e_out,)
    t_all = t_out if isinstance(t_out, tuple) else (t_out,)
    for i, (e, t) in enumerate(zip(e_all, t_all)):
        assert_close(e, t, dtype, f"output {i}", tol)
    if grad:
        rng = np.random.default_rng(seed)
        e_loss = t_loss = 0
        for e, t in zip(e_all, t_all):
            if t is not None and not torch.isnan(t).any():
                g = rng.standard_normal(tuple(t.shape)).astype(t.detach().numpy().dtype)
                e_loss = e_loss + (e * ember.tensor(g)).sum()
                t_loss = t_loss + (t * torch.tensor(g)).sum()
        e_loss.backward()
        t_loss.backward()
        for i, (e, t) in enumerate(tensors.values()):
            assert_close(e.grad, t.grad, dtype, f"gradient of input {i}", tol)
        e_params = dict(e_layer.named_parameters())
        assert list(e_params) == [name for name, _ in t_layer.named_parameters()]
        for name, t_param in t_layer.named_parameters():
            assert_close(e_params[name].grad, t_param.grad, dtype, f"gradient of {name}", tol)
    return e_out, t_out
