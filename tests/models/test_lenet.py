"""LeNet-5 against its torch reference; the weights-argument and save/load checks that
every model shares are here too, run on the cheapest models."""

import numpy as np
import pytest
import torch

import ember
from ember import models
from tests.models import reference as ref
from tests.models.check import (
    assert_same_init,
    assert_same_structure,
    compare_eval,
    compare_training,
    copy_weights,
    random_input,
)

CONSTRUCTORS = ["alexnet", "inception_v3", "lenet5", "mobilenet_v2", "resnet8", "resnet18",
                "resnet20", "resnet34", "resnet50", "resnet56", "vgg11", "vgg11_bn", "vgg16",
                "vgg16_bn"]


def test_lenet5_matches_reference():
    torch.manual_seed(0)
    t_model, e_model = ref.LeNet5(), models.lenet5()
    assert_same_structure(e_model, t_model, known_count=61_706)
    assert_same_init(e_model, t_model)
    copy_weights(e_model, t_model)
    out = compare_training(e_model, t_model, (4, 1, 28, 28))
    assert out.shape == (4, 10)
    compare_eval(e_model, t_model, (2, 1, 28, 28), seed=5)


def test_lenet5_num_classes():
    model = models.lenet5(num_classes=3)
    assert model.classifier[4].weight.shape == (3, 84)
    assert models.lenet5(5).classifier[4].out_features == 5


@pytest.mark.parametrize("name", CONSTRUCTORS)
def test_pretrained_weights_are_refused(name):
    constructor = getattr(models, name)
    with pytest.raises(ValueError, match="does not download pretrained weights"):
        constructor(weights="DEFAULT")
    with pytest.raises(ValueError, match=rf"{name}\(pretrained=True\).*load_state_dict"):
        constructor(pretrained=True)


def test_weights_none_and_pretrained_false_are_accepted():
    model = models.lenet5(weights=None, pretrained=False)
    assert isinstance(model, models.LeNet5)
    assert isinstance(models.resnet8(weights=None, progress=False, pretrained=False),
                      models.CifarResNet)


@pytest.mark.parametrize("build", [models.lenet5, models.resnet8], ids=["lenet5", "resnet8"])
def test_state_dict_round_trip_through_save_and_load(tmp_path, build):
    ember.manual_seed(1)
    model = build()
    model.train()
    model(ember.tensor(random_input((4, 1 if build is models.lenet5 else 3, 28, 28))))
    path = tmp_path / "model.safetensors"
    ember.save(model.state_dict(), path)
    ember.manual_seed(2)
    fresh = build()
    fresh.load_state_dict(ember.load(path))
    for (key, a), (key2, b) in zip(model.state_dict().items(), fresh.state_dict().items(),
                                   strict=True):
        assert key == key2
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=key)
    x = ember.tensor(random_input((2, 1 if build is models.lenet5 else 3, 28, 28), seed=3))
    with ember.no_grad():
        np.testing.assert_array_equal(model.eval()(x).numpy(), fresh.eval()(x).numpy())


def test_weights_saved_from_torch_load_as_the_error_message_says(tmp_path):
    # The route the pretrained-weights error points to: torch's state dict written with
    # safetensors, read by ember.load, loaded by name.
    safetensors_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(3)
    t_model = ref.CifarResNet(1)
    t_model.train()(torch.randn(4, 3, 32, 32))  # running statistics that are not 0 and 1
    path = tmp_path / "resnet8.safetensors"
    safetensors_torch.save_file(t_model.state_dict(), str(path))
    e_model = models.resnet8()
    e_model.load_state_dict(ember.load(path))
    compare_eval(e_model, t_model, (2, 3, 32, 32))
