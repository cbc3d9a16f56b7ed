"""The ImageNet ResNets (18, 34, 50) and the CIFAR ResNets (8, 20, 56) against their torch
references: structure, initialization, training step and eval outputs."""

import numpy as np
import pytest
import torch

from ember import models
from ember.models.resnet import BasicBlock, Bottleneck, ResNet
from tests.models import reference as ref
from tests.models.check import (
    assert_same_init,
    assert_same_structure,
    compare_eval,
    compare_training,
    copy_weights,
)

CIFAR = {"resnet8": (1, 78_042), "resnet20": (3, 272_474), "resnet56": (9, 855_770)}


@pytest.mark.parametrize("name", sorted(CIFAR))
def test_cifar_resnet_matches_reference(name):
    n, count = CIFAR[name]
    torch.manual_seed(0)
    t_model, e_model = ref.CifarResNet(n), getattr(models, name)()
    assert_same_structure(e_model, t_model, known_count=count)
    assert_same_init(e_model, t_model)
    copy_weights(e_model, t_model)
    out = compare_training(e_model, t_model, (2, 3, 32, 32))
    assert out.shape == (2, 10)
    compare_eval(e_model, t_model, (1, 3, 32, 32), seed=7)


def test_resnet18_matches_reference():
    torch.manual_seed(0)
    t_model = ref.ResNet(ref.BasicBlock, [2, 2, 2, 2])
    e_model = models.resnet18()
    assert_same_structure(e_model, t_model, known_count=11_689_512)
    assert_same_init(e_model, t_model)
    copy_weights(e_model, t_model)
    out = compare_training(e_model, t_model, (2, 3, 64, 64))
    assert out.shape == (2, 1000)
    compare_eval(e_model, t_model, (1, 3, 64, 64), seed=7)


def test_resnet34_matches_reference():
    torch.manual_seed(0)
    t_model = ref.ResNet(ref.BasicBlock, [3, 4, 6, 3], num_classes=10)
    e_model = models.resnet34(num_classes=10)
    assert_same_structure(e_model, t_model)
    assert sum(p.numel() for p in e_model.parameters()) == 21_797_672 - 513 * 990
    copy_weights(e_model, t_model)
    compare_eval(e_model, t_model, (1, 3, 32, 32))


def test_resnet50_matches_reference():
    torch.manual_seed(0)
    t_model = ref.ResNet(ref.Bottleneck, [3, 4, 6, 3])
    e_model = models.resnet50()
    assert_same_structure(e_model, t_model, known_count=25_557_032)
    assert_same_init(e_model, t_model)
    copy_weights(e_model, t_model)
    out = compare_training(e_model, t_model, (2, 3, 64, 64))
    assert out.shape == (2, 1000)
    compare_eval(e_model, t_model, (1, 3, 32, 32), seed=7)


def test_grouped_dilated_bottleneck_resnet_matches_reference():
    # ResNeXt-style groups and width, dilation instead of the last two strides, on a
    # one-block-per-stage network (the options of resnet18/34/50, cheaply).
    kwargs = {"num_classes": 5, "groups": 4, "width_per_group": 16,
              "replace_stride_with_dilation": [False, True, True]}
    torch.manual_seed(0)
    t_model = ref.ResNet(ref.Bottleneck, [1, 1, 1, 1], **kwargs)
    e_model = ResNet(Bottleneck, [1, 1, 1, 1], **kwargs)
    assert_same_structure(e_model, t_model)
    assert e_model.layer4[0].conv2.dilation == (2, 2) and e_model.dilation == 4
    assert e_model.layer3[0].conv2.stride == (1, 1)
    copy_weights(e_model, t_model)
    compare_training(e_model, t_model, (2, 3, 32, 32))


@pytest.mark.parametrize("block, last_norm", [(BasicBlock, "bn2"), (Bottleneck, "bn3")])
def test_zero_init_residual(block, last_norm):
    model = ResNet(block, [1, 1, 1, 1], num_classes=3, zero_init_residual=True)
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        np.testing.assert_array_equal(getattr(layer[0], last_norm).weight.detach().numpy(), 0)
        np.testing.assert_array_equal(layer[0].bn1.weight.detach().numpy(), 1)


def test_invalid_options_raise_like_torchvision():
    with pytest.raises(ValueError, match="replace_stride_with_dilation should be None or a"):
        ResNet(BasicBlock, [1, 1, 1, 1], replace_stride_with_dilation=[True])
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1"):
        ResNet(BasicBlock, [1, 1, 1, 1], groups=2)
    with pytest.raises(NotImplementedError, match="Dilation > 1 not supported"):
        ResNet(BasicBlock, [1, 1, 1, 2], replace_stride_with_dilation=[False, False, True])
