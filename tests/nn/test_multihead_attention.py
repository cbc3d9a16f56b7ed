"""MultiheadAttention against torch.nn.MultiheadAttention with copied weights: outputs,
attention weights and the gradients of queries, keys, values and every parameter."""

import copy
import warnings

import numpy as np
import pytest
import torch

import ember
from ember.nn.modules.attention import multi_head_attention_forward
from tests.nn.attention_check import assert_close, both, compare, randomized

E, H, N, L, S = 8, 2, 3, 4, 5


def mha(dtype="float64", seed=7, **kwargs):
    """``(ember MHA, torch MHA)`` with the same random weights."""
    return randomized(ember.nn.MultiheadAttention(E, H, **kwargs),
                      torch.nn.MultiheadAttention(E, H, **kwargs), dtype, seed)


def rand(*shape, seed=0, dtype="float64"):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(dtype)


def padding(n=N, s=S, seed=1):
    """A bool key padding mask (True = padding) that leaves every row some key."""
    mask = np.random.default_rng(seed).random((n, s)) < 0.4
    mask[:, 0] = False
    return mask


def forbidden(*shape, seed=2):
    """A bool attention mask (True = not allowed) that leaves every row some key."""
    mask = np.random.default_rng(seed).random(shape) < 0.4
    mask[..., 0] = False
    return mask


def additive(mask, seed=4):
    """A float mask: -inf where ``mask`` is True, small random values elsewhere."""
    values = np.random.default_rng(seed).uniform(-1, 1, mask.shape)
    return np.where(mask, -np.inf, values)


def seq(n, length, e, batch_first, seed):
    return rand(n, length, e, seed=seed) if batch_first else rand(length, n, e, seed=seed)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
def test_self_attention(batch_first, need_weights):
    e, t = mha(batch_first=batch_first)
    x = seq(N, L, E, batch_first, seed=0)
    compare(e, t, (x, x, x), {"need_weights": need_weights})


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kv_same", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
def test_cross_attention(batch_first, kv_same, need_weights):
    e, t = mha(batch_first=batch_first)
    q = seq(N, L, E, batch_first, seed=0)
    k = seq(N, S, E, batch_first, seed=1)
    v = k if kv_same else seq(N, S, E, batch_first, seed=2)
    compare(e, t, (q, k, v), {"need_weights": need_weights})


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights", [True, False])
def test_kdim_vdim(batch_first, need_weights):
    e, t = mha(kdim=3, vdim=6, batch_first=batch_first)
    assert e.in_proj_weight is None and tuple(e.k_proj_weight.shape) == (E, 3)
    q, k, v = (seq(N, n, f, batch_first, seed) for n, f, seed in ((L, E, 0), (S, 3, 1),
                                                                   (S, 6, 2)))
    compare(e, t, (q, k, v), {"key_padding_mask": padding(), "need_weights": need_weights})


@pytest.mark.parametrize("add_bias_kv, add_zero_attn", [(True, False), (False, True),
                                                        (True, True)])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("masks", ["none", "bool", "float"])
def test_bias_kv_and_zero_attn(add_bias_kv, add_zero_attn, need_weights, masks):
    e, t = mha(add_bias_kv=add_bias_kv, add_zero_attn=add_zero_attn)
    q, k = rand(L, N, E, seed=0), rand(S, N, E, seed=1)
    kwargs = {"need_weights": need_weights}
    if masks != "none":
        kpm, attn = padding(), forbidden(L, S)
        if masks == "float":
            kpm, attn = additive(kpm), additive(attn)
        kwargs.update(key_padding_mask=kpm, attn_mask=attn)
    compare(e, t, (q, k, k), kwargs)


@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_key_padding_mask(kind, need_weights, batch_first):
    e, t = mha(batch_first=batch_first)
    x = seq(N, S, E, batch_first, seed=0)
    mask = padding()
    compare(e, t, (x, x, x), {"key_padding_mask": mask if kind == "bool" else additive(mask),
                              "need_weights": need_weights})


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_attn_mask(dims, kind, need_weights):
    e, t = mha(batch_first=True)
    q, kv = rand(N, L, E, seed=0), rand(N, S, E, seed=1)
    mask = forbidden(L, S) if dims == 2 else forbidden(N * H, L, S)
    mask = mask if kind == "bool" else additive(mask)
    compare(e, t, (q, kv, kv), {"attn_mask": mask, "need_weights": need_weights})


@pytest.mark.parametrize("kind", ["bool", "float"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_attn_mask_with_key_padding_mask(kind, need_weights):
    e, t = mha()
    x = rand(S, N, E, seed=0)
    kpm, attn = padding(), forbidden(N * H, S, S)
    if kind == "float":
        kpm, attn = additive(kpm), additive(attn)
    compare(e, t, (x, x, x), {"key_padding_mask": kpm, "attn_mask": attn,
                              "need_weights": need_weights})


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("with_padding", [False, True])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_is_causal(need_weights, with_padding, kind):
    e, t = mha(batch_first=True)
    x = rand(N, S, E, seed=0)
    causal = np.triu(np.ones((S, S), dtype=bool), 1)
    kwargs = {"attn_mask": causal if kind == "bool" else np.where(causal, -np.inf, 0.0),
              "is_causal": True, "need_weights": need_weights}
    if with_padding:
        kwargs["key_padding_mask"] = padding(s=S) if kind == "bool" else additive(padding(s=S))
    compare(e, t, (x, x, x), kwargs)


@pytest.mark.parametrize("add_bias_kv, add_zero_attn", [(True, False), (False, True)])
def test_is_causal_with_appended_keys(add_bias_kv, add_zero_attn):
    """The fused causal path masks the appended key like PyTorch's (top-left aligned)."""
    e, t = mha(batch_first=True, add_bias_kv=add_bias_kv, add_zero_attn=add_zero_attn)
    x = rand(N, S, E)
    compare(e, t, (x, x, x), {"attn_mask": np.triu(np.ones((S, S), dtype=bool), 1),
                              "is_causal": True, "need_weights": False})


@pytest.mark.parametrize("average", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_average_attn_weights(average, batch_first):
    e, t = mha(batch_first=batch_first)
    q, kv = seq(N, L, E, batch_first, 0), seq(N, S, E, batch_first, 1)
    e_out, _ = compare(e, t, (q, kv, kv), {"average_attn_weights": average,
                                           "key_padding_mask": padding()})
    assert tuple(e_out[1].shape) == ((N, L, S) if average else (N, H, L, S))


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("average", [True, False])
@pytest.mark.parametrize("masks", [False, True])
def test_unbatched(need_weights, average, masks):
    e, t = mha(batch_first=True)  # batch_first is ignored for unbatched inputs
    q, kv = rand(L, E, seed=0), rand(S, E, seed=1)
    kwargs = {"need_weights": need_weights, "average_attn_weights": average}
    if masks:
        kwargs.update(key_padding_mask=padding(1, S)[0], attn_mask=forbidden(H, L, S))
    compare(e, t, (q, kv, kv), kwargs)


@pytest.mark.parametrize("need_weights", [True, False])
def test_no_bias(need_weights):
    e, t = mha(bias=False)
    assert e.in_proj_bias is None and e.out_proj.bias is None
    x = rand(L, N, E)
    compare(e, t, (x, x, x), {"need_weights": need_weights, "attn_mask": forbidden(L, L)})


@pytest.mark.parametrize("need_weights", [True, False])
def test_float32(need_weights):
    e, t = mha(dtype="float32", batch_first=True)
    x = rand(N, L, E, dtype="float32")
    mask = np.triu(np.ones((L, L), dtype=bool), 1)
    compare(e, t, (x, x, x), {"need_weights": need_weights, "attn_mask": mask,
                              "key_padding_mask": padding(s=L)}, dtype="float32")


def test_fully_masked_rows_follow_torch():
    """A row whose every key is padding: NaN through the explicit softmax (need_weights),
    zeros through scaled_dot_product_attention, in both frameworks."""
    e, t = mha(bias=False)
    x = rand(S, N, E)
    kpm = padding()
    kpm[1] = True
    for need_weights in (True, False):
        compare(e, t, (x, x, x), {"key_padding_mask": kpm, "need_weights": need_weights},
                grad=False)


def test_eval_ignores_dropout_and_training_applies_it():
    e, t = mha(dropout=0.5)
    e.eval(), t.eval()
    x = rand(L, N, E)
    for need_weights in (True, False):
        compare(e, t, (x, x, x), {"need_weights": need_weights})
    e.train()
    xe = ember.tensor(x)
    ember.manual_seed(0)
    eval_out = copy.deepcopy(e).eval()(xe, xe, xe)[0]
    for need_weights in (True, False):
        out, weights = e(xe, xe, xe, need_weights=need_weights)
        assert not np.allclose(out.detach().numpy(), eval_out.detach().numpy())
        if need_weights:  # dropped weights are 0, kept ones are scaled by 2
            assert (weights.detach().numpy() == 0).any()


@pytest.mark.parametrize("need_weights", [True, False])
def test_dropout_one_drops_every_weight_like_torch(need_weights):
    e, t = mha(dropout=1.0)
    x = rand(L, N, E)
    compare(e, t, (x, x, x), {"need_weights": need_weights})


def test_functional_form_matches_torch():
    e, t = mha(add_bias_kv=True)
    q, kv = rand(L, N, E, seed=0), rand(S, N, E, seed=1)
    kpm = padding()
    args = ("in_proj_weight", "in_proj_bias", "bias_k", "bias_v")
    outs = []
    for lib, layer, mod in ((ember, e, ember.nn), (torch, t, torch.nn.functional)):
        fn = multi_head_attention_forward if lib is ember else mod.multi_head_attention_forward
        params = [getattr(layer, a) for a in args]
        outs.append(fn(lib.tensor(q), lib.tensor(kv), lib.tensor(kv), E, H, *params, True,
                       0.0, layer.out_proj.weight, layer.out_proj.bias, training=False,
                       key_padding_mask=lib.tensor(kpm)))
    for i in range(2):
        assert_close(outs[0][i], outs[1][i], "float64", f"output {i}")


def test_merge_masks_matches_torch():
    e, t = mha(batch_first=True)
    x = rand(N, L, E)
    kpm, attn = additive(padding(s=L)), additive(forbidden(L, L))
    for a, k in ((attn, None), (None, kpm), (attn, kpm), (None, None),
                 (additive(forbidden(N * H, L, L)), kpm)):
        (ea, ta), (ek, tk) = both(a), both(k)
        e_mask, e_type = e.merge_masks(ea, ek, ember.tensor(x))
        t_mask, t_type = t.merge_masks(ta, tk, torch.tensor(x))
        assert e_type == t_type
        assert (e_mask is None) == (t_mask is None)
        if t_mask is not None:
            np.testing.assert_array_equal(e_mask.numpy(), t_mask.numpy())


def test_state_dict_keys_and_repr_match_torch():
    for kwargs in ({}, {"kdim": 3, "vdim": 5, "add_bias_kv": True}, {"bias": False},
                   {"add_zero_attn": True, "batch_first": True}):
        e = ember.nn.MultiheadAttention(E, H, **kwargs)
        t = torch.nn.MultiheadAttention(E, H, **kwargs)
        assert list(e.state_dict()) == list(t.state_dict())
        assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
        for (name, ep), (_, tp) in zip(e.state_dict().items(), t.state_dict().items()):
            assert tuple(ep.shape) == tuple(tp.shape), name
        assert repr(e) == repr(t)
        assert isinstance(e.out_proj, ember.nn.Linear)
    for name in ("embed_dim", "kdim", "vdim", "num_heads", "head_dim", "dropout",
                 "batch_first", "add_zero_attn", "_qkv_same_embed_dim"):
        assert getattr(e, name) == getattr(t, name), name


def test_initialization_follows_torch():
    e = ember.nn.MultiheadAttention(64, 4, add_bias_kv=True)
    assert np.all(e.in_proj_bias.detach().numpy() == 0)
    assert np.all(e.out_proj.bias.detach().numpy() == 0)
    w = e.in_proj_weight.detach().numpy()
    bound = np.sqrt(6.0 / (64 + 192))  # xavier_uniform_ on (3E, E)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert e.bias_k.std().item() > 0


def test_deepcopy_gives_independent_parameters():
    e = ember.nn.MultiheadAttention(E, H)
    c = copy.deepcopy(e)
    assert repr(c) == repr(e)
    np.testing.assert_array_equal(c.in_proj_weight.detach().numpy(),
                                  e.in_proj_weight.detach().numpy())
    with ember.no_grad():
        c.in_proj_weight.fill_(0.0)
    assert e.in_proj_weight.detach().numpy().any()


def test_constructor_errors_match_torch():
    for lib in (ember, torch):
        with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
            lib.nn.MultiheadAttention(0, 2)
        with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
            lib.nn.MultiheadAttention(10, 3)


@pytest.mark.parametrize("case", ["causal_without_mask", "mask_2d_shape", "mask_3d_shape",
                                  "int_mask", "key_dims", "padding_shape", "query_dims",
                                  "embed_dim", "kv_shapes"])
def test_forward_errors_match_torch(case):
    x, kv = rand(L, N, E), rand(S, N, E)
    kwargs, inputs = {}, (x, kv, kv)
    error = AssertionError
    if case == "causal_without_mask":
        kwargs, error = {"is_causal": True}, RuntimeError
    elif case == "mask_2d_shape":
        kwargs, error = {"attn_mask": forbidden(L, L)}, RuntimeError
    elif case == "mask_3d_shape":
        kwargs, error = {"attn_mask": forbidden(H, L, S)}, RuntimeError
    elif case == "int_mask":
        kwargs = {"key_padding_mask": padding().astype(np.int64)}
    elif case == "key_dims":
        inputs = (x, kv[0], kv[0])
    elif case == "padding_shape":
        kwargs = {"key_padding_mask": padding(s=S - 1)}
    elif case == "query_dims":
        inputs = (x[None], kv[None], kv[None])
    elif case == "embed_dim":
        inputs = (x[..., :4], kv[..., :4], kv[..., :4])
    elif case == "kv_shapes":
        inputs = (x, kv, kv[:-1])
    messages = []
    for lib in (ember, torch):
        layer = lib.nn.MultiheadAttention(E, H).double()
        e_kw = {k: lib.tensor(v) for k, v in kwargs.items() if isinstance(v, np.ndarray)}
        e_kw.update({k: v for k, v in kwargs.items() if not isinstance(v, np.ndarray)})
        with pytest.raises(error) as info:
            layer(*(lib.tensor(a) for a in inputs), **e_kw)
        messages.append(str(info.value))
    assert messages[0] == messages[1].replace("torch.Size", "ember.Size")


def test_mismatched_mask_types_warn_like_torch():
    for lib in (ember, torch):
        layer = lib.nn.MultiheadAttention(E, H).double()
        x = lib.tensor(rand(L, N, E))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            layer(x, x, x, key_padding_mask=lib.tensor(padding(s=L)),
                  attn_mask=lib.tensor(additive(forbidden(L, L))))
        assert any("Support for mismatched key_padding_mask and attn_mask is deprecated"
                   in str(w.message) for w in caught), lib.__name__


@pytest.mark.parametrize("need_weights", [True, False])
def test_gradients_reach_float_masks(need_weights):
    e, t = mha()
    x, attn, kpm = rand(L, N, E), rand(L, L, seed=5), rand(N, L, seed=6)
    grads = []
    for lib, layer in ((ember, e), (torch, t)):
        xx = lib.tensor(x)
        masks = lib.tensor(attn, requires_grad=True), lib.tensor(kpm, requires_grad=True)
        out = layer(xx, xx, xx, attn_mask=masks[0], key_padding_mask=masks[1],
                    need_weights=need_weights)[0]
        out.sum().backward()
        grads.append([m.grad for m in masks])
    for what, eg, tg in zip(("attn_mask", "key_padding_mask"), *grads):
        assert_close(eg, tg, "float64", f"gradient of {what}")


def _op_names(tensor):
    """The class names of every node behind ``tensor``."""
    seen, todo, names = set(), [tensor.grad_fn], []
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.append(type(node).__name__)
        todo.extend(n for n, _ in getattr(node, "next_functions", ()))
    return names


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("masks", ["causal", "padding", "both", "none"])
def test_self_attention_runs_as_one_packed_op(kernels, batch_first, masks):
    """Self-attention without weights takes the packed path (heads as views) in both
    kernel settings, with every mask, and matches PyTorch in values and gradients."""
    e, t = mha("float32", batch_first=batch_first)
    x = seq(N, S, E, batch_first, seed=0).astype("float32")
    causal = np.triu(np.ones((S, S), dtype=bool), 1)
    kwargs = {"need_weights": False}
    if masks in ("causal", "both"):
        kwargs.update(attn_mask=causal, is_causal=True)
    if masks in ("padding", "both"):
        kwargs["key_padding_mask"] = padding()
    compare(e, t, (x, x, x), kwargs, dtype="float32")
    xe = ember.tensor(x, requires_grad=True)
    out = e(xe, xe, xe, **{k: ember.tensor(v) if isinstance(v, np.ndarray) else v
                           for k, v in kwargs.items()})[0]
    names = _op_names(out)
    assert "PackedAttention" in names and "Attention" not in names


def test_self_attention_double_backward_matches_torch():
    e, t = mha(batch_first=True)
    x = rand(N, S, E, seed=0)
    c = rand(N, S, E, seed=9)
    causal = np.triu(np.ones((S, S), dtype=bool), 1)
    results, out_e = [], None
    for lib, layer in ((ember, e), (torch, t)):
        xx = lib.tensor(x, requires_grad=True)
        # PyTorch's fused kernel has no double backward; its explicit path (need_weights)
        # computes the same function.
        out = layer(xx, xx, xx, attn_mask=lib.tensor(causal), is_causal=True,
                    key_padding_mask=lib.tensor(padding(N, S)), need_weights=lib is torch)[0]
        out_e = out if lib is ember else out_e
        (gx,) = lib.autograd.grad((out * out).sum(), xx, create_graph=True)
        weight = layer.in_proj_weight
        results.append(lib.autograd.grad((gx * lib.tensor(c)).sum(), (xx, weight)))
    for what, eg, tg in zip(("input", "in_proj_weight"), *results):
        assert_close(eg, tg, "float64", f"second derivative w.r.t. {what}")
    assert "PackedAttention" in _op_names(out_e)
