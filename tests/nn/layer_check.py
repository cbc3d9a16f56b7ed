"""Shared checks for the layer tests: the same layer in ember and torch, with torch's
weights copied into ember, must agree on outputs and on every gradient."""

import numpy as np
import torch

import ember

# Tiny tensors: torch's thread pool only adds latency (batch_norm took 0.2 s a call with
# two threads on a busy machine).
torch.set_num_threads(1)

DTYPES = {"float32": (ember.float32, torch.float32), "float64": (ember.float64, torch.float64)}
TOL = {"float32": {"rtol": 1e-5, "atol": 1e-6}, "float64": {"rtol": 1e-10, "atol": 1e-12}}


def to_ember(value):
    """A torch tensor as an ember tensor (through NumPy, no shared memory)."""
    return ember.tensor(value.detach().numpy().copy())


def copy_from_torch(e_layer, t_layer):
    """Load torch's state dict into the ember layer; both must have the same keys."""
    e_layer.load_state_dict({k: to_ember(v) for k, v in t_layer.state_dict().items()})


def pair(name, *args, dtype="float64", **kwargs):
    """``(ember_layer, torch_layer)`` built alike, in ``dtype``, ember's state = torch's."""
    t_layer = getattr(torch.nn, name)(*args, **kwargs).to(DTYPES[dtype][1])
    e_layer = getattr(ember.nn, name)(*args, **kwargs).to(DTYPES[dtype][0])
    assert list(e_layer.state_dict()) == list(t_layer.state_dict())
    copy_from_torch(e_layer, t_layer)
    return e_layer, t_layer


def assert_same(e_value, t_value, dtype="float64", what="output"):
    """An ember result equals torch's: same shape, dtype and values within tolerance."""
    t_np = t_value.detach().numpy()
    e_np = e_value.detach().numpy()
    assert e_np.shape == t_np.shape, f"{what}: shape {e_np.shape} != torch's {t_np.shape}"
    assert str(e_value.dtype).split(".")[-1] == str(t_value.dtype).split(".")[-1], what
    np.testing.assert_allclose(e_np, t_np, err_msg=what, **TOL[dtype])


def random_input(shape, dtype="float64", seed=0, low=-1.0, high=1.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, shape).astype(np.dtype(dtype))


def check_layer(e_layer, t_layer, *inputs, dtype="float64", grad=True, seed=1):
    """Run both layers forward (and backward with a random upstream gradient) on the same
    inputs; compare outputs, input gradients and parameter gradients. ``inputs`` are NumPy
    arrays (float ones get gradients). Returns the two outputs."""
    needs = [grad and a.dtype.kind == "f" for a in inputs]
    e_in = [ember.tensor(a.copy(), requires_grad=r) for a, r in zip(inputs, needs)]
    t_in = [torch.tensor(a.copy(), requires_grad=r) for a, r in zip(inputs, needs)]
    e_out, t_out = e_layer(*e_in), t_layer(*t_in)
    e_all = e_out if isinstance(e_out, tuple) else (e_out,)
    t_all = t_out if isinstance(t_out, tuple) else (t_out,)
    assert len(e_all) == len(t_all)
    for i, (e, t) in enumerate(zip(e_all, t_all)):
        assert_same(e, t, dtype, f"output {i}")
    if grad:
        upstream = np.random.default_rng(seed).standard_normal(t_all[0].shape)
        upstream = upstream.astype(t_all[0].detach().numpy().dtype)
        e_all[0].backward(ember.tensor(upstream))
        t_all[0].backward(torch.tensor(upstream))
        for i, (e, t, r) in enumerate(zip(e_in, t_in, needs)):
            if r:
                assert_same(e.grad, t.grad, dtype, f"gradient of input {i}")
        assert_same_grads(e_layer, t_layer, dtype)
    return e_out, t_out


def assert_same_grads(e_layer, t_layer, dtype="float64"):
    t_params = dict(t_layer.named_parameters())
    e_params = dict(e_layer.named_parameters())
    assert list(e_params) == list(t_params)
    for name, t_param in t_params.items():
        e_grad = e_params[name].grad
        if t_param.grad is None:
            assert e_grad is None, f"{name}: torch has no gradient, ember has one"
        else:
            assert e_grad is not None, f"{name}: ember has no gradient"
            assert_same(e_grad, t_param.grad, dtype, f"gradient of {name}")


def assert_round_trip(e_layer, make_fresh):
    """``state_dict`` -> ``load_state_dict`` into a fresh layer gives the same state."""
    fresh = make_fresh()
    result = fresh.load_state_dict(e_layer.state_dict())
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    for (k1, v1), (k2, v2) in zip(e_layer.state_dict().items(), fresh.state_dict().items()):
        assert k1 == k2 and v1.dtype == v2.dtype
        np.testing.assert_array_equal(v1.numpy(), v2.numpy())
