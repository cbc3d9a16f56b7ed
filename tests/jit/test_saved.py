"""ember.jit.save / load: models run without their Python class, fine-tune, and bad files
give clear errors."""

import io
import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from safetensors import safe_open

import ember
import ember.jit
from ember import models, nn
from ember.jit import SavedModelError, saved
from ember.jit._encode import Decoder, Encoder, Malformed
from ember.serialization import format as safetensors_format
from tests.jit.zoo import zoo
from tests.ops.harness import make_arrays, to_lib
from tests.ops.op_table import OP_TABLE


class Gate(nn.Module):
    """A user-defined model, known only to this test module: branches, a loop, a buffer,
    a frozen parameter."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.norm = nn.BatchNorm1d(6)
        self.scale = nn.Parameter(ember.tensor(0.5), requires_grad=False)
        self.register_buffer("shift", ember.linspace(-1, 1, 6))

    def forward(self, x):
        h = self.norm(self.fc(x)) + self.shift
        h = ember.cond(h.mean() > 0, lambda t: t.relu() * self.scale, lambda t: t.tanh(), (h,))

        def body(i, s):
            return i + 1, s * 0.5 + h
        return ember.while_loop(lambda i, s: (i < 4) & (s.abs().sum() < 30), body,
                                (ember.tensor(0), h))[1]


def _models():
    return {**zoo(), "user_gate": (Gate(), ember.randn(5, 6))}


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [a for o in out for a in _flat(o)]
    return [out.detach().numpy()]


# The script the fresh process runs: it imports ember only, never the models' code.
_LOAD_AND_RUN = textwrap.dedent("""
    import sys
    import ember, ember.jit

    inputs = ember.load("inputs.safetensors")
    outputs = {}
    for name, x in inputs.items():
        model = ember.jit.load(name + ".ember")
        outputs[name + "/grad"] = model(x)            # the interpreter (parameters need grad)
        with ember.no_grad():
            outputs[name + "/no_grad"] = model(x)     # the optimized executor
    assert not [m for m in sys.modules if m.startswith(("ember.models", "tests"))], \\
        "the saved models must load without their code"
    ember.save({k: tuple(v) if isinstance(v, (tuple, list)) else v
                for k, v in outputs.items()}, "outputs.safetensors")
""")


def test_zoo_and_user_models_load_and_run_in_a_process_without_their_code(tmp_path):
    zoo = _models()
    expected = {}
    for name, (model, x) in zoo.items():
        model.eval()
        ember.jit.save(ember.jit.trace(model, x, check=name != "user_gate"),
                       tmp_path / f"{name}.ember")
        with ember.no_grad():
            expected[name] = _flat(model(x))
    ember.save({name: x for name, (_, x) in zoo.items()}, tmp_path / "inputs.safetensors")
    done = subprocess.run([sys.executable, "-c", _LOAD_AND_RUN], check=False, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    got = ember.load(tmp_path / "outputs.safetensors")
    for name, want in expected.items():
        for mode in ("grad", "no_grad"):
            have = _flat(got[f"{name}/{mode}"])
            assert len(have) == len(want), name
            for a, b in zip(have, want):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)


def test_loaded_model_keeps_parameters_buffers_and_requires_grad(tmp_path):
    ember.manual_seed(1)
    model = Gate().eval()
    ember.jit.save(ember.jit.trace(model, ember.randn(5, 6), check=False), tmp_path / "g.ember")
    loaded = ember.jit.load(tmp_path / "g.ember")
    assert loaded.state_dict().keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key].numpy(), value.numpy())
    with safe_open(tmp_path / "g.ember", framework="np") as other_reader:  # a valid file
        assert other_reader.metadata()["format"] == "ember.jit"
        np.testing.assert_array_equal(other_reader.get_tensor("fc.weight"),
                                      model.fc.weight.detach().numpy())
    params = dict(loaded.named_parameters())
    assert all(isinstance(p, nn.Parameter) for p in params.values())
    assert params["scale"].requires_grad is False and params["fc.weight"].requires_grad
    again = io.BytesIO()
    ember.jit.save(loaded, again)  # a loaded model saves again
    again.seek(0)
    x = ember.randn(5, 6)
    np.testing.assert_array_equal(ember.jit.load(again)(x).detach().numpy(),
                                  model(x).detach().numpy())


def test_fine_tuning_a_loaded_model(tmp_path):
    ember.manual_seed(2)
    model = models.lenet5(num_classes=4).eval()
    x, y = ember.randn(8, 1, 28, 28), ember.randint(0, 4, (8,))
    ember.jit.save(ember.jit.trace(model, x), tmp_path / "lenet.ember")
    loaded = ember.jit.load(tmp_path / "lenet.ember")
    optimizer = ember.optim.SGD(loaded.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = ember.nn.functional.cross_entropy(loaded(x), y)
        loss.backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in loaded.parameters())
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# ---- every op of the op table --------------------------------------------------------

def _traced_case(spec, case):
    arrays = make_arrays(case, 0)
    made = to_lib(ember, arrays, requires_grad=False)
    where = [k for k, (kind, _) in enumerate(arrays) if kind != "raw"]

    def fn(*tensors):
        args = list(made)
        for k, t in zip(where, tensors):
            args[k] = t
        return spec.fn(ember, *args)
    inputs = tuple(made[k] for k in where)
    return ember.jit.trace(fn, inputs, check=False), inputs


def _text(graph):
    return re.sub(r" at 0x[0-9a-f]+", "", str(graph))  # objects printed by address


@pytest.mark.filterwarnings("ignore::UserWarning")  # broadcasting losses warn, as in PyTorch
@pytest.mark.parametrize("spec", OP_TABLE, ids=[s.name for s in OP_TABLE])
def test_every_op_table_graph_saves_and_loads(spec):
    for case in spec.cases:
        try:
            traced, inputs = _traced_case(spec, case)
        except Exception:  # noqa: BLE001,S112 - what cannot be traced is test_op_table_graph's
            continue
        buffer = io.BytesIO()
        ember.jit.save(traced, buffer)
        buffer.seek(0)
        loaded = ember.jit.load(buffer)
        assert _text(loaded.graph) == _text(traced.graph)
        for a, b in zip(_flat(loaded(*inputs)), _flat(traced(*inputs))):
            np.testing.assert_array_equal(a, b)


# ---- the param encoding --------------------------------------------------------------

def _round_trip(value):
    encoder = Encoder()
    text = json.dumps(encoder.value(value), allow_nan=False)
    return Decoder(encoder.arrays).value(json.loads(text))


def test_params_keep_their_types():
    value = {"t": (1, 2.5, None, True, "s"), "l": [1, (2, [3])], 3: slice(1, None, -1),
             "$in": 4, "e": (Ellipsis, np.dtype("int16"), np.float32(1.5), np.bool_(True)),
             "f": (float("nan"), float("-inf")), "n": np.max, "u": np.maximum}
    back = _round_trip(value)
    assert back.keys() == value.keys()
    assert back["t"] == value["t"] and back["l"] == [1, (2, [3])]
    assert type(back["l"]) is list and type(back["l"][1]) is tuple
    assert back[3] == slice(1, None, -1) and back["$in"] == 4
    assert back["e"][0] is Ellipsis and back["e"][1] == np.dtype("int16")
    assert type(back["e"][2]) is np.float32 and back["e"][2] == 1.5
    assert type(back["e"][3]) is np.bool_
    assert np.isnan(back["f"][0]) and back["f"][1] == float("-inf")
    assert back["n"] is np.max and back["u"] is np.maximum
    array = np.arange(6, dtype=np.int32).reshape(2, 3)[:, ::2]
    assert np.array_equal(_round_trip(array), array)
    assert _round_trip(np.array(7.0)).shape == ()


def test_ember_param_objects_are_rebuilt():
    from ember.ops._index_primitives import Ix
    from ember.ops.conv import Geometry
    from ember.ops.norm import _Layout

    geometry = Geometry((1, 2), ((0, 0), (1, 1)), (1, 1), 1)
    assert _round_trip(geometry) == geometry and type(_round_trip(geometry)) is Geometry
    layout = _Layout((2, 3), (1,), (1, 3), True, 1e-5, True, False)
    assert _round_trip(layout) == layout
    ix = Ix((slice(None), 1), (np.array([0, 2]),), False, "getitem")
    back = _round_trip(ix)
    assert type(back) is Ix and back.basic == ix.basic and back.op == "getitem"
    assert np.array_equal(back.adv[0], ix.adv[0]) and back.where is False


@pytest.mark.parametrize("data", [{"$obj": ["os:system", {}]},
                                  {"$obj": ["ember.tensor:Tensor.__init__.__globals__", {}]},
                                  {"$numpy": "load"}, {"$eval": "1"}])
def test_decoding_refuses_what_is_not_a_param(data):
    with pytest.raises(Malformed):
        Decoder({}).value(data)


# ---- errors --------------------------------------------------------------------------

def _saved_lenet(path):
    ember.manual_seed(3)
    ember.jit.save(ember.jit.trace(models.lenet5(), ember.randn(1, 1, 28, 28)), path)
    return path


def _rewrite(path, change):
    with open(path, "rb") as f:
        metadata, arrays = safetensors_format.read(f, path)
    change(metadata)
    with open(path, "wb") as f:
        safetensors_format.write(f, arrays, metadata)


def test_unsupported_param_is_named_and_nothing_is_written(tmp_path):
    traced = ember.jit.trace(lambda x: x.relu() * 2, ember.ones(3))
    node = next(n for n in traced.graph.nodes if n.target == "Relu")
    node.params["hook"] = lambda a: a
    path = tmp_path / "m.ember"
    with pytest.raises(TypeError, match=r"op Relu \(traced at test_saved.py:\d+\) has param "
                                        r"'hook' holding a builtins.function"):
        ember.jit.save(traced, path)
    assert os.listdir(tmp_path) == []
    node.params["hook"] = np.zeros(2, np.complex64)
    with pytest.raises(TypeError, match="param 'hook' holding an array of dtype complex64"):
        ember.jit.save(traced, path)
    with pytest.raises(TypeError, match="expected a TracedModule"):
        ember.jit.save(models.lenet5(), path)


def test_newer_format_version_names_both_versions(tmp_path):
    path = _saved_lenet(tmp_path / "m.ember")
    _rewrite(path, lambda meta: meta.update(format_version=str(saved.FORMAT_VERSION + 1)))
    with pytest.raises(SavedModelError, match=rf"m.ember: the file has format version "
                                              rf"{saved.FORMAT_VERSION + 1}, newer than "
                                              rf"version {saved.FORMAT_VERSION}"):
        ember.jit.load(path)


@pytest.mark.parametrize("cut", [0, 5, 100, -1000])
def test_truncated_file_names_the_file(tmp_path, cut):
    path = _saved_lenet(tmp_path / "m.ember")
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(SavedModelError, match=r"ember.jit.load: .*m.ember: .*(truncated|empty)"):
        ember.jit.load(path)


def test_corrupted_graph_json_names_the_file(tmp_path):
    path = _saved_lenet(tmp_path / "m.ember")
    _rewrite(path, lambda meta: meta.update(model=meta["model"][:-7]))
    with pytest.raises(SavedModelError, match=r"m.ember: the graph is not valid JSON"):
        ember.jit.load(path)
    _rewrite(path, lambda meta: meta.update(model=json.dumps({"graph": {"nodes": 3}})))
    with pytest.raises(SavedModelError, match=r"m.ember: the saved graph is malformed"):
        ember.jit.load(path)


def test_unknown_op_is_named(tmp_path):
    path = _saved_lenet(tmp_path / "m.ember")
    _rewrite(path, lambda meta: meta.update(model=meta["model"].replace('"Relu"', '"Frob"')))
    with pytest.raises(SavedModelError, match=r"m.ember: the graph calls op 'Frob', which this "
                                              r"ember does not have"):
        ember.jit.load(path)


def test_other_files_are_refused(tmp_path):
    ember.save({"w": ember.ones(2)}, tmp_path / "ckpt.safetensors")
    with pytest.raises(SavedModelError, match="an ember checkpoint .*ember.load"):
        ember.jit.load(tmp_path / "ckpt.safetensors")
    (tmp_path / "junk.ember").write_bytes(b"\x80\x04junk")
    with pytest.raises(SavedModelError, match="junk.ember: this is a pickle"):
        ember.jit.load(tmp_path / "junk.ember")
