"""``TransformerEncoderLayer`` run as its ops alone (NOTE [encoder layer as ops] in
ember/nn/modules/transformer.py): the same outputs and gradients as the module path and
as PyTorch, and the module path whenever hooks, replaced submodules or active dropout
need it."""

import warnings

import numpy as np
import pytest
import torch

import ember
from ember.nn.modules import transformer
from tests.nn.attention_check import compare, randomized

D, HEADS, FF, N, S = 8, 2, 16, 3, 5


def _x(batch_first=True, dtype=np.float64, seed=0):
    shape = (N, S, D) if batch_first else (S, N, D)
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(dtype)


def _layers(dropout=0.0, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's nested-tensor fast-path notices
        t = torch.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=dropout, **options)
    return randomized(ember.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=dropout,
                                                       **options), t)


def _causal():
    return np.where(np.triu(np.ones((S, S), dtype=bool), 1), -np.inf, 0.0)


def _run(layer, x, module_path, **kwargs):
    """``layer(x)`` and the gradients of a fixed projection, with the op path on or off."""
    runs = transformer._runs_as_ops
    if module_path:
        transformer._runs_as_ops = lambda layer: False
    try:
        xt = ember.tensor(x, requires_grad=True)
        out = layer(xt, **kwargs)
        g = np.random.default_rng(1).standard_normal(out.shape)
        (out * ember.tensor(g)).sum().backward()
    finally:
        transformer._runs_as_ops = runs
    grads = [xt.grad.numpy()] + [p.grad.numpy() for p in layer.parameters()]
    layer.zero_grad()
    return out.detach().numpy(), grads


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("masks", ["none", "causal", "padding"])
def test_ops_path_equals_module_path(norm_first, activation, masks):
    e, _ = _layers(norm_first=norm_first, activation=activation, batch_first=True)
    assert transformer._runs_as_ops(e)  # dropout 0 in training: every dropout is identity
    kwargs = {}
    if masks == "causal":
        kwargs = {"src_mask": ember.tensor(_causal()), "is_causal": True}
    elif masks == "padding":
        padding = np.zeros((N, S), dtype=bool)
        padding[:, -2:] = True
        kwargs = {"src_key_padding_mask": ember.tensor(padding)}
    x = _x()
    fast, fast_grads = _run(e, x, False, **kwargs)
    slow, slow_grads = _run(e, x, True, **kwargs)
    np.testing.assert_array_equal(fast, slow)
    for a, b in zip(fast_grads, slow_grads):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("norm_first", [False, True])
def test_eval_mode_with_dropout_matches_torch(norm_first):
    e, t = _layers(dropout=0.5, norm_first=norm_first)
    e.eval(), t.eval()
    assert transformer._runs_as_ops(e)
    compare(e, t, (_x(batch_first=False),), {"src_mask": _causal()})


def test_eval_float32_under_no_grad_matches_torch():
    e, t = _layers(norm_first=True, activation="gelu", batch_first=True)
    e.to(ember.float32), t.to(torch.float32)
    e.eval(), t.eval()
    x = _x(dtype=np.float32)
    with ember.no_grad(), torch.no_grad():
        mine = e(ember.tensor(x), src_mask=ember.tensor(_causal().astype(np.float32)),
                 is_causal=True)
        ref = t(torch.tensor(x), src_mask=torch.tensor(_causal().astype(np.float32)),
                is_causal=True)
    np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-5, atol=1e-5)


def test_training_dropout_takes_the_module_path():
    e, _ = _layers(dropout=0.1)
    assert not transformer._runs_as_ops(e)
    e.eval()
    assert transformer._runs_as_ops(e)
    e.dropout1.train()  # one dropout module left in training mode
    assert not transformer._runs_as_ops(e)


@pytest.mark.parametrize("name", ["norm1", "norm2", "linear1", "linear2", "self_attn",
                                  "dropout", "dropout1", "dropout2"])
def test_hooks_on_a_submodule_run(name):
    e, _ = _layers()
    e.eval()
    calls = []
    getattr(e, name).register_forward_hook(lambda module, args, out: calls.append(name))
    assert not transformer._runs_as_ops(e)
    e(ember.tensor(_x(batch_first=False)))
    assert calls == [name]


def test_a_hook_that_changes_an_output_is_honoured():
    e, _ = _layers()
    x = ember.tensor(_x(batch_first=False))
    before = e(x).detach().numpy()
    e.linear2.register_forward_hook(lambda module, args, out: out * 0)
    after = e(x).detach().numpy()
    norm_only = e.norm2(e.norm1(x + e._sa_block(x, None, None))).detach().numpy()
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, norm_only, rtol=1e-12)


def test_a_replaced_submodule_takes_the_module_path():
    e, _ = _layers()
    e.norm1 = ember.nn.RMSNorm(D)
    assert not transformer._runs_as_ops(e)
    x = ember.tensor(_x(batch_first=False))
    expected = e.norm2(e.norm1(x + e._sa_block(x, None, None))
                       + e._ff_block(e.norm1(x + e._sa_block(x, None, None))))
    np.testing.assert_allclose(e(x).detach().numpy(), expected.detach().numpy(), rtol=1e-12)


def test_an_overridden_block_takes_the_module_path():
    class Doubled(ember.nn.TransformerEncoderLayer):
        def _ff_block(self, x):
            return 2 * super()._ff_block(x)

    e = Doubled(D, HEADS, FF, dropout=0.0).double()
    assert not transformer._runs_as_ops(e)
    x = ember.tensor(_x(batch_first=False))
    h = e.norm1(x + e._sa_block(x, None, None))
    expected = e.norm2(h + 2 * ember.nn.TransformerEncoderLayer._ff_block(e, h))
    np.testing.assert_allclose(e(x).detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    plain = ember.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0)
    plain._sa_block = lambda x, attn_mask, key_padding_mask, is_causal=False: x
    assert not transformer._runs_as_ops(plain)
