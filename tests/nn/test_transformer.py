"""Transformer layers, stacks and the full model against torch with copied weights:
outputs and the gradients of inputs and every parameter, state-dict keys, reprs."""

import copy
import warnings

import numpy as np
import pytest
import torch

import ember
from tests.nn.attention_check import assert_close, compare, randomized

D, HEADS, FF, N, S, T = 8, 2, 16, 3, 5, 4


def rand(*shape, seed=0, dtype="float64"):
    return np.random.default_rng(seed).uniform(-1, 1, shape).astype(dtype)


def seq(length, batch_first, seed, n=N, dtype="float64"):
    shape = (n, length, D) if batch_first else (length, n, D)
    return rand(*shape, seed=seed, dtype=dtype)


def padding(length, seed=1):
    mask = np.random.default_rng(seed).random((N, length)) < 0.4
    mask[:, 0] = False
    return mask


def causal(length, kind="float"):
    upper = np.triu(np.ones((length, length), dtype=bool), 1)
    return upper if kind == "bool" else np.where(upper, -np.inf, 0.0)


def pair(name, *args, dtype="float64", seed=7, **kwargs):
    """``(ember layer, torch layer)`` built alike, with the same random weights."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's nested-tensor fast-path notices
        t = _build(torch, name, *args, **kwargs)
    return randomized(_build(ember, name, *args, **kwargs), t, dtype, seed)


def _build(lib, name, *args, **kwargs):
    kwargs = {k: (v(lib) if callable(v) and k.endswith("_fn") else v) for k, v in kwargs.items()}
    if "activation_fn" in kwargs:
        kwargs["activation"] = kwargs.pop("activation_fn")
    if name in ("TransformerEncoder", "TransformerDecoder"):
        layer_name, layers, norm = args
        layer = getattr(lib.nn, layer_name)(D, HEADS, FF, **kwargs)
        return getattr(lib.nn, name)(layer, layers, lib.nn.LayerNorm(D) if norm else None)
    return getattr(lib.nn, name)(*args, **kwargs)


LAYER_OPTIONS = [
    {"norm_first": False, "activation": "relu"},
    {"norm_first": True, "activation": "relu"},
    {"norm_first": False, "activation": "gelu", "batch_first": True},
    {"norm_first": True, "activation": "gelu", "batch_first": True},
]


@pytest.mark.parametrize("options", LAYER_OPTIONS)
@pytest.mark.parametrize("masks", ["none", "bool", "float"])
def test_encoder_layer(options, masks):
    e, t = pair("TransformerEncoderLayer", D, HEADS, FF, dropout=0.0, **options)
    x = seq(S, options.get("batch_first", False), seed=0)
    kwargs = {}
    if masks != "none":
        kwargs = {"src_mask": causal(S, masks), "src_key_padding_mask": padding(S)}
        if masks == "float":
            kwargs["src_key_padding_mask"] = np.where(padding(S), -np.inf, 0.0)
    compare(e, t, (x,), kwargs)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_is_causal_and_3d_mask(norm_first):
    e, t = pair("TransformerEncoderLayer", D, HEADS, FF, dropout=0.0, norm_first=norm_first,
                batch_first=True)
    x = seq(S, True, seed=0)
    compare(e, t, (x,), {"src_mask": causal(S), "is_causal": True})
    mask = np.random.default_rng(3).random((N * HEADS, S, S)) < 0.3
    mask[..., 0] = False
    compare(e, t, (x,), {"src_mask": mask})


@pytest.mark.parametrize("activation", ["relu_module", "gelu_module", "tanh_function"])
def test_encoder_layer_callable_activation(activation):
    def make(lib):
        if activation == "relu_module":
            return lib.nn.ReLU()
        if activation == "gelu_module":
            return lib.nn.GELU(approximate="tanh")
        return lib.tanh

    e, t = pair("TransformerEncoderLayer", D, HEADS, FF, dropout=0.0, activation_fn=make)
    assert e.activation_relu_or_gelu == t.activation_relu_or_gelu
    assert repr(e) == repr(t)
    compare(e, t, (seq(S, False, seed=0),))


@pytest.mark.filterwarnings("ignore:Support for mismatched")  # float src_mask, bool padding
def test_encoder_layer_unbatched_and_float32():
    e, t = pair("TransformerEncoderLayer", D, HEADS, FF, dropout=0.0, norm_first=True)
    compare(e, t, (rand(S, D),), {"src_mask": causal(S), "src_key_padding_mask": padding(S)[0]})
    e, t = pair("TransformerEncoderLayer", D, HEADS, FF, dropout=0.0, batch_first=True,
                dtype="float32")
    x = seq(S, True, seed=0, dtype="float32")
    compare(e, t, (x,), {"src_mask": causal(S, "bool"), "src_key_padding_mask": padding(S)},
            dtype="float32")


def test_encoder_layer_no_bias():
    e, t = pair("TransformerEncoderLayer", D, HEADS, FF, dropout=0.0, bias=False)
    assert e.norm1.bias is None and e.linear1.bias is None
    compare(e, t, (seq(S, False, seed=0),), {"src_mask": causal(S)})


@pytest.mark.parametrize("options", LAYER_OPTIONS)
@pytest.mark.parametrize("masks", ["none", "bool", "float"])
def test_decoder_layer(options, masks):
    e, t = pair("TransformerDecoderLayer", D, HEADS, FF, dropout=0.0, **options)
    batch_first = options.get("batch_first", False)
    tgt, memory = seq(T, batch_first, seed=0), seq(S, batch_first, seed=1)
    kwargs = {}
    if masks != "none":
        memory_mask = np.random.default_rng(5).random((T, S)) < 0.3
        memory_mask[:, 0] = False
        kwargs = {"tgt_mask": causal(T, masks), "tgt_key_padding_mask": padding(T, seed=2),
                  "memory_key_padding_mask": padding(S, seed=3), "memory_mask": memory_mask,
                  "tgt_is_causal": True}
        if masks == "float":
            for k in ("tgt_key_padding_mask", "memory_key_padding_mask", "memory_mask"):
                kwargs[k] = np.where(kwargs[k], -np.inf, 0.0)
    compare(e, t, (tgt, memory), kwargs)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_stack(norm_first, batch_first):
    e, t = pair("TransformerEncoder", "TransformerEncoderLayer", 2, True, dropout=0.0,
                norm_first=norm_first, batch_first=batch_first, activation="gelu")
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    x = seq(S, batch_first, seed=0)
    compare(e, t, (x,), {"mask": causal(S)})  # detected as causal
    compare(e, t, (x,), {"mask": causal(S, "bool"), "src_key_padding_mask": padding(S)})
    compare(e, t, (x,), {"mask": causal(S), "is_causal": False})


def test_encoder_stack_without_norm_unbatched():
    e, t = pair("TransformerEncoder", "TransformerEncoderLayer", 3, False, dropout=0.0)
    assert e.norm is None
    compare(e, t, (rand(S, D),), {"src_key_padding_mask": padding(S)[1]})


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_stack(norm_first, batch_first):
    e, t = pair("TransformerDecoder", "TransformerDecoderLayer", 2, True, dropout=0.0,
                norm_first=norm_first, batch_first=batch_first)
    tgt, memory = seq(T, batch_first, seed=0), seq(S, batch_first, seed=1)
    compare(e, t, (tgt, memory), {"tgt_mask": causal(T)})
    compare(e, t, (tgt, memory), {"tgt_mask": causal(T, "bool"),
                                  "tgt_key_padding_mask": padding(T),
                                  "memory_key_padding_mask": padding(S, seed=4)})


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer(batch_first, norm_first):
    e, t = pair("Transformer", D, HEADS, 2, 1, FF, dropout=0.0, batch_first=batch_first,
                norm_first=norm_first, activation="gelu")
    src, tgt = seq(S, batch_first, seed=0), seq(T, batch_first, seed=1)
    compare(e, t, (src, tgt), {"tgt_mask": causal(T)})
    compare(e, t, (src, tgt), {"src_mask": causal(S, "bool"), "tgt_mask": causal(T, "bool"),
                               "src_key_padding_mask": padding(S),
                               "tgt_key_padding_mask": padding(T, seed=2),
                               "memory_key_padding_mask": padding(S)})


def test_transformer_unbatched_float32_no_bias():
    e, t = pair("Transformer", D, HEADS, 1, 1, FF, dropout=0.0)
    compare(e, t, (rand(S, D), rand(T, D, seed=1)), {"tgt_mask": causal(T)})
    e, t = pair("Transformer", D, HEADS, 1, 2, FF, dropout=0.0, bias=False, dtype="float32",
                batch_first=True)
    src, tgt = seq(S, True, 0, dtype="float32"), seq(T, True, 1, dtype="float32")
    # Two decoder layers in float32: sums over cancelling terms lose a few more digits.
    compare(e, t, (src, tgt), {"tgt_mask": causal(T).astype(np.float32)}, dtype="float32",
            tol={"rtol": 1e-4, "atol": 1e-5})


def test_eval_mode_ignores_dropout():
    e, t = pair("Transformer", D, HEADS, 1, 1, FF, dropout=0.3)
    e.eval(), t.eval()
    compare(e, t, (seq(S, False, 0), seq(T, False, 1)), {"tgt_mask": causal(T)})
    e.train()
    src, tgt = ember.tensor(seq(S, False, 0)), ember.tensor(seq(T, False, 1))
    assert not np.allclose(e(src, tgt).detach().numpy(), e.eval()(src, tgt).detach().numpy())


def test_custom_encoder_and_decoder():
    def build(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            encoder = lib.nn.TransformerEncoder(
                lib.nn.TransformerEncoderLayer(D, HEADS, FF, 0.0), 1)
            decoder = lib.nn.TransformerDecoder(
                lib.nn.TransformerDecoderLayer(D, HEADS, FF, 0.0), 1)
            return lib.nn.Transformer(D, HEADS, custom_encoder=encoder, custom_decoder=decoder)

    e, t = randomized(build(ember), build(torch))
    assert e.encoder.norm is None
    compare(e, t, (seq(S, False, 0), seq(T, False, 1)))


def test_state_dict_keys_and_reprs_match_torch():
    makers = [
        lambda lib: lib.nn.TransformerEncoderLayer(D, HEADS, FF, activation="gelu",
                                                   norm_first=True),
        lambda lib: lib.nn.TransformerDecoderLayer(D, HEADS, bias=False, layer_norm_eps=1e-6),
        lambda lib: lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(D, HEADS), 3,
                                              lib.nn.LayerNorm(D)),
        lambda lib: lib.nn.TransformerDecoder(lib.nn.TransformerDecoderLayer(D, HEADS), 2),
        lambda lib: lib.nn.Transformer(D, HEADS, 2, 1, FF),
        lambda lib: lib.nn.Transformer(D, HEADS, 1, 1, FF, activation=lib.nn.GELU()),
    ]
    for make in makers:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = make(torch)
        e = make(ember)
        assert list(e.state_dict()) == list(t.state_dict())
        for (name, ev), (_, tv) in zip(e.state_dict().items(), t.state_dict().items()):
            assert tuple(ev.shape) == tuple(tv.shape), name
        assert repr(e) == repr(t)


def test_attributes_match_torch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.nn.Transformer(D, HEADS, 1, 1, FF, batch_first=True, norm_first=True)
    e = ember.nn.Transformer(D, HEADS, 1, 1, FF, batch_first=True, norm_first=True)
    assert (e.d_model, e.nhead, e.batch_first) == (t.d_model, t.nhead, t.batch_first)
    assert e.encoder.num_layers == t.encoder.num_layers
    assert e.encoder.mask_check == t.encoder.mask_check
    assert e.encoder.enable_nested_tensor == t.encoder.enable_nested_tensor
    layer_e, layer_t = e.encoder.layers[0], t.encoder.layers[0]
    assert layer_e.norm_first == layer_t.norm_first
    assert layer_e.activation_relu_or_gelu == layer_t.activation_relu_or_gelu
    assert layer_e.norm1.eps == layer_t.norm1.eps


def test_transformer_initialization_is_xavier_uniform():
    model = ember.nn.Transformer(16, 2, 1, 1, 32)
    w = model.encoder.layers[0].linear1.weight.detach().numpy()
    bound = np.sqrt(6.0 / (16 + 32))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    np.testing.assert_array_equal(model.decoder.norm.weight.detach().numpy(), np.ones(16))


def test_layers_are_independent_deep_copies():
    layer = ember.nn.TransformerEncoderLayer(D, HEADS, FF)
    encoder = ember.nn.TransformerEncoder(layer, 2)
    first, second = encoder.layers[0], encoder.layers[1]
    assert first is not layer and first is not second
    np.testing.assert_array_equal(first.linear1.weight.detach().numpy(),
                                  layer.linear1.weight.detach().numpy())
    with ember.no_grad():
        first.linear1.weight.fill_(0.0)
    assert second.linear1.weight.detach().numpy().any()
    assert layer.linear1.weight.detach().numpy().any()
    assert len(list(encoder.parameters())) == 2 * len(list(layer.parameters()))


@pytest.mark.parametrize("dtype", [None, "float64", "float32"])
def test_generate_square_subsequent_mask(dtype):
    sizes = (1, 4, 7)
    for sz in sizes:
        e_kw = {} if dtype is None else {"dtype": getattr(ember, dtype)}
        t_kw = {} if dtype is None else {"dtype": getattr(torch, dtype)}
        e = ember.nn.Transformer.generate_square_subsequent_mask(sz, **e_kw)
        t = torch.nn.Transformer.generate_square_subsequent_mask(sz, **t_kw)
        assert_close(e, t, "float64", f"mask {sz}")
    model = ember.nn.Transformer(D, HEADS, 1, 1, FF)
    np.testing.assert_array_equal(model.generate_square_subsequent_mask(3).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(3).numpy())


def test_errors_match_torch():
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
            lib.nn.TransformerEncoderLayer(D, HEADS, activation="tanh")
        with pytest.raises(RuntimeError, match="activation should be relu/gelu, not sigmoid"):
            lib.nn.TransformerDecoderLayer(D, HEADS, activation="sigmoid")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = lib.nn.Transformer(D, HEADS, 1, 1, FF)
        src, tgt = lib.tensor(rand(S, N, D)), lib.tensor(rand(T, N + 1, D))
        with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
            model(src, tgt)
        with pytest.raises(RuntimeError, match="feature number of src and tgt must be equal"):
            model(lib.tensor(rand(S, N, D + 2)), lib.tensor(rand(T, N, D + 2)))
        layer = lib.nn.TransformerDecoderLayer(D, HEADS, FF)
        with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal"):
            layer(lib.tensor(rand(T, N, D)), lib.tensor(rand(S, N, D)), tgt_is_causal=True)


def test_deepcopy_of_a_trained_model_keeps_gradients_separate():
    model = ember.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0)
    model(ember.tensor(rand(S, N, D, dtype="float32"))).sum().backward()
    clone = copy.deepcopy(model)
    for (name, p), (_, c) in zip(model.named_parameters(), clone.named_parameters()):
        assert c is not p and c.grad is not p.grad, name
        np.testing.assert_array_equal(c.grad.numpy(), p.grad.numpy())
