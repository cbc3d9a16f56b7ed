"""AlexNet against its torch reference (one test: the model has 61 million parameters)."""

import torch

from ember import models
from tests.models import reference as ref
from tests.models.check import (
    assert_same_init,
    assert_same_structure,
    compare_eval,
    compare_training,
    copy_weights,
)


def test_alexnet_matches_reference():
    torch.manual_seed(0)
    t_model, e_model = ref.AlexNet(dropout=0.0), models.alexnet(dropout=0.0)
    assert_same_structure(e_model, t_model, known_count=61_100_840)
    assert_same_init(e_model, t_model)
    copy_weights(e_model, t_model)
    # 63×63 is the smallest input: the last feature map is 1×1, pooled up to 6×6.
    out = compare_eval(e_model, t_model, (1, 3, 63, 63))
    assert out.shape == (1, 1000)
    out = compare_training(e_model, t_model, (2, 3, 63, 63), dtype="float32")
    assert out.shape == (2, 1000)


def test_alexnet_options():
    model = models.alexnet(num_classes=7)
    assert model.classifier[6].weight.shape == (7, 4096)
    assert [model.classifier[i].p for i in (0, 3)] == [0.5, 0.5]
