"""ember.save / ember.load round trips: values bit-exact, structure exact, sharing kept."""

import io
import math
import os
import pathlib
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
import torch

import ember
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.serialization import CheckpointError, load, save
from tests.serialization.helpers import assert_same_bits, bits, safetensors_bytes

DTYPES = [ember.float16, ember.float32, ember.float64, ember.uint8, ember.int8, ember.int16,
          ember.int32, ember.int64, ember.bool]
SHAPES = [(), (0,), (3, 0, 2), (5,), (2, 3, 4)]


def roundtrip(obj, **load_kwargs):
    buffer = io.BytesIO()
    save(obj, buffer)
    buffer.seek(0)
    return load(buffer, **load_kwargs)


def values(dtype, shape, seed=0):
    """Random values with the awkward ones mixed in: NaN, infinities, -0.0, extremes."""
    rng = np.random.default_rng(seed)
    npd = dtype.np
    if npd.kind == "f":
        specials = np.array([np.nan, np.inf, -np.inf, -0.0, np.finfo(npd).max,
                             np.finfo(npd).tiny], npd)
        a = rng.standard_normal(shape).astype(npd)
    elif npd.kind == "b":
        specials = np.array([True, False])
        a = rng.integers(0, 2, shape).astype(bool)
    else:
        info = np.iinfo(npd)
        specials = np.array([info.min, info.max, 0], npd)
        a = rng.integers(info.min, info.max, shape, dtype=npd, endpoint=True)
    flat = a.reshape(-1)
    flat[:min(flat.size, specials.size)] = specials[:flat.size]
    return ember.from_numpy(a)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_every_dtype_and_shape_round_trips_bit_exactly(dtype, shape):
    x = values(dtype, shape)
    y = roundtrip({"x": x})["x"]
    assert isinstance(y, ember.Tensor) and y.dtype is dtype and y.shape == ember.Size(shape)
    assert_same_bits(x, y)


def test_nan_payloads_survive():
    raw = np.array([0x7FC00001, 0xFFC12345, 0x7F800001], np.uint32).view(np.float32)
    assert_same_bits(roundtrip([ember.from_numpy(raw)])[0], raw)


@pytest.mark.parametrize("view", ["t", "step", "negative", "expand", "offset", "permute"])
def test_non_contiguous_tensors_save_their_values(view):
    base = ember.arange(24.0).reshape(2, 3, 4)
    x = {"t": lambda: base[0].t(), "step": lambda: base[:, ::2, 1::2],
         "negative": lambda: ember.from_numpy(base.numpy()[::-1, :, ::-2]),
         "expand": lambda: ember.tensor([1.0, 2.0]).expand(3, 2),
         "offset": lambda: base[1, 1:], "permute": lambda: base.permute(2, 0, 1)}[view]()
    y = roundtrip(x)
    assert y.shape == x.shape and y.is_contiguous()
    np.testing.assert_array_equal(y.numpy(), x.numpy())


def test_a_tensor_saved_twice_comes_back_as_one_tensor():
    w, other = ember.randn(3, 2), ember.randn(3, 2)
    out = roundtrip({"encoder": w, "decoder": w, "other": other, "list": [w, other]})
    assert out["encoder"] is out["decoder"] is out["list"][0]
    assert out["other"] is out["list"][1] and out["other"] is not out["encoder"]
    buffer = io.BytesIO()
    save({"a": w, "b": w}, buffer)
    assert len(buffer.getvalue()) < 8 + 1000 + 2 * w.nbytes  # stored once


def test_tied_weights_in_a_state_dict_stay_tied():
    # state_dict() detaches each parameter into a new tensor over the same memory.
    model = Module()
    model.encoder, model.decoder = Module(), Module()
    model.encoder.weight = Parameter(ember.randn(4, 3))
    model.decoder.weight = model.encoder.weight
    sd = model.state_dict()
    assert sd["encoder.weight"] is not sd["decoder.weight"]
    out = roundtrip(sd)
    assert out["encoder.weight"] is out["decoder.weight"]
    assert_same_bits(out["decoder.weight"], model.encoder.weight)


def test_overlapping_views_are_stored_as_separate_copies():
    base = ember.arange(6.0)
    out = roundtrip([base, base[1:4]])
    out[0][1] = 100.0
    assert out[1].tolist() == [1.0, 2.0, 3.0]


def test_structure_round_trips_exactly():
    obj = {
        "zeta": 1, "alpha": 2, 3: "three", 1: "one", -7: None, 2.5: "float key",
        False: "bool key", None: "none key", ("a", 1): "tuple key", (): "empty tuple key",
        "tuple": (1, (2, 3), [4, (5,)], ()), "list": [[], [[1]], {}],
        "odict": OrderedDict([("b", 1), ("a", 2)]),
        "floats": [0.1, -0.0, 1e308, 5e-324, math.inf, -math.inf, 1.0, 3],
        "ints": [0, -1, 2**63, -(2**100), True, False],
        "strings": ["", "é ∑ 🙂", "\ud800 lone surrogate", '{"tensor": "x"}', "a/b"],
        "dtypes": [ember.float16, ember.bool, ember.int64],
        "size": ember.Size([2, 0, 3]), "device": ember.device("cpu"),
    }
    out = roundtrip(obj)
    assert out == obj
    assert list(out) == list(obj) and [type(k) for k in out] == [type(k) for k in obj]
    assert [type(v) for v in out["ints"]] == [type(v) for v in obj["ints"]]
    assert [type(v) for v in out["floats"]] == [type(v) for v in obj["floats"]]
    assert math.copysign(1.0, out["floats"][1]) == -1.0
    assert type(out["odict"]) is OrderedDict and list(out["odict"]) == ["b", "a"]
    assert type(out["size"]) is ember.Size and out["dtypes"][1] is ember.bool
    assert type(out["tuple"]) is tuple and type(out["tuple"][2][1]) is tuple
    nan = roundtrip({"nan": math.nan})["nan"]
    assert type(nan) is float and math.isnan(nan)


def test_a_single_tensor_and_plain_values_at_the_top_level():
    x = ember.randn(2)
    assert_same_bits(roundtrip(x), x)
    assert roundtrip(5) == 5 and roundtrip(None) is None and roundtrip([]) == []


def test_numpy_arrays_and_scalars_keep_their_types():
    arr, scalar = np.arange(6, dtype=np.int16).reshape(2, 3), np.float32(2.5)
    out = roundtrip({"arr": arr, "scalar": scalar, "f64": np.float64(0.1)})
    assert type(out["arr"]) is np.ndarray and bits(out["arr"]) == bits(arr)
    assert type(out["scalar"]) is np.float32 and out["scalar"] == scalar
    assert type(out["f64"]) is np.float64 and out["f64"] == 0.1
    big_endian = np.arange(-3, 3, dtype=">i4")[::2]
    back = roundtrip(big_endian)
    assert back.dtype == np.int32 and back.tolist() == big_endian.tolist()


def test_parameters_come_back_as_plain_tensors_without_requires_grad():
    p = Parameter(ember.randn(3))
    y = (p * 2).sum()  # a non-leaf tensor with a grad_fn saves its values too
    out = roundtrip({"p": p, "y": y})
    assert type(out["p"]) is ember.Tensor and not out["p"].requires_grad
    assert out["y"].grad_fn is None and out["y"].item() == y.item()
    assert_same_bits(out["p"], p)
    before = p.tolist()
    out["p"][0] = 123.0  # a loaded tensor is writable and owns its memory
    assert p.tolist() == before and out["p"][0].item() == 123.0


def test_flat_state_dict_keeps_its_names_in_the_file(tmp_path):
    import safetensors.numpy

    sd = OrderedDict([("fc.weight", ember.randn(2, 3)), ("fc.bias", ember.randn(2)),
                      ("__metadata__", ember.ones(1))])
    save(sd, tmp_path / "m.safetensors")
    raw = safetensors.numpy.load_file(str(tmp_path / "m.safetensors"))
    assert {"fc.weight", "fc.bias"} <= set(raw)
    assert_same_bits(raw["fc.weight"], sd["fc.weight"])
    out = load(tmp_path / "m.safetensors")
    assert list(out) == list(sd) and type(out) is OrderedDict
    assert_same_bits(out["__metadata__"], sd["__metadata__"])


def test_plain_safetensors_file_loads_as_a_flat_dict(tmp_path):
    import safetensors.numpy

    arrays = {"b": np.arange(3, dtype=np.int8), "a": np.ones((2, 2), np.float16),
              "c": np.array(True)}
    safetensors.numpy.save_file(arrays, str(tmp_path / "x.safetensors"),
                                metadata={"format": "np", "note": "hi"})
    out = load(str(tmp_path / "x.safetensors"))
    assert type(out) is dict and set(out) == set(arrays)
    for name, array in arrays.items():
        assert isinstance(out[name], ember.Tensor)
        assert_same_bits(out[name], array)


def test_tensors_that_other_writers_left_unaligned_are_read_aligned():
    header = {"mask": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]},
              "w": {"dtype": "F32", "shape": [2], "data_offsets": [3, 11]}}
    floats = np.array([0.25, -1e30], np.float32)
    out = load(io.BytesIO(safetensors_bytes(header, b"\x01\x02\x03" + floats.tobytes())))
    assert out["w"].numpy().flags.aligned and out["w"].tolist() == floats.tolist()
    assert out["mask"].tolist() == [1, 2, 3]


def test_saving_is_deterministic():
    obj = {"b": ember.randn(3), "a": [ember.ones(2, dtype=ember.int8), {"x": 1.5}]}
    first, second = io.BytesIO(), io.BytesIO()
    save(obj, first)
    save(obj, second)
    assert first.getvalue() == second.getvalue()


def test_paths_and_file_objects(tmp_path):
    obj = {"w": ember.randn(3), "step": 7}
    for target in (str(tmp_path / "a.ckpt"), tmp_path / "b.ckpt"):
        save(obj, target)
        assert load(target)["step"] == 7
    with open(tmp_path / "c.ckpt", "wb") as f:
        save(obj, f)
    with open(tmp_path / "c.ckpt", "rb") as f:
        assert_same_bits(load(f)["w"], obj["w"])
    assert (tmp_path / "c.ckpt").read_bytes() == (tmp_path / "a.ckpt").read_bytes()


def test_a_stream_is_read_from_its_current_position_to_its_end():
    buffer = io.BytesIO()
    buffer.write(b"prefix")
    save({"first": ember.ones(2)}, buffer)
    buffer.seek(6)
    assert list(load(buffer)) == ["first"] and buffer.read() == b""
    buffer.write(b"trailing bytes")  # the file is longer than its header says
    buffer.seek(6)
    with pytest.raises(CheckpointError, match="longer than its header says"):
        load(buffer)


def test_a_non_seekable_stream_loads():
    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self.inner = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self.inner.readinto(memoryview(b)[:7])  # short reads, like a pipe

    buffer = io.BytesIO()
    obj = {"w": ember.randn(5, 5), "n": 1}
    save(obj, buffer)
    out = load(io.BufferedReader(Pipe(buffer.getvalue()), buffer_size=16))
    assert_same_bits(out["w"], obj["w"])


@pytest.mark.parametrize("location", [None, "cpu", ember.device("cpu"), {"cuda:0": "cpu"},
                                      lambda storage, loc: storage])
def test_map_location_accepts_the_cpu(location):
    x = ember.randn(3)
    assert_same_bits(roundtrip({"x": x}, map_location=location)["x"], x)


def test_map_location_callable_is_applied_to_every_tensor():
    out = roundtrip({"a": ember.ones(2), "b": [ember.ones(1)]},
                    map_location=lambda t, loc: t * 2)
    assert out["a"].tolist() == [2.0, 2.0] and out["b"][0].tolist() == [2.0]


def test_map_location_other_devices_raise():
    with pytest.raises(RuntimeError, match="CPU"):
        roundtrip({"x": ember.ones(1)}, map_location="cuda:0")


def test_weights_only_does_not_change_what_loads():
    obj = {"w": ember.randn(2), "epoch": 1}
    a, b = roundtrip(obj, weights_only=True), roundtrip(obj, weights_only=False)
    assert a["epoch"] == b["epoch"] and bits(a["w"]) == bits(b["w"])


def torch_adam_state_dict():
    """What torch 2.13's ``Adam(model.parameters()).state_dict()`` holds after a step (built
    by hand: constructing a torch optimizer first imports for seconds)."""
    torch.manual_seed(0)
    state = {i: {"step": torch.tensor(3.0), "exp_avg": torch.randn(shape),
                 "exp_avg_sq": torch.rand(shape)} for i, shape in enumerate([(2, 3), (2,)])}
    group = {"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0,
             "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
             "differentiable": False, "fused": None, "decoupled_weight_decay": False,
             "params": [0, 1]}
    return {"state": state, "param_groups": [group]}


def test_a_training_checkpoint_resumes_like_the_original():
    # An optimizer state dict (int keys, tuples, None, 0-dim step tensors) keeps its exact
    # structure and values, and the RNG state restores the same random stream.
    tsd = torch_adam_state_dict()
    as_ember = _map_tensors(tsd, lambda t: ember.from_numpy(t.numpy().copy()))
    ember.manual_seed(1)
    ckpt = {"optimizer": as_ember, "epoch": 3, "rng": ember.get_rng_state()}
    expected = ember.rand(5)
    out = roundtrip(ckpt)
    assert _map_tensors(out["optimizer"], bits) == _map_tensors(tsd, bits)
    assert type(out["optimizer"]["param_groups"][0]["betas"]) is tuple
    ember.manual_seed(99)
    ember.set_rng_state(out["rng"])
    assert_same_bits(ember.rand(5), expected)


def _map_tensors(obj, fn):
    if isinstance(obj, dict):
        return type(obj)((k, _map_tensors(v, fn)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_map_tensors(v, fn) for v in obj)
    return fn(obj) if isinstance(obj, (ember.Tensor, torch.Tensor)) else obj


# ---- objects ember does not save --------------------------------------------------

Point = namedtuple("Point", "x y")


class Net(Module):
    pass


@pytest.mark.parametrize("obj, where, hint", [
    ({"model": {"fc": Net()}}, r"\['model'\]\['fc'\]", "state_dict"),
    ({"fn": lambda x: x}, r"\['fn'\]", "code"),
    ([1, {"a": np.array([object()])}], r"\[1\]\['a'\]", "dtype object"),
    ({"s": {1, 2}}, r"\['s'\]", "list"),
    ({"p": Point(1, 2)}, r"\['p'\]", "_asdict"),
    ({"b": b"bytes"}, r"\['b'\]", "uint8"),
    ({"u": np.zeros(2, np.uint32)}, r"\['u'\]", "uint32"),
    ({"o": object()}, "top level|'o'", "never pickles"),
])
def test_unsupported_objects_name_their_key_path(obj, where, hint, tmp_path):
    target = tmp_path / "ckpt"
    save({"good": ember.ones(2)}, target)
    before = target.read_bytes()
    with pytest.raises(TypeError, match=rf"save: cannot save .*{where}.*") as info:
        save(obj, target)
    assert hint in str(info.value)
    assert target.read_bytes() == before and os.listdir(tmp_path) == ["ckpt"]
    buffer = io.BytesIO()
    with pytest.raises(TypeError):
        save(obj, buffer)
    assert buffer.getvalue() == b""


def test_cycles_and_tensor_keys_are_refused():
    cyclic = {"a": []}
    cyclic["a"].append(cyclic)
    with pytest.raises(TypeError, match=r"\['a'\]\[0\].*contains itself"):
        save(cyclic, io.BytesIO())
    with pytest.raises(TypeError, match="dict key of type Tensor"):
        save({ember.ones(1): 1}, io.BytesIO())


def test_bad_file_arguments():
    with pytest.raises(TypeError, match="io.BytesIO"):
        load(b"\x00" * 16)
    with pytest.raises(TypeError, match="path or a binary file"):
        save({}, 42)
    with pytest.raises(CheckpointError, match="binary mode"):
        load(io.StringIO("text"))
    with pytest.raises(FileNotFoundError):
        load(pathlib.Path("/nonexistent/ckpt.safetensors"))
