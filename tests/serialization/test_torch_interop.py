"""Files move between PyTorch (through safetensors) and ember, both ways, bit-exactly."""

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import ember
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.serialization import load, save
from tests.serialization.helpers import bits

TORCH_DTYPES = [torch.float16, torch.float32, torch.float64, torch.uint8, torch.int8,
                torch.int16, torch.int32, torch.int64, torch.bool]


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                            torch.nn.ReLU())
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3)))


class Holder(Module):
    """An ember module that declares given parameters and buffers by name."""

    def __init__(self, params=(), buffers=(), **children):
        super().__init__()
        for name, shape in params:
            setattr(self, name, Parameter(ember.zeros(*shape)))
        for name, (shape, dtype) in buffers:
            self.register_buffer(name, ember.zeros(*shape, dtype=dtype))
        for name, child in children.items():
            setattr(self, name, child)


def ember_net():
    """TorchNet's parameter and buffer names and shapes, declared in ember."""
    bn = Holder([("weight", (4,)), ("bias", (4,))],
                [("running_mean", ((4,), ember.float32)), ("running_var", ((4,), ember.float32)),
                 ("num_batches_tracked", ((), ember.int64))])
    conv = Holder([("weight", (4, 3, 3, 3)), ("bias", (4,))])
    features = Holder(**{"0": conv, "1": bn})
    return Holder(features=features, head=Holder([("weight", (2, 4)), ("bias", (2,))]))


def trained_torch_state_dict():
    torch.manual_seed(0)
    net = TorchNet()
    net(torch.randn(5, 3, 6, 6)).sum().backward()  # running stats and counter move
    return net.state_dict()


def test_a_torch_state_dict_saved_by_safetensors_loads_into_an_ember_model(tmp_path):
    sd = trained_torch_state_dict()
    save_file(sd, str(tmp_path / "model.safetensors"))
    loaded = load(tmp_path / "model.safetensors")
    assert type(loaded) is dict and set(loaded) == set(sd)
    for name, value in sd.items():
        assert bits(loaded[name]) == bits(value), name
    model = ember_net()
    model.load_state_dict(loaded)  # strict: every name and shape matches
    mine = model.state_dict()
    assert set(mine) == set(sd)
    for name, value in sd.items():
        assert bits(mine[name]) == bits(value), name
    assert model.features._modules["1"].num_batches_tracked.item() == 1


@pytest.mark.parametrize("dtype", TORCH_DTYPES, ids=str)
def test_every_dtype_from_torch(tmp_path, dtype):
    torch.manual_seed(0)
    values = (torch.randn(3, 4) * 50).to(dtype)
    tensors = {"x": values, "scalar": values[0, 0].clone(), "empty": values[:0],
               "strided": values.t().contiguous()}
    save_file(tensors, str(tmp_path / "t.safetensors"))
    loaded = load(str(tmp_path / "t.safetensors"))
    for name, value in tensors.items():
        assert bits(loaded[name]) == bits(value)


def test_an_ember_state_dict_loads_in_torch(tmp_path):
    ember.manual_seed(0)
    sd = {}
    for i, dtype in enumerate([ember.float16, ember.float32, ember.float64, ember.uint8,
                               ember.int8, ember.int16, ember.int32, ember.int64, ember.bool]):
        base = (ember.randn(4, 3) * 50)
        sd[f"layer{i}.weight"] = base.to(dtype)
        sd[f"layer{i}.strided"] = base.to(dtype).t()  # saved from a non-contiguous view
    sd["scalar"] = ember.tensor(2.5)
    sd["empty"] = ember.zeros(0, 5, dtype=ember.int64)
    save(sd, tmp_path / "m.safetensors")
    from_torch = load_file(str(tmp_path / "m.safetensors"))
    assert set(from_torch) == set(sd)
    for name, value in sd.items():
        assert bits(from_torch[name]) == bits(value), name
    with safe_open(str(tmp_path / "m.safetensors"), framework="pt") as f:
        assert f.metadata()["format"] == "pt"


def test_torch_to_ember_to_torch_gives_the_same_model(tmp_path):
    sd = trained_torch_state_dict()
    save_file(sd, str(tmp_path / "a.safetensors"))
    model = ember_net()
    model.load_state_dict(load(tmp_path / "a.safetensors"))
    save(model.state_dict(), tmp_path / "b.safetensors")
    net = TorchNet()
    net.load_state_dict(load_file(str(tmp_path / "b.safetensors")))
    x = torch.randn(2, 3, 6, 6)
    net.eval()
    reference = TorchNet()
    reference.load_state_dict(sd)
    reference.eval()
    assert torch.equal(net(x), reference(x))


def test_a_nested_ember_checkpoint_is_readable_by_safetensors(tmp_path):
    w = ember.randn(2, 2)
    save({"model": {"fc.weight": w}, "optimizer": {"state": {0: {"exp_avg": w * 2}}},
          "epoch": 4}, tmp_path / "ckpt")
    tensors = load_file(str(tmp_path / "ckpt"))
    assert set(tensors) == {"model/fc.weight", "optimizer/state/0/exp_avg"}
    np.testing.assert_array_equal(tensors["optimizer/state/0/exp_avg"].numpy(), (w * 2).numpy())
