"""MobileNetV2 against its torch reference."""

import pytest
import torch

from ember import models
from ember.models.mobilenet import InvertedResidual, MobileNetV2
from tests.models import reference as ref
from tests.models.check import (
    assert_same_init,
    assert_same_structure,
    compare_eval,
    compare_training,
    copy_weights,
)


def test_mobilenet_v2_matches_reference():
    torch.manual_seed(0)
    t_model, e_model = ref.MobileNetV2(dropout=0.0), models.mobilenet_v2(dropout=0.0)
    assert_same_structure(e_model, t_model, known_count=3_504_872)
    assert_same_init(e_model, t_model)
    copy_weights(e_model, t_model)
    out = compare_training(e_model, t_model, (2, 3, 64, 64))
    assert out.shape == (2, 1000)
    compare_eval(e_model, t_model, (1, 3, 64, 64), seed=7)


def test_mobilenet_v2_width_multiplier():
    torch.manual_seed(0)
    t_model = ref.MobileNetV2(num_classes=10, width_mult=0.35)
    e_model = models.mobilenet_v2(num_classes=10, width_mult=0.35)
    assert_same_structure(e_model, t_model)
    assert e_model.features[1].conv[0][0].groups == 16  # 32 * 0.35 rounds up to 16
    copy_weights(e_model, t_model)
    compare_eval(e_model, t_model, (1, 3, 32, 32))


def test_mobilenet_v2_default_dropout_and_residuals():
    model = models.mobilenet_v2(num_classes=4)
    assert model.classifier[0].p == 0.2
    uses = [block.use_res_connect for block in model.features[1:-1]]
    assert uses == [False, False, True, False, True, True, False, True, True, True, False,
                    True, True, False, True, True, False]


def test_invalid_options_raise_like_torchvision():
    with pytest.raises(ValueError, match="stride should be 1 or 2 instead of 3"):
        InvertedResidual(8, 8, stride=3, expand_ratio=6)
    with pytest.raises(ValueError, match="inverted_residual_setting should be non-empty"):
        MobileNetV2(inverted_residual_setting=[[1, 16, 1]])
