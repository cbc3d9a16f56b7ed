"""An error raised inside a module call names the failing module's path, its configuration
and its input shapes, and keeps its type, its message and the user's line."""

import sys
import traceback

import pytest
import torch

import ember
from ember import nn
from ember._errors import ShapeError

THIS_FILE = "test_module_errors.py"


def digits_net(lib, n_hidden=400):
    class DigitsNet(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = lib.nn.Sequential(lib.nn.Conv2d(1, 4, 3), lib.nn.ReLU(),
                                              lib.nn.Flatten())
            # classifier.0 takes 4 * 6 * 6 = 144 features; classifier.2 expects 400, not 256
            self.classifier = lib.nn.Sequential(lib.nn.Linear(144, 256), lib.nn.ReLU(),
                                                lib.nn.Linear(n_hidden, 120))

        def forward(self, x):
            return self.classifier(self.features(x))

    return DigitsNet()


def test_a_shape_mismatch_deep_inside_names_the_path_config_and_input():
    model = digits_net(ember)
    with pytest.raises(RuntimeError) as info:
        model(ember.randn(64, 1, 8, 8))
    message = str(info.value)
    config = repr(torch.nn.Linear(400, 120))
    assert message.startswith(
        f"in DigitsNet.classifier.2 ({config}), called with input of shape (64, 256): linear: ")
    assert THIS_FILE in message  # the user's own line stays
    assert message.count("called with") == 1
    assert type(info.value) is ShapeError


def test_the_exception_type_is_the_one_pytorch_raises():
    with pytest.raises(RuntimeError):
        digits_net(torch)(torch.randn(64, 1, 8, 8))
    with pytest.raises(RuntimeError):
        digits_net(ember)(ember.randn(64, 1, 8, 8))
    digits_net(ember, n_hidden=256)(ember.randn(2, 1, 8, 8))  # and the right model runs


def test_module_list_and_module_dict_paths():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(3)] + [nn.Linear(5, 2)])
            self.heads = nn.ModuleDict({"box": nn.Linear(3, 4), "cls": nn.Linear(2, 7)})

        def forward(self, x, head):
            for layer in self.layers[:3]:
                x = layer(x)
            return self.heads[head](x) if head != "deep" else self.layers[3](x)

    net = Net()
    with pytest.raises(RuntimeError, match=r"^in Net\.layers\.3 \(Linear\(in_features=5, "):
        net(ember.randn(2, 3), "deep")
    with pytest.raises(RuntimeError, match=r"^in Net\.heads\.cls \(Linear\(in_features=2, "
                                           r"out_features=7, bias=True\)\), called with "
                                           r"input of shape \(2, 3\): "):
        net(ember.randn(2, 3), "cls")
    assert net(ember.randn(2, 3), "box").shape == (2, 4)


def test_nested_sequentials_inside_a_custom_block():
    class Block(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.ff = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(),
                                    nn.Sequential(nn.LayerNorm(3), nn.Linear(3, width)))

        def forward(self, x):
            return x + self.ff(x)

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(Block(8), Block(8))

        def forward(self, x):
            return self.blocks(x)

    with pytest.raises(RuntimeError) as info:
        Encoder()(ember.randn(5, 8))
    config = repr(torch.nn.LayerNorm(3))  # the layer's configuration, as PyTorch prints it
    assert str(info.value).startswith(
        f"in Encoder.blocks.0.ff.2.0 ({config}), called with input of shape (5, 16): ")


def test_errors_raised_by_user_code_in_forward_get_the_path_too():
    class Check(nn.Module):
        def forward(self, x):
            if x.shape[-1] != 4:
                raise ValueError(f"expected 4 channels, got {x.shape[-1]}")
            return x

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 5), Check())

        def forward(self, x):
            return self.body(x)

    with pytest.raises(ValueError) as info:
        Net()(ember.randn(2, 3))
    assert str(info.value) == ("in Net.body.1 (Check), called with input of shape (2, 5): "
                               "expected 4 channels, got 5")
    assert type(info.value) is ValueError
    frames = traceback.extract_tb(info.value.__traceback__)
    assert frames[-1].line == 'raise ValueError(f"expected 4 channels, got {x.shape[-1]}")'


def test_a_layer_called_on_its_own_keeps_its_message():
    with pytest.raises(ValueError) as t_err:
        torch.nn.BatchNorm2d(3)(torch.zeros(2, 3))
    with pytest.raises(ValueError) as e_err:
        nn.BatchNorm2d(3)(ember.zeros(2, 3))
    assert str(e_err.value) == str(t_err.value)
    with pytest.raises(RuntimeError, match="^linear: "):
        nn.Linear(3, 4)(ember.randn(2, 5))


def test_several_inputs_are_all_described():
    class Pair(nn.Module):
        def forward(self, a, b, mask=None, scale=1.0):
            return a @ b

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.pair = Pair()

        def forward(self, a, b):
            return self.pair(a, b, mask=None, scale=0.5)

    with pytest.raises(RuntimeError) as info:
        Net()(ember.randn(2, 3), ember.randn(4, 5))
    assert str(info.value).startswith(
        "in Net.pair (Pair), called with inputs of shape (2, 3), (4, 5), mask=None and "
        "scale=0.5: matmul: ")


def test_exceptions_with_their_own_text_get_a_note():
    class Lookup(nn.Module):
        def forward(self, x):
            return {"a": x}["missing"]

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.table = Lookup()

        def forward(self, x):
            return self.table(x)

    with pytest.raises(KeyError) as info:
        Net()(ember.ones(1))
    assert str(info.value) == "'missing'"
    if sys.version_info >= (3, 11):
        assert info.value.__notes__ == ["in Net.table (Lookup), called with input of shape (1,)"]


def test_hooks_and_modules_outside_the_tree():
    stray = nn.Linear(7, 2)  # not registered: called from forward through a plain list

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.helpers = [stray]

        def forward(self, x):
            return self.helpers[0](self.fc(x))

    net = Net()
    net.fc.register_forward_hook(lambda m, args, out: out * 2)
    with pytest.raises(RuntimeError, match="^linear: "):  # no path to name
        net(ember.randn(2, 3))

    def bad_hook(module, args):
        raise TypeError("hook refused the input")

    net.fc.register_forward_pre_hook(bad_hook)
    with pytest.raises(TypeError, match=r"^in Net\.fc \(Linear\(in_features=3, out_features=3, "
                                        r"bias=True\)\), called with input of shape \(2, 3\): "
                                        r"hook refused the input$"):
        net(ember.randn(2, 3))


def test_control_flow_exceptions_are_left_alone():
    class Stop(nn.Module):
        def forward(self):
            raise StopIteration("done")

    with pytest.raises(StopIteration, match="^done$"):
        Stop()()


def test_a_shared_module_is_named_by_its_first_path():
    shared = nn.Linear(4, 4)
    model = nn.Sequential(nn.Sequential(shared), nn.Sequential(shared))
    with pytest.raises(RuntimeError, match=r"^in Sequential\.0\.0 \(Linear"):
        model(ember.randn(1, 3))
