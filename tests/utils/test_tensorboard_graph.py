"""add_graph: the captured forward pass, read back from the event file as a GraphDef."""

import numpy as np
import pytest

import ember
import ember.nn as enn
import ember.nn.functional as EF
from ember.autograd.node import Observers
from ember.utils.tensorboard import SummaryWriter
from tests.utils.tb_read import accumulator

torch = pytest.importorskip("torch")
from torch.utils.tensorboard._pytorch_graph import graph as torch_graph

IO = {"IO Node", "Parameter", "Buffer", "Constant"}


def make_net(nn, F):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                                          nn.ReLU(inplace=True), nn.MaxPool2d(2))
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(4 * 4 * 4, 10))

        def forward(self, image):
            return F.log_softmax(self.classifier(self.features(image)), dim=1)

    return Net()


def logged_graph(tmp_path, model, inputs):
    with SummaryWriter(tmp_path) as w:
        w.add_graph(model, inputs)
    return accumulator(tmp_path).Graph()


def check_edges(graph):
    names = [n.name for n in graph.node]
    assert len(names) == len(set(names))
    for node in graph.node:
        for edge in node.input:
            assert edge.split(":")[0] in names, f"{node.name} reads the missing node {edge}"
    return {n.name: n for n in graph.node}


def shape(node):
    return [tuple(d.size for d in s.dim) for s in node.attr["_output_shapes"].list.shape]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit.trace, inside torch
def test_graph_of_a_cnn_has_torchs_module_scopes(tmp_path):
    model = make_net(enn, EF)
    model.classifier.train(False)  # a mixed state, restored afterwards
    x = ember.randn(2, 1, 8, 8)
    graph = logged_graph(tmp_path, model, x)
    nodes = check_edges(graph)
    ops = {name: n for name, n in nodes.items() if n.op not in IO}
    tnet = make_net(torch.nn, torch.nn.functional)
    tgraph, _ = torch_graph(tnet, torch.randn(2, 1, 8, 8))
    torch_scopes = {n.name.rsplit("/", 1)[0] for n in tgraph.node if n.op.startswith("aten::")}
    assert {name.rsplit("/", 1)[0] for name in ops} == torch_scopes
    assert "Net/Sequential[features]/Conv2d[0]" in torch_scopes

    conv = nodes["Net/Sequential[features]/Conv2d[0]/conv"]
    assert list(conv.input) == ["input/image", "Net/Sequential[features]/Conv2d[0]/weight",
                                "Net/Sequential[features]/Conv2d[0]/bias"]
    assert shape(conv) == [(2, 4, 8, 8)]
    assert nodes["Net/Sequential[features]/Conv2d[0]/weight"].op == "Parameter"
    assert shape(nodes["Net/Sequential[features]/Conv2d[0]/weight"]) == [(4, 1, 3, 3)]
    # ReLU(inplace=True) rewrites its input; the pool reads the relu's result.
    relu = [n for n in ops if n.startswith("Net/Sequential[features]/ReLU[2]/")]
    (pool,) = [n for n in ops.values() if n.name.startswith("Net/Sequential[features]/MaxPool")]
    assert pool.input[0] in relu
    (out,) = [n for n in graph.node if n.name.startswith("output/")]
    assert out.op == "IO Node" and shape(out) == [(2, 10)]
    assert nodes[out.input[0]].name.startswith("Net/")
    assert nodes["input/image"].op == "IO Node" and shape(nodes["input/image"]) == [(2, 1, 8, 8)]
    # The capture leaves no trace on the model.
    assert model.training and model.features.training and not model.classifier.training
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert Observers.active == ()


class Twice(enn.Module):
    """A shared layer, an op with two outputs, in-place updates and several inputs/outputs."""

    def __init__(self):
        super().__init__()
        self.fc = enn.Linear(3, 3)

    def forward(self, a, b):
        h = self.fc(self.fc(a))
        values, indices = h.max(dim=1)
        h.add_(1)
        h.mul_(2)
        return {"sum": h + b, "values": values, "indices": indices, "same": a}


def test_shared_layers_multi_output_ops_and_inplace_chains(tmp_path):
    a, b = ember.randn(4, 3), ember.randn(4, 3)
    graph = logged_graph(tmp_path, Twice(), (a, b))
    nodes = check_edges(graph)
    linears = [n for n in nodes if n.startswith("Twice/Linear[fc]/linear")]
    assert len(linears) == 2
    assert nodes[linears[1]].input[0] == linears[0]
    (maximum,) = [n for n in nodes.values() if n.op.lower().startswith("max")]
    assert len(shape(maximum)) == 2
    add, mul, add2 = (nodes[n] for n in ("Twice/add", "Twice/mul", "Twice/add_1"))
    assert add.input[0] == linears[1] and mul.input[0] == "Twice/add"
    assert list(add2.input) == ["Twice/mul", "input/b"]
    outputs = {n.name: n for n in graph.node if n.name.startswith("output/")}
    assert [o.input[0] for o in outputs.values()] == ["Twice/add_1", maximum.name,
                                                      f"{maximum.name}:1", "input/a"]


def test_a_failing_forward_leaves_no_hooks_and_no_observer(tmp_path):
    class Broken(enn.Module):
        def __init__(self):
            super().__init__()
            self.fc = enn.Linear(3, 2)

        def forward(self, x):
            return self.fc(x) @ ember.ones(5, 5)

    model = Broken()
    with SummaryWriter(tmp_path) as w, pytest.raises(Exception, match="matmul"):
        w.add_graph(model, ember.randn(4, 3))
    assert Observers.active == ()
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    assert model.training


def test_buffers_and_constants_created_in_forward(tmp_path):
    class Shift(enn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("scale", ember.full((2,), 3.0))

        def forward(self, x):
            return (x + ember.tensor([1.0, 2.0])) * self.scale

    nodes = check_edges(logged_graph(tmp_path, Shift(), ember.randn(3, 2)))
    constant = nodes["Shift/constant"]
    assert constant.op == "Constant" and shape(constant) == [(2,)]
    assert b"1.0, 2.0" in constant.attr["attr"].s
    assert list(nodes["Shift/add"].input) == ["input/x", "Shift/constant"]
    assert nodes["Shift/scale"].op == "Buffer"
    assert list(nodes["Shift/mul"].input) == ["Shift/add", "Shift/scale"]


def test_add_graph_needs_a_module(tmp_path):
    with SummaryWriter(tmp_path) as w, pytest.raises(TypeError, match="Module"):
        w.add_graph(lambda x: x, ember.randn(2))


def test_graph_matches_eager_output_shapes_for_a_transformer_layer(tmp_path):
    layer = enn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16,
                                        batch_first=True)
    x = ember.randn(2, 5, 8)
    graph = logged_graph(tmp_path, layer, x)
    nodes = check_edges(graph)
    (out,) = [n for n in graph.node if n.name.startswith("output/")]
    assert shape(out) == [tuple(layer(x).shape)]
    scopes = {n.rsplit("/", 1)[0] for n, node in nodes.items() if node.op not in IO}
    assert "TransformerEncoderLayer/MultiheadAttention[self_attn]" in scopes
    assert "TransformerEncoderLayer/Linear[linear1]" in scopes
    np.testing.assert_array_equal(layer.training, True)
