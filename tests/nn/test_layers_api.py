"""Every core layer exists in ember.nn with torch's constructor and forward signatures
(argument names, order, kinds and defaults), so torch code constructs them unchanged."""

import inspect

import pytest
import torch

import ember

LAYERS = [
    "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    "AlphaDropout", "AvgPool1d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
    "Bilinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
    "ConvTranspose3d", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "Embedding",
    "EmbeddingBag", "FeatureAlphaDropout", "Flatten", "GroupNorm", "Identity",
    "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LayerNorm", "Linear", "MaxPool1d",
    "MaxPool2d", "MaxUnpool1d", "MaxUnpool2d", "RMSNorm", "Unflatten", "Upsample",
    "UpsamplingBilinear2d", "UpsamplingNearest2d",
]


def _signature(fn):
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", LAYERS)
def test_constructor_and_forward_signatures_match_torch(name):
    e_cls, t_cls = getattr(ember.nn, name), getattr(torch.nn, name)
    assert _signature(e_cls.__init__) == _signature(t_cls.__init__)
    assert _signature(e_cls.forward) == _signature(t_cls.forward)
    assert issubclass(e_cls, ember.nn.Module) and name in ember.nn.__all__


@pytest.mark.parametrize("name", LAYERS)
def test_public_methods_of_torch_exist(name):
    t_cls = getattr(torch.nn, name)
    own = {m for m in ("reset_parameters", "reset_running_stats", "from_pretrained",
                       "extra_repr", "_conv_forward", "_output_padding") if hasattr(t_cls, m)}
    assert all(hasattr(getattr(ember.nn, name), m) for m in own)


def test_init_is_a_submodule_of_nn():
    from ember.nn import init

    assert init is ember.nn.init
    assert init.kaiming_uniform_.__module__ == "ember.nn.init"
