"""VGG-11 and VGG-16, with and without batch norm, against their torch references.

Each model has over 130 million parameters (the classifier's 25088×4096 layer), so each
is built once, by one test, and the references that only show their structure are built
on torch's meta device (no memory, no initialization)."""

import pytest
import torch

from ember import models
from ember.models.vgg import CFGS, make_layers
from tests.models import reference as ref
from tests.models.check import (
    assert_same_init,
    assert_same_structure,
    compare_eval,
    compare_training,
    copy_weights,
)

KNOWN = {"vgg11": ("A", False, 132_863_336), "vgg11_bn": ("A", True, 132_868_840),
         "vgg16": ("D", False, 138_357_544), "vgg16_bn": ("D", True, 138_365_992)}


def _reference(name, meta=False, **kwargs):
    cfg, batch_norm, _ = KNOWN[name]
    torch.manual_seed(0)
    with torch.device("meta" if meta else "cpu"):
        return ref.vgg(cfg, batch_norm, **kwargs)


def test_vgg16_bn_trains_and_matches_reference():
    # The heaviest model: one float32 training step and one eval pass, at 32×32 (the
    # last batch norms see 2×2 maps of two samples).
    t_model = _reference("vgg16_bn", dropout=0.0)
    e_model = models.vgg16_bn(dropout=0.0)
    assert_same_structure(e_model, t_model, known_count=KNOWN["vgg16_bn"][2])
    assert_same_init(e_model, t_model)
    copy_weights(e_model, t_model)
    out = compare_training(e_model, t_model, (2, 3, 32, 32), dtype="float32")
    assert out.shape == (2, 1000)
    compare_eval(e_model, t_model, (1, 3, 32, 32), seed=7)


def test_vgg11_matches_reference():
    # init_weights=False skips drawing 120 million normal numbers (vgg16_bn checks the
    # initialization); the layers' own defaults are checked instead.
    t_model = _reference("vgg11", init_weights=False)
    e_model = models.vgg11(init_weights=False)
    assert_same_structure(e_model, t_model, known_count=KNOWN["vgg11"][2])
    assert_same_init(e_model, t_model)
    copy_weights(e_model, t_model)
    out = compare_eval(e_model, t_model, (1, 3, 32, 32))
    assert out.shape == (1, 1000)


def test_vgg11_bn_has_torchvision_structure():
    e_model = models.vgg11_bn(init_weights=False)
    assert_same_structure(e_model, _reference("vgg11_bn", meta=True),
                          known_count=KNOWN["vgg11_bn"][2])


def test_vgg16_options_and_structure():
    e_model = models.vgg16(num_classes=10, init_weights=False, dropout=0.3)
    t_model = _reference("vgg16", meta=True, num_classes=10, init_weights=False, dropout=0.3)
    assert_same_structure(e_model, t_model, known_count=KNOWN["vgg16"][2] - 990 * 4097)
    assert [e_model.classifier[i].p for i in (2, 5)] == [0.3, 0.3]
    # Without init_weights the layers keep their own initialization: nonzero biases.
    assert float(e_model.classifier[6].bias.detach().abs().max()) > 0


@pytest.mark.parametrize("cfg", ["A", "D"])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_make_layers_matches_reference(cfg, batch_norm):
    torch.manual_seed(0)
    t_features = ref.vgg_layers(ref.VGG_CFGS[cfg], batch_norm)
    e_features = make_layers(CFGS[cfg], batch_norm=batch_norm)
    assert_same_structure(e_features, t_features)
    assert_same_init(e_features, t_features)  # the layers' own defaults
