"""``ember.onnx.load`` on files PyTorch's own exporters write for the zoo models: outputs
equal to PyTorch's, gradients equal to PyTorch's, fine-tuning that lowers the loss, and
clear errors for files ember cannot or must not run."""

import functools
import importlib.util
import io
import itertools

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
import ember.onnx
from ember.onnx import UnsupportedOperatorError
from tests.models.check import assert_close
from tests.onnx.import_models import ZOO, build, ember_twin, export, torch_outputs

onnx = pytest.importorskip("onnx")
torch.set_num_threads(1)

# torch.onnx.export(dynamo=True) needs onnxscript and takes seconds per model: two models
# with it, every model with the TorchScript exporter.
DYNAMO = ["char_lstm", "gpt"]
HAS_ONNXSCRIPT = importlib.util.find_spec("onnxscript") is not None


@functools.cache
def _file_bytes(name, exporter, constant_folding):
    # Exports are the slow part (seconds with dynamo), and build() is deterministic, so
    # each file is written once per run.
    model, example = build(name)
    return export(model, example, exporter, **(
        {} if constant_folding else {"do_constant_folding": False}))


def _exported(name, exporter, tmp_path, constant_folding=True):
    """A fresh torch model, its input and the path of its exported ONNX file."""
    model, example = build(name)
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(_file_bytes(name, exporter, constant_folding))
    return model, example, path


def _assert_outputs_match(e_out, t_outs):
    e_outs = list(e_out) if isinstance(e_out, tuple) else [e_out]
    assert len(e_outs) == len(t_outs)
    for i, (e, t) in enumerate(zip(e_outs, t_outs, strict=True)):
        assert np.abs(t).max() > 1e-3, "a near-zero output would prove nothing"
        assert_close(e, torch.tensor(t), f"output {i}", rtol=1e-4, scale_tol=1e-5)


@pytest.mark.parametrize("exporter,name", [("torchscript", n) for n in ZOO] + [
    pytest.param("dynamo", n, marks=pytest.mark.skipif(not HAS_ONNXSCRIPT,
                                                       reason="needs onnxscript"))
    for n in DYNAMO])
def test_zoo_model_outputs_match_torch(tmp_path, exporter, name):
    model, example, path = _exported(name, exporter, tmp_path)
    loaded = ember.onnx.load(path)
    assert isinstance(loaded, ember.nn.Module)
    with ember.no_grad():
        e_out = loaded(ember.tensor(example.numpy()))
    _assert_outputs_match(e_out, torch_outputs(model, example))


def _match(e_value, t_params):
    """The torch parameter ``e_value`` was exported from, and whether it was transposed."""
    for name, p in t_params.items():
        t_value = p.detach().numpy()
        if t_value.shape == e_value.shape and np.array_equal(t_value, e_value):
            return name, False
        if t_value.ndim == 2 and t_value.T.shape == e_value.shape and np.array_equal(
                t_value.T, e_value):
            return name, True
    return None, False


def _loss_e(out, targets):
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), ember.tensor(targets).reshape(-1))


def _loss_t(out, targets):
    return torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]),
                                             torch.tensor(targets).reshape(-1))


@pytest.mark.parametrize("exporter,name", [
    ("torchscript", "lenet5"), ("torchscript", "resnet8"),
    pytest.param("dynamo", "gpt", marks=pytest.mark.skipif(not HAS_ONNXSCRIPT,
                                                           reason="needs onnxscript"))])
def test_gradients_of_loaded_parameters_match_torch(tmp_path, exporter, name):
    # Without constant folding the TorchScript exporter keeps batch norms (it would fold
    # them into the convolutions' weights, which torch has no gradients of).
    model, example, path = _exported(name, exporter, tmp_path,
                                     constant_folding=exporter != "torchscript")
    loaded = ember.onnx.load(path)
    t_out = model(example)
    targets = np.random.default_rng(1).integers(0, t_out.shape[-1], t_out.shape[:-1])
    _loss_t(t_out, targets).backward()
    _loss_e(loaded(ember.tensor(example.numpy())), targets).backward()
    t_params = dict(model.named_parameters())
    matched = set()
    for key, param in loaded.named_parameters():
        t_name, transposed = _match(param.detach().numpy(), t_params)
        if t_name is None:
            continue  # a constant the exporter folded (e.g. GPT's position table)
        matched.add(t_name)
        t_grad = t_params[t_name].grad.T if transposed else t_params[t_name].grad
        assert param.grad is not None, key
        assert_close(param.grad, t_grad, f"gradient of {key} ({t_name})", rtol=1e-3,
                     scale_tol=1e-4)
    # The weights that reach the file unchanged (all but folded ones) are all checked.
    assert len(matched) >= 0.75 * len(t_params), sorted(set(t_params) - matched)


@pytest.mark.parametrize("name,lr", [("lenet5", 0.1), ("char_lstm", 2.0)])
def test_fine_tuning_lowers_the_loss(tmp_path, name, lr):
    model, example, path = _exported(name, "torchscript", tmp_path)
    loaded = ember.onnx.load(path)
    x = ember.tensor(example.numpy())
    out = loaded(x)
    out = out[0] if isinstance(out, tuple) else out
    targets = np.random.default_rng(2).integers(0, out.shape[-1], out.shape[:-1])
    optimizer = ember.optim.SGD(loaded.parameters(), lr=lr)
    losses = []
    for _ in range(5):
        out = loaded(x)
        loss = _loss_e(out[0] if isinstance(out, tuple) else out, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(b < a for a, b in itertools.pairwise(losses)), losses
    assert losses[-1] < 0.97 * losses[0], losses
    before = dict(model.named_parameters())["classifier.4.weight" if name == "lenet5" else
                                            "embedding.weight"].detach().numpy()
    key = loaded.initializer_names["classifier.4.weight" if name == "lenet5" else
                                   "embedding.weight"]
    assert not np.array_equal(loaded.state_dict()[key].numpy(), before)


def test_parameters_keep_the_exported_names(tmp_path):
    model, example, path = _exported("lenet5", "torchscript", tmp_path)
    loaded = ember.onnx.load(path)
    assert [k for k, _ in loaded.named_parameters()] == [k for k, _ in
                                                          model.named_parameters()]
    assert loaded.initializer_names["features.0.weight"] == "features.0.weight"
    # So a torch state dict loads by name, and the module then computes torch's outputs.
    torch.manual_seed(5)
    fresh, _ = build("lenet5", seed=5)
    loaded.load_state_dict({k: ember.tensor(v.numpy()) for k, v in fresh.state_dict().items()})
    with ember.no_grad():
        _assert_outputs_match(loaded(ember.tensor(example.numpy())),
                              torch_outputs(fresh, example))


def test_batch_norm_statistics_are_buffers_and_integers_are_not_parameters(tmp_path):
    _, _, path = _exported("resnet8", "torchscript", tmp_path, constant_folding=False)
    loaded = ember.onnx.load(path)
    buffers = dict(loaded.named_buffers())
    assert "bn1.running_mean" in buffers and "bn1.running_var" in buffers
    assert "bn1.running_mean" not in dict(loaded.named_parameters())
    assert all(p.dtype.is_floating_point for p in loaded.parameters())


def test_weights_in_an_external_data_file(tmp_path):
    model, example, path = _exported("lenet5", "torchscript", tmp_path)
    proto = onnx.load(path)
    external = tmp_path / "external.onnx"
    onnx.save_model(proto, external, save_as_external_data=True, location="weights.bin",
                    size_threshold=0)
    assert (tmp_path / "weights.bin").stat().st_size > 200_000
    with ember.no_grad():
        _assert_outputs_match(ember.onnx.load(external)(ember.tensor(example.numpy())),
                              torch_outputs(model, example))
    with pytest.raises(ValueError, match="external data file: load the model from its path"):
        ember.onnx.load(external.read_bytes())


def test_symbolic_batch_dimension_accepts_any_batch(tmp_path):
    model, example = build("lenet5")
    data = export(model, example, input_names=["x"], output_names=["logits"],
                  dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})
    loaded = ember.onnx.load(data)
    assert loaded.input_names == ["x"] and loaded.output_names == ["logits"]
    bigger = torch.tensor(np.random.default_rng(3).standard_normal((5, 1, 28, 28)),
                          dtype=torch.float32)
    with ember.no_grad():
        _assert_outputs_match(loaded(ember.tensor(bigger.numpy())),
                              torch_outputs(model, bigger))


@pytest.mark.parametrize("name", ["lenet5", "char_lstm"])
def test_round_trip_through_ember_export(name):
    model, example = ember_twin(name)
    buffer = io.BytesIO()
    ember.onnx.export(model, example, buffer)
    loaded = ember.onnx.load(buffer.getvalue())
    with ember.no_grad():
        expected = model(example)
        got = loaded(example)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    # CharLSTM returns (logits, (h, c)): the file's outputs are the flattened leaves.
    flat = [expected[0], *expected[1]] if name == "char_lstm" else list(expected)
    assert len(got) == len(flat)
    for e, g in zip(flat, got, strict=True):
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-5, atol=1e-6)


# ---- errors --------------------------------------------------------------------------


def test_inputs_are_checked_against_the_graph(tmp_path):
    _, example, path = _exported("lenet5", "torchscript", tmp_path)
    loaded = ember.onnx.load(path)
    name = loaded.input_names[0]
    with pytest.raises(TypeError, match=rf"input '{name}'.*float32.*float64"):
        loaded(ember.tensor(example.numpy().astype(np.float64)))
    with pytest.raises(ValueError, match=rf"input '{name}'.*\(2, 1, 28, 28\).*\(2, 1, 27, 28\)"):
        loaded(ember.zeros(2, 1, 27, 28))
    with pytest.raises(TypeError, match=r"takes 1 input\(s\).*got 2"):
        loaded(ember.zeros(2, 1, 28, 28), ember.zeros(2, 1, 28, 28))


def _graph_with(node, opset=17):
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3])
    relu = onnx.helper.make_node("Relu", ["x"], ["r"], name="first")
    graph = onnx.helper.make_graph([relu, node], "g", [x], [y])
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", opset)])


def _chain_of_adds(initializer_names):
    """``y = x + w0 + w1 + ...`` with one initializer per name (w_i filled with i)."""
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])
    inits, nodes, previous = [], [], "x"
    for i, name in enumerate(initializer_names):
        inits.append(onnx.numpy_helper.from_array(np.full(2, i, np.float32), name))
        nodes.append(onnx.helper.make_node("Add", [previous, name], [f"t{i}"]))
        previous = f"t{i}"
    nodes.append(onnx.helper.make_node("Identity", [previous], ["y"]))
    return onnx.helper.make_model(onnx.helper.make_graph(nodes, "g", [x], [y], inits))


def test_initializer_names_become_module_paths_or_unique_flat_names():
    names = ["a.b", "a", "onnx::Add_1", "x.-y", "training", "forward", "a_1"]
    loaded = ember.onnx.load(_chain_of_adds(names))
    assert loaded.initializer_names == {
        "a.b": "a.b", "a": "a_1", "onnx::Add_1": "onnx__Add_1", "x.-y": "x._y",
        "training": "training_1", "forward": "forward_1", "a_1": "a_1_1"}
    params = dict(loaded.named_parameters())
    assert sorted(params) == sorted(loaded.initializer_names.values())
    for i, name in enumerate(names):
        assert params[loaded.initializer_names[name]].detach().numpy().tolist() == [i, i]
    assert loaded(ember.zeros(2)).detach().numpy().tolist() == [sum(range(len(names)))] * 2
    assert loaded.training is True and callable(loaded.forward)


def test_errors_while_running_name_the_node():
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 4])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [3, None])
    shape = onnx.numpy_helper.from_array(np.array([3, -1], np.int64), "shape")
    node = onnx.helper.make_node("Reshape", ["x", "shape"], ["y"], name="to_rows_of_3")
    loaded = ember.onnx.load(onnx.helper.make_model(onnx.helper.make_graph(
        [node], "g", [x], [y], [shape])))
    assert loaded(ember.zeros(3, 4)).shape == (3, 4)
    with pytest.raises(RuntimeError) as error:
        loaded(ember.zeros(2, 4))
    if hasattr(error.value, "add_note"):
        assert "Reshape node 'to_rows_of_3'" in "".join(error.value.__notes__)


def test_unsupported_operator_fails_at_load_naming_it():
    model = _graph_with(onnx.helper.make_node("NonMaxSuppression", ["r"], ["y"],
                                              name="nms_here"))
    with pytest.raises(UnsupportedOperatorError, match="'NonMaxSuppression'.*'nms_here'") as e:
        ember.onnx.load(model.SerializeToString())
    assert e.value.op == "NonMaxSuppression"


def test_operator_of_another_domain_fails_at_load():
    node = onnx.helper.make_node("FusedGemm", ["r"], ["y"], name="ms", domain="com.microsoft")
    model = _graph_with(node)
    model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    with pytest.raises(UnsupportedOperatorError, match="'FusedGemm' of domain 'com.microsoft'"):
        ember.onnx.load(model)


@pytest.mark.parametrize("op,inputs,attrs,reason", [
    ("LSTM", ["r", "r", "r"], {"hidden_size": 3, "activations": ["Relu", "Tanh", "Tanh"]},
     "activations"),
    ("Resize", ["r", "", "s"], {"mode": "nearest"}, "nearest modes"),
    ("MaxPool", ["r"], {"kernel_shape": [2]}, None),
])
def test_unsupported_attribute_or_output_fails_at_load(op, inputs, attrs, reason):
    outputs = ["y", "indices"] if op == "MaxPool" else ["y"]
    node = onnx.helper.make_node(op, inputs, outputs, name="the_node", **attrs)
    model = _graph_with(node)
    model.graph.initializer.append(onnx.numpy_helper.from_array(
        np.array([1, 1, 2, 2], np.float32), "s"))
    reason = reason or "optional extra outputs"
    with pytest.raises(UnsupportedOperatorError, match=f"'{op}'.*{reason}.*'the_node'"):
        ember.onnx.load(model)


def test_truncated_and_foreign_files_give_clear_errors(tmp_path):
    _, _, path = _exported("lenet5", "torchscript", tmp_path)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="truncated.onnx' is not a valid ONNX model"):
        ember.onnx.load(truncated)
    with pytest.raises(ValueError, match="bytes is not a valid ONNX model"):
        ember.onnx.load(b"\x00\x01 this is not protobuf \xff" * 10)
    with pytest.raises(FileNotFoundError, match="no such file"):
        ember.onnx.load(tmp_path / "missing.onnx")
    with pytest.raises(TypeError, match="path, bytes or an onnx.ModelProto"):
        ember.onnx.load(42)
