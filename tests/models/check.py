"""Shared checks for the model tests: an ember model against its torch reference.

The order of use: ``assert_same_structure`` and ``assert_same_init`` on freshly built
models, ``copy_weights`` (reference -> ember through NumPy), then ``compare_training``
(one forward and backward in training mode: outputs, every gradient, and the running
statistics it updates) and ``compare_eval``. Inputs are small and forward passes few:
these models are large for two cores.
"""

import numpy as np
import torch

import ember

# torch's threads spin-wait: on a busy machine two of them burned 20-50 times the CPU of
# one (Inception-v3 forward: 3.7 s against 0.07 s), and torch's share here is small.
torch.set_num_threads(1)

RTOL = 1e-4


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def assert_same_structure(e_model, t_model, known_count=None):
    """Same parameter count (and the published one), same state-dict keys in the same
    order with the same shapes and dtypes, same parameter names, same printout."""
    assert n_params(e_model) == n_params(t_model)
    if known_count is not None:
        assert n_params(t_model) == known_count, "the reference is not torchvision's"
        assert n_params(e_model) == known_count
    e_state, t_state = e_model.state_dict(), t_model.state_dict()
    assert list(e_state) == list(t_state)
    for key, t_value in t_state.items():
        assert tuple(e_state[key].shape) == tuple(t_value.shape), key
        assert str(e_state[key].dtype).split(".")[-1] == str(t_value.dtype).split(".")[-1], key
    assert [n for n, _ in e_model.named_parameters()] == [n for n, _ in t_model.named_parameters()]
    assert repr(e_model) == repr(t_model)


def assert_same_init(e_model, t_model):
    """Initialized from the same distributions: tensors that torch fills with a constant
    are that constant in ember; larger random ones have the same mean and spread."""
    t_state = t_model.state_dict()
    for key, e_value in e_model.state_dict().items():
        e_np, t_np = e_value.numpy().ravel(), t_state[key].numpy().ravel()
        if t_np.size == 0 or np.all(t_np == t_np[0]):
            np.testing.assert_array_equal(e_np, t_np, err_msg=key)
        elif t_np.size >= 2000:
            # A strided sample of a million is plenty, and keeps AlexNet's and VGG's
            # 100-million-element layers cheap.
            step = max(1, t_np.size // 1_000_000)
            e_np, t_np = e_np[::step].astype(np.float64), t_np[::step].astype(np.float64)
            t_std, e_std = t_np.std(), e_np.std()
            assert abs(e_std / t_std - 1) < 0.1, f"{key}: std {e_std:.4g} vs torch {t_std:.4g}"
            assert abs(e_np.mean() - t_np.mean()) < 8 * t_std / np.sqrt(t_np.size), key
            assert np.abs(e_np).max() <= 1.5 * np.abs(t_np).max(), key


def copy_weights(e_model, t_model):
    """Load the reference's parameters and buffers into the ember model."""
    e_model.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t_model.state_dict().items()})


def random_input(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _outputs(out):
    return list(out) if isinstance(out, tuple) else [out]


def assert_close(e_value, t_value, what, rtol=RTOL, scale_tol=5e-5, scale=None):
    """Elementwise ``rtol``, plus an absolute slack of ``scale_tol`` times ``scale`` (by
    default the largest magnitude of ``t_value``): float32 sums of thousands of terms
    cancel to values near zero (ResNet-50's eval logits: torch's own float32 error is
    1e-5 of the largest logit)."""
    t_np = t_value.detach().numpy()
    e_np = e_value.detach().numpy()
    assert e_np.shape == t_np.shape, f"{what}: shape {e_np.shape} != {t_np.shape}"
    scale = _max_abs(t_np) if scale is None else scale
    if not _all_close(e_np.ravel(), t_np.ravel(), rtol, scale_tol * scale):
        np.testing.assert_allclose(e_np, t_np, rtol=rtol, atol=scale_tol * scale,
                                   err_msg=what)


def _max_abs(array):
    """``abs(array).max()`` without an array-sized temporary."""
    return float(max(array.max(), -array.min())) if array.size else 0.0


def _all_close(e_flat, t_flat, rtol, atol, chunk=1 << 18):
    """``allclose`` by chunks: on VGG's 100-million-element gradients, whole-array
    temporaries cost seconds of page faults, and ``assert_allclose`` more."""
    for i in range(0, t_flat.size, chunk):
        e, t = e_flat[i:i + chunk], t_flat[i:i + chunk]
        if not np.all(np.abs(e - t) <= atol + rtol * np.abs(t)):
            return False
    return True


def compare_eval(e_model, t_model, shape, seed=0):
    """Eval-mode outputs equal on one random input; returns ember's output."""
    x = random_input(shape, seed)
    e_model.eval()
    t_model.eval()
    with ember.no_grad():
        e_out = e_model(ember.tensor(x))
    with torch.no_grad():
        t_out = t_model(torch.tensor(x))
    assert type(e_out).__name__ == type(t_out).__name__
    for i, (e, t) in enumerate(zip(_outputs(e_out), _outputs(t_out), strict=True)):
        assert_close(e, t, f"eval output {i}")
    return e_out


def compare_training(e_model, t_model, shape, seed=0, dtype="float64"):
    """One training-mode forward and backward of a random weighting of the outputs:
    outputs, the gradient of every parameter (present, right shape, equal to torch's)
    and the buffers (running statistics) equal. The models must have no active dropout.

    In float64 by default, where the comparison can be tight: in float32, batch norm over
    a batch of two amplifies rounding (ResNet-50: torch's own float32 output is 7e-5 of
    its scale away from its float64 one). Keep at least ~8 values per channel at every
    batch norm: over 2 values (a 1×1 map, batch 2) the output is ill-conditioned even in
    float64 (ResNet-50 at 32×32: a 1e-13 change of the input moves it by 4e-8). The models are left in float32, so the running
    statistics this step updated are there for ``compare_eval``. Returns ember's output.
    """
    tol = {"rtol": 1e-7, "scale_tol": 1e-9} if dtype == "float64" else {"rtol": 1e-3,
                                                                         "scale_tol": 1e-3}
    x = random_input(shape, seed).astype(dtype)
    e_model.to(getattr(ember, dtype)).train()
    t_model.to(getattr(torch, dtype)).train()
    e_out, t_out = e_model(ember.tensor(x)), t_model(torch.tensor(x))
    assert type(e_out).__name__ == type(t_out).__name__
    e_loss, t_loss = 0, 0
    for i, (e, t) in enumerate(zip(_outputs(e_out), _outputs(t_out), strict=True)):
        assert_close(e, t, f"training output {i}", **tol)
        w = random_input(tuple(t.shape), seed + 1 + i).astype(dtype)
        e_loss = e_loss + (e * ember.tensor(w)).sum()
        t_loss = t_loss + (t * torch.tensor(w)).sum()
    e_loss.backward()
    t_loss.backward()
    t_params = dict(t_model.named_parameters())
    # Some gradients are zero but for rounding (a batch norm's bias feeding a convolution
    # and another batch norm), so the slack scales with the largest gradient of all.
    grad_scale = max(_max_abs(p.grad.numpy()) for p in t_params.values())
    for name, e_param in e_model.named_parameters():
        assert e_param.grad is not None, f"no gradient for {name}"
        assert tuple(e_param.grad.shape) == tuple(e_param.shape), name
        assert_close(e_param.grad, t_params[name].grad, f"gradient of {name}", **tol,
                     scale=grad_scale)
    t_buffers = dict(t_model.named_buffers())
    # As for the gradients.
    buffer_scale = max((_max_abs(b.numpy()) for b in t_buffers.values()), default=0.0)
    for name, e_buffer in e_model.named_buffers():
        assert_close(e_buffer, t_buffers[name], f"buffer {name}", **tol, scale=buffer_scale)
    e_model.float()
    t_model.float()
    return e_out
