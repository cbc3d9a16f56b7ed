"""Run one optimizer in ember and in torch on the same model, step by step, and compare.

Both frameworks start from the same weights and see the same batches (a fixed random
sequence). By default torch's backward computes each step's gradients and ember's
parameters receive copies of them, so that what is compared is the optimizers alone
(adaptive rules divide by tiny second moments and would amplify float32 rounding
differences between the two backward passes); with ``own_backward=True`` each framework
runs its own backward, as a user's training loop would. A third parameter never receives
a gradient, to check that it is skipped.
"""

import numpy as np
import torch

import ember

DTYPES = {"float32": (np.float32, 1e-5, 1e-6), "float64": (np.float64, 1e-6, 1e-9)}


class Model:
    """``mean((tanh(x W^T + b) - y)^2)`` on ``lib``'s tensors; ``unused`` gets no gradient."""

    def __init__(self, lib, dtype, seed=0):
        rng = np.random.default_rng(seed)
        self.lib = lib
        self.weight = _param(lib, rng.normal(size=(4, 3)).astype(dtype))
        self.bias = _param(lib, rng.normal(size=(4,)).astype(dtype))
        self.unused = _param(lib, rng.normal(size=(2,)).astype(dtype))

    def params(self):
        return [self.weight, self.bias, self.unused]

    def loss(self, x, y):
        lib = self.lib
        out = lib.tanh(lib.tensor(x) @ self.weight.T + self.bias)
        return ((out - lib.tensor(y)) ** 2).mean()


def _param(lib, array):
    return lib.nn.Parameter(lib.tensor(array.copy()))


def batches(dtype, n, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(6, 3)).astype(dtype), rng.normal(size=(6, 4)).astype(dtype))
            for _ in range(n)]


def pair(dtype_name, seed=0):
    dtype = DTYPES[dtype_name][0]
    return Model(ember, dtype, seed), Model(torch, dtype, seed)


def train_step(model, opt, batch):
    opt.zero_grad()
    loss = model.loss(*batch)
    loss.backward()
    opt.step()
    return float(loss.detach())


def shared_grad_step(e_model, e_opt, t_model, t_opt, batch):
    """torch's backward computes the gradients; both optimizers step with them."""
    t_opt.zero_grad()
    e_opt.zero_grad()
    t_model.loss(*batch).backward()
    for ep, tp in zip(e_model.params(), t_model.params()):
        if tp.grad is not None:
            ep.grad = ember.tensor(tp.grad.numpy().copy())
    t_opt.step()
    e_opt.step()


def to_numpy(value):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy()
    return value.detach().numpy() if isinstance(value, ember.Tensor) else np.asarray(value)


def assert_close(a, b, dtype_name, what=""):
    """Equal to ``rtol``, with an ``atol`` scaled by the array's largest value: an element
    that nearly cancels carries the rounding error of its neighbours' magnitude."""
    _, rtol, atol = DTYPES[dtype_name]
    a, b = to_numpy(a), to_numpy(b)
    scale = max(1.0, float(np.max(np.abs(b)))) if np.size(b) else 1.0
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * scale, err_msg=what)


def assert_same_state(e_opt, t_opt, e_params, t_params, dtype_name, where=""):
    """The parameters and every state buffer agree, key by key, including ``step``'s dtype."""
    for i, (ep, tp) in enumerate(zip(e_params, t_params)):
        assert_close(ep, tp, dtype_name, f"param {i} {where}")
        e_state, t_state = e_opt.state.get(ep, {}), t_opt.state.get(tp, {})
        assert sorted(e_state) == sorted(t_state), (i, sorted(e_state), sorted(t_state), where)
        for key, t_value in t_state.items():
            e_value = e_state[key]
            if isinstance(t_value, torch.Tensor):
                assert isinstance(e_value, ember.Tensor), (key, type(e_value))
                assert str(e_value.dtype).split(".")[-1] == str(t_value.dtype).split(".")[-1]
            assert_close(e_value, t_value, dtype_name, f"state[{i}][{key!r}] {where}")


def run(e_cls, t_cls, kwargs, dtype_name, steps=10, groups=None, own_backward=False):
    """Train the same model with ``e_cls`` and ``t_cls`` and compare after every step.

    Args:
        groups: optional function ``(model) -> params`` building parameter groups.
        own_backward: ember computes its gradients itself instead of copying torch's.
    """
    e_model, t_model = pair(dtype_name)
    make = groups or (lambda m: m.params())
    e_opt, t_opt = e_cls(make(e_model), **kwargs), t_cls(make(t_model), **kwargs)
    for step, batch in enumerate(batches(DTYPES[dtype_name][0], steps)):
        if own_backward:
            e_loss, t_loss = train_step(e_model, e_opt, batch), train_step(t_model, t_opt, batch)
            np.testing.assert_allclose(e_loss, t_loss, rtol=DTYPES[dtype_name][1])
        else:
            shared_grad_step(e_model, e_opt, t_model, t_opt, batch)
        assert_same_state(e_opt, t_opt, e_model.params(), t_model.params(), dtype_name,
                          f"after step {step + 1} with {kwargs}")
    return e_opt, t_opt


def torch_state_to_ember(state_dict):
    """A torch optimizer state dict with every tensor turned into an ember tensor."""
    def convert(value):
        if isinstance(value, torch.Tensor):
            return ember.tensor(value.detach().numpy().copy())
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(convert(v) for v in value)
        return value

    return convert(state_dict)


def raises_like(make, *args, **kwargs):
    """``make(lib)(*args, **kwargs)`` raises the same exception type in ember and torch."""
    caught = []
    for lib in (torch, ember):
        try:
            make(lib)(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the type is what is compared
            caught.append(type(exc))
        else:
            caught.append(None)
    assert caught[0] is not None, "torch did not raise"
    assert caught[1] is not None and issubclass(caught[1], caught[0]), caught


def fresh_params(lib, dtype_name="float64"):
    return pair(dtype_name)[0 if lib is ember else 1].params()
