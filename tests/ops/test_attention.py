"""Attention behaviour the op table cannot express: dropout, masks, errors, create_graph."""

import numpy as np
import pytest
import torch

import ember

EF, TF = ember.nn.functional, torch.nn.functional


def _qkv(seed=0, shape=((2, 3, 4), (2, 5, 4), (2, 5, 3))):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shape]


def test_dropout_is_reproducible_and_scales():
    q, k, v = (ember.tensor(a) for a in _qkv())
    ember.manual_seed(0)
    a = EF.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    ember.manual_seed(0)
    b = EF.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    full = EF.scaled_dot_product_attention(q, k, v)
    assert not np.allclose(a.numpy(), full.numpy())
    zero = EF.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    np.testing.assert_array_equal(zero.numpy(), 0)


def test_dropout_gradient_uses_the_same_mask():
    q, k, v = (ember.tensor(a, requires_grad=True) for a in _qkv(1))
    ember.manual_seed(3)
    out = EF.scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    (gv,) = ember.autograd.grad(out.sum(), v, retain_graph=True)
    # out is linear in v: out = W v, so d sum(out) / dv = W^T 1 = column sums of W.
    weights = out.grad_fn.probs * out.grad_fn.keep
    np.testing.assert_allclose(gv.numpy(), np.swapaxes(weights, -1, -2).sum(-1)[..., None]
                               * np.ones(3), rtol=1e-12)


def test_fully_masked_rows_give_zero_output_and_gradient_like_torch():
    q, k, v = _qkv(2)
    mask = np.ones((3, 5), dtype=bool)
    mask[1] = False
    outs = []
    for m, F in ((ember, EF), (torch, TF)):
        qt = m.tensor(q, requires_grad=True)
        out = F.scaled_dot_product_attention(qt, m.tensor(k), m.tensor(v),
                                             attn_mask=m.tensor(mask))
        out.sum().backward()
        outs.append((out.detach().numpy(), qt.grad.numpy()))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert np.all(outs[0][0][:, 1] == 0)


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"scale": 0.7}])
def test_double_backward_matches_torch(kw):
    q, k, v = _qkv(4, ((2, 4, 3), (2, 4, 3), (2, 4, 2)))
    c = np.random.default_rng(5).standard_normal((2, 4, 3))
    results = []
    for m, F in ((ember, EF), (torch, TF)):
        args = [m.tensor(a, requires_grad=True) for a in (q, k, v)]
        out = F.scaled_dot_product_attention(*args, **kw)
        (gq,) = m.autograd.grad((out * out).sum(), args[0], create_graph=True)
        results.append([g.numpy() for g in m.autograd.grad((gq * m.tensor(c)).sum(), args)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


def test_errors():
    q, k, v = (ember.tensor(a) for a in _qkv())
    with pytest.raises(RuntimeError, match="attn_mask should not be set when is_causal"):
        EF.scaled_dot_product_attention(q, k, v, attn_mask=ember.ones(3, 5), is_causal=True)
    with pytest.raises(RuntimeError, match=r"scaled_dot_product_attention: expected query"):
        EF.scaled_dot_product_attention(q, ember.zeros(2, 5, 3), v)
    with pytest.raises(RuntimeError, match="same floating dtype"):
        EF.scaled_dot_product_attention(q, k.float(), v)
    with pytest.raises(RuntimeError, match=r"query heads \(3\) must be a multiple"):
        EF.scaled_dot_product_attention(ember.zeros(1, 3, 2, 4), ember.zeros(1, 2, 2, 4),
                                        ember.zeros(1, 2, 2, 4), enable_gqa=True)


def test_float32_output():
    q, k, v = (ember.tensor(a).float() for a in _qkv())
    assert EF.scaled_dot_product_attention(q, k, v).dtype == ember.float32


@pytest.mark.parametrize("needs", [(False, False, True, False), (False, False, False, True),
                                   (True, False, False, True)])
def test_gradients_when_only_some_inputs_require_grad(needs):
    arrays = _qkv(6) + [np.random.default_rng(7).standard_normal((3, 5))]
    grads = []
    for m, F in ((ember, EF), (torch, TF)):
        args = [m.tensor(a, requires_grad=r) for a, r in zip(arrays, needs)]
        out = F.scaled_dot_product_attention(*args[:3], attn_mask=args[3])
        (out * out).sum().backward()
        grads.append([a.grad.numpy() for a, r in zip(args, needs) if r])
    for mine, ref in zip(*grads):
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)
