"""``ember.onnx.export``: every zoo model runs in ONNX Runtime with ember's outputs, dynamic
batch sizes, names, control flow (If/Loop), and errors that leave no file behind."""

import io
import os

import numpy as np
import pytest

import ember
import ember.onnx
from ember import models, nn
from ember.onnx import UnsupportedOperatorError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _session(data):
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _exported(model, args, **kwargs):
    buffer = io.BytesIO()
    ember.onnx.export(model, args, buffer, **kwargs)
    return buffer.getvalue()


def _assert_runs_like_ember(data, model, args, rtol=1e-4):
    """ONNX Runtime's outputs for ``args`` equal ember's (float32: relative to the scale)."""
    session = _session(data)
    args = args if isinstance(args, tuple) else (args,)
    feeds = {i.name: a.numpy() for i, a in zip(session.get_inputs(), args)}
    got = session.run(None, feeds)
    with ember.no_grad():
        want = [t.numpy() for t in _flat(model(*args))]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        scale = max(float(np.abs(w).max()), 1e-3)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-5 * scale)


def _tokens(vocab, shape, seed=0):
    return ember.tensor(np.random.default_rng(seed).integers(0, vocab, shape))


def _small_classifier(model, n_in):
    """The torchvision classifier's layers at width 32: VGG's and AlexNet's 4096-wide
    layers (over 100 million weights) would make a 500 MB file for no other op."""
    model.classifier = nn.Sequential(
        nn.Dropout(0.5), nn.Linear(n_in, 32), nn.ReLU(True), nn.Dropout(0.5),
        nn.Linear(32, 32), nn.ReLU(True), nn.Linear(32, 10))
    return model


ZOO = {
    "lenet5": lambda: (models.lenet5(), ember.randn(2, 1, 28, 28)),
    "resnet8": lambda: (models.resnet8(), ember.randn(2, 3, 32, 32)),
    "alexnet": lambda: (_small_classifier(models.alexnet(), 256 * 6 * 6),
                        ember.randn(1, 3, 63, 63)),
    "vgg11": lambda: (_small_classifier(models.vgg11(init_weights=False), 512 * 7 * 7),
                      ember.randn(1, 3, 32, 32)),
    "mobilenet_v2": lambda: (models.mobilenet_v2(num_classes=10, width_mult=0.35),
                             ember.randn(1, 3, 32, 32)),
    "inception_v3": lambda: (models.inception_v3(aux_logits=False, init_weights=False,
                                                 num_classes=10), ember.randn(1, 3, 75, 75)),
    "gpt": lambda: (models.gpt(vocab_size=13, max_len=8, d_model=12, n_heads=3, n_layers=2,
                               d_ff=16), _tokens(13, (3, 8))),
    "char_lstm": lambda: (models.char_lstm(vocab_size=11, embed_dim=6, hidden_size=9,
                                           num_layers=2), _tokens(11, (3, 7))),
}


@pytest.mark.parametrize("name", list(ZOO))
def test_zoo_model_exports_and_runs_like_ember(name):
    ember.manual_seed(0)
    model, example = ZOO[name]()
    model.eval()
    data = _exported(model, example)
    onnx.checker.check_model(onnx.load_from_string(data), full_check=True)
    _assert_runs_like_ember(data, model, example)


def test_parameters_become_initializers_named_by_state_dict_keys():
    model = models.lenet5().eval()
    proto = onnx.load_from_string(_exported(model, ember.randn(1, 1, 28, 28)))
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(inits[key], value.numpy())


def test_dynamic_batch_lenet_runs_other_batch_sizes():
    model = models.lenet5().eval()
    data = _exported(model, ember.randn(2, 1, 28, 28), input_names=["image"],
                     output_names=["logits"],
                     dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
    proto = onnx.load_from_string(data)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    for batch in (1, 5):
        _assert_runs_like_ember(data, model, ember.randn(batch, 1, 28, 28))


def test_dynamic_batch_gpt_runs_other_batch_sizes():
    model, example = ZOO["gpt"]()
    model.eval()
    data = _exported(model, example, input_names=["tokens"], output_names=["logits"],
                     dynamic_axes={"tokens": [0], "logits": [0]})
    for batch in (1, 7):
        _assert_runs_like_ember(data, model, _tokens(13, (batch, 8), seed=batch))


def test_dynamic_batch_char_lstm_makes_its_zero_state_per_batch():
    model, example = ZOO["char_lstm"]()
    model.eval()
    data = _exported(model, example, dynamic_axes={"tokens": {0: "batch"}})
    _assert_runs_like_ember(data, model, _tokens(11, (5, 7), seed=5))


def test_dynamic_batch_and_length_gpt_slices_its_positions_at_run_time():
    model, _ = ZOO["gpt"]()
    model.eval()
    # The example is max_len long: the second trace has to try shorter sequences.
    data = _exported(model, _tokens(13, (3, 8)), dynamic_axes={"tokens": [0, 1]})
    proto = onnx.load_from_string(data)
    dims = proto.graph.output[0].type.tensor_type.shape.dim
    assert [d.dim_param for d in dims[:2]] == ["output_dynamic_axes_1", "output_dynamic_axes_2"]
    for shape in ((2, 3), (5, 8)):
        _assert_runs_like_ember(data, model, _tokens(13, shape, seed=shape[0]))


def test_dynamic_batch_group_norm_reshapes_by_the_run_time_batch():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.GroupNorm(2, 8), nn.BatchNorm2d(8)).eval()
    data = _exported(model, ember.randn(2, 3, 8, 8), dynamic_axes={"input": [0]})
    _assert_runs_like_ember(data, model, ember.randn(5, 3, 8, 8))


def _rolls_rows(x):
    return x.roll(1, 0) * 2


def _flips_rows(x):
    return x.flip(0) * 2


def test_op_written_with_the_example_sizes_is_refused_along_a_dynamic_axis():
    # Roll is exported as a table of fixed positions: right for one batch size only.
    x = ember.randn(3, 2)
    with pytest.raises(ValueError, match=r"the op Roll \(called at test_export.py:\d+\) "
                                         "is written with sizes of the example"):
        _exported(_rolls_rows, x, dynamic_axes={"x": [0]})
    _assert_runs_like_ember(_exported(_rolls_rows, x), _rolls_rows, x)
    # Flip is a Slice with step -1: right for every size.
    data = _exported(_flips_rows, x, dynamic_axes={"x": [0]})
    _assert_runs_like_ember(data, _flips_rows, ember.randn(5, 2))


def _adds_positions(x):
    return x + ember.arange(x.shape[0], dtype=x.dtype)[:, None]


def test_size_dependent_constant_along_a_dynamic_axis_is_refused_clearly(tmp_path):
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match="constant that is not one repeated value.*depend "
                                         "on the size of a dynamic axis"):
        ember.onnx.export(_adds_positions, ember.ones(3, 2), path, dynamic_axes={"x": [0]})
    assert not path.exists()
    ember.onnx.export(_adds_positions, ember.ones(3, 2), path)  # fixed sizes: fine
    _assert_runs_like_ember(path.read_bytes(), _adds_positions, ember.ones(3, 2))


def test_default_names_come_from_forward_and_outputs_are_numbered():
    model, example = ZOO["char_lstm"]()
    proto = onnx.load_from_string(_exported(model.eval(), example))
    assert [i.name for i in proto.graph.input] == ["tokens"]
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1", "output_2"]


@pytest.mark.parametrize("kwargs, match", [
    ({"input_names": ["a", "b"]}, "input_names has 2 names for 1 inputs"),
    ({"output_names": ["x"], "input_names": ["x"]}, "must be distinct"),
    ({"dynamic_axes": {"nope": [0]}}, "not an input or output name"),
    ({"dynamic_axes": {"x": [4]}, "input_names": ["x"]}, "out of range"),
    ({"opset_version": 9}, "opset_version must be an int from 17"),
])
def test_bad_arguments_are_refused(kwargs, match, tmp_path):
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match=match):
        ember.onnx.export(nn.Linear(3, 2), ember.ones(4, 3), path, **kwargs)
    assert not path.exists()


def test_export_writes_a_path_atomically(tmp_path):
    path = tmp_path / "linear.onnx"
    model = nn.Linear(3, 2)
    ember.onnx.export(model, ember.ones(4, 3), path)
    _assert_runs_like_ember(path.read_bytes(), model, ember.ones(4, 3))
    assert os.listdir(tmp_path) == ["linear.onnx"]


def _uses_erfinv(x):
    return ember.erfinv(x.tanh()) + 1


def test_unsupported_op_names_the_op_and_the_line_and_writes_nothing(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"an older file")
    with pytest.raises(UnsupportedOperatorError) as info:
        ember.onnx.export(_uses_erfinv, ember.ones(3), path)
    assert info.value.op == "Erfinv"
    text = str(info.value)
    assert "Erfinv" in text and "test_export.py" in text and "To proceed" in text
    assert path.read_bytes() == b"an older file"
    assert os.listdir(tmp_path) == ["m.onnx"]  # no temporary file left behind


class _Gated(nn.Module):
    """A branch and a loop that read the module's parameters inside their subgraphs."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        y = ember.cond(x.sum() > 0, lambda t: self.lin(t).relu(), lambda t: -t, (x,))
        step, y = ember.while_loop(lambda i, s: i < 3,
                                   lambda i, s: (i + 1, self.lin(s) * 0.5 + x),
                                   (ember.tensor(0), y))
        return y, step


def test_cond_and_while_loop_become_if_and_loop():
    model = _Gated()
    x = ember.randn(2, 3)
    traced = ember.jit.trace(model, x, check=False)
    data = _exported(traced, x)
    ops = {n.op_type for n in onnx.load_from_string(data).graph.node}
    assert {"If", "Loop"} <= ops
    for sample in (x.abs() + 0.1, -x.abs() - 0.1):  # both branches
        _assert_runs_like_ember(data, model, sample)


@pytest.mark.parametrize("opset", [18, 20])
def test_newer_opsets_write_their_own_forms(opset):
    # 18: reductions take their axes as an input; 20: GELU is one operator.
    model, example = ZOO["gpt"]()
    model.eval()
    data = _exported(model, example, opset_version=opset)
    proto = onnx.load_from_string(data)
    assert proto.opset_import[0].version == opset
    assert ("Gelu" in {n.op_type for n in proto.graph.node}) == (opset >= 20)
    _assert_runs_like_ember(data, model, example)


class _Nested(nn.Module):
    """A branch inside a loop body, reshaping by the batch size read in Python."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        def body(i, y):
            y = ember.cond(y.sum() > 0, lambda t: self.lin(t), lambda t: t * 0.5 - 1, (y,))
            return i + 1, y.reshape(x.shape[0], 3)
        return ember.while_loop(lambda i, y: i < 4, body, (ember.tensor(0), x))[1]


def test_cond_nested_in_while_loop_with_a_dynamic_batch():
    model = _Nested()
    x = ember.randn(2, 3)
    traced = ember.jit.trace(model, x, check=False)
    data = _exported(traced, x, input_names=["x"], dynamic_axes={"x": [0]})
    for batch in (1, 4):
        _assert_runs_like_ember(data, model, ember.randn(batch, 3))


def _adjoint_cases():
    """Ops that put values at fixed places of zeros (mostly backward ops), applied
    directly; each beside the gathering op whose positions it reuses."""
    from ember.jit.ops import lookup

    def op(name, **params):
        return lambda g: lookup(name).apply(g, **params)

    index = np.array([[0, 2], [3, 0]])
    return {
        "SliceScatter": (op("SliceScatter", shape=(4, 5),
                            index=(slice(1, 3), slice(None, None, 2))), (2, 3)),
        "DiagonalScatter": (op("DiagonalScatter", shape=(3, 4, 4), args=(1, 1, 2)), (3, 3)),
        "UnfoldBackward": (op("UnfoldBackward", shape=(2, 7), args=(1, 3, 2)), (2, 3, 3)),
        "RunPadBackward": (op("RunPadBackward", runs=((1, ((2, 2, -1), (0, 4, 1))),),
                              in_shape=(2, 4)), (2, 6)),
        "SegmentSum": (op("SegmentSum", repeats=np.array([2, 0, 3]), axis=1), (2, 5)),
        "PlaneScatter": (op("PlaneScatter", index=np.array([[[0, 3], [3, 1]]]),
                            shape=(1, 2, 4), nd=1, accumulate=True), (1, 2, 2)),
        "PutRows": (op("PutRows", index=index, scale=None, rows=5), (2, 2, 3)),
        "PlaceAlong": (op("PlaceAlong", index=np.array([1, 0, 2]), axis=1,
                          scale=np.float32(0.5), shape=(3, 4)), (3,)),
    }


@pytest.mark.parametrize("name", sorted(_adjoint_cases()))
def test_ops_that_scatter_into_zeros_export(name):
    fn, shape = _adjoint_cases()[name]
    g = ember.randn(*shape)
    traced = ember.jit.trace(fn, g, check=False)
    assert [n.target for n in traced.graph.of_kind("call")] == [name]
    _assert_runs_like_ember(_exported(traced, g), fn, g)


_INDEX = ember.tensor(np.array([[0, 2], [1, -1]]))
_COLUMNS = ember.tensor(np.array([1, 3]))
_MASK = ember.tensor(np.array([True, False, True, True]))

INDEXING = {
    "basic": lambda x: x[1:, None, ::2, -1],
    "mask_then_slice": lambda x: x[_MASK[:3], 1:],
    "slice_then_mask": lambda x: x[1:, _MASK],
    "tensor_after_int": lambda x: x[0, _INDEX],
    "two_tensors": lambda x: x[_INDEX, _COLUMNS],
    "two_tensors_after_slice": lambda x: x[:, _INDEX, _COLUMNS],
    "separated_tensors": lambda x: x[_INDEX, :, _COLUMNS],
    "list_and_tensor": lambda x: x[[0, 2], :, _COLUMNS],
}


@pytest.mark.parametrize("name", sorted(INDEXING))
def test_indexing_forms_export(name):
    fn = INDEXING[name]
    x = ember.randn(3, 4, 5)
    _assert_runs_like_ember(_exported(ember.jit.trace(fn, x, check=False), x), fn, x)


def test_a_graph_without_its_python_code_exports_at_its_traced_sizes():
    model = models.lenet5().eval()
    x = ember.randn(2, 1, 28, 28)
    graph = ember.jit.trace(model, x).graph
    loaded = ember.jit.TracedModule.from_graph(graph, model.named_parameters(),
                                               model.named_buffers())
    _assert_runs_like_ember(_exported(loaded, x), model, x)
    with pytest.raises(ValueError, match="needs the model's Python code"):
        _exported(loaded, x, dynamic_axes={"input_0": [0]})


def test_training_mode_dropout_asks_for_eval():
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5))
    with pytest.raises(UnsupportedOperatorError, match=r"training mode.*model\.eval\(\)"):
        _exported(model, ember.randn(2, 3))
    _assert_runs_like_ember(_exported(model.eval(), ember.randn(2, 3)), model,
                            ember.randn(2, 3))


def _masks_bits(x):
    return x & 5


def test_forms_that_need_a_newer_opset_say_so():
    a = ember.tensor(np.array([6, 3], dtype=np.int64))
    with pytest.raises(UnsupportedOperatorError, match="opset_version >= 18") as info:
        _exported(_masks_bits, a, opset_version=17)
    assert info.value.op == "BitwiseAnd"
    _assert_runs_like_ember(_exported(_masks_bits, a, opset_version=18), _masks_bits, a)
