"""ember.load never unpickles, and every malformed file gives a CheckpointError that names
the file and what is wrong, before any of its content is used."""

import io
import json
import os
import pickle
import random
import zipfile

import numpy as np
import pytest
import torch

import ember
from ember.serialization import CheckpointError, load, save
from tests.serialization.helpers import safetensors_bytes


class Boobytrap:
    """Unpickling this creates a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def load_bytes(tmp_path, data):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(data)
    return load(path)


def expect_error(tmp_path, data, match):
    with pytest.raises(CheckpointError, match=match) as info:
        load_bytes(tmp_path, data)
    assert str(info.value).startswith(f"load: {str(tmp_path / 'bad.ckpt')!r}: ")
    return info.value


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_a_malicious_pickle_executes_nothing(tmp_path, protocol):
    marker = tmp_path / "marker"
    data = pickle.dumps({"weights": Boobytrap(str(marker))}, protocol=protocol)
    expect_error(tmp_path, data, "pickle" if protocol >= 2 else "not a safetensors file")
    assert not marker.exists()


def test_a_torch_save_file_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "bad.ckpt"
    torch.save({"model": torch.nn.Linear(2, 2).state_dict(), "trap": Boobytrap(str(marker))},
               path)
    err = expect_error(tmp_path, path.read_bytes(), "zip archive.*torch.save")
    assert "never unpickles" in str(err) and "safetensors.torch.save_file" in str(err)
    assert not marker.exists()
    buffer = io.BytesIO(path.read_bytes())
    with pytest.raises(CheckpointError, match="BytesIO.*torch.save"):
        load(buffer)
    assert not marker.exists()


def test_checkpoint_error_is_a_runtime_error():
    assert issubclass(CheckpointError, RuntimeError)


@pytest.mark.parametrize("data, match", [
    (b"", "empty"),
    (b"\x01\x02\x03", "holds 3 bytes"),
    (b"just some text, not a checkpoint\n", "header but only"),
    (b"PK\x03\x04" + bytes(60), "zip archive"),
    (b"\x93NUMPY\x01\x00" + bytes(60), "NumPy .npy"),
    (b"\x89HDF\r\n\x1a\n" + bytes(60), "HDF5"),
    ((2**63).to_bytes(8, "little") + b"{}", "header but only"),
    (safetensors_bytes(b"[1, 2]"), "does not start with '{'"),
    (safetensors_bytes(b"{not json}"), "not valid JSON"),
    (safetensors_bytes(b'{"a": 1, "a": 2}'), "appears twice"),
    (safetensors_bytes(b'{"x": "\xff\xfe"}'), "not valid JSON"),
    (safetensors_bytes(b'{"x": 1}  junk'), "not valid JSON"),
    (safetensors_bytes({"__metadata__": {"k": 1}}), "__metadata__ is not a dict of strings"),
    (safetensors_bytes({"__metadata__": ["x"]}), "__metadata__ is not a dict of strings"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [1]}}), "lacks"),
    (safetensors_bytes({"w": [1, 2]}), "lacks"),
    (safetensors_bytes({"w": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}},
                       bytes(4)), "unknown dtype 'F99'"),
    (safetensors_bytes({"w": {"dtype": "U32", "shape": [1], "data_offsets": [0, 4]}},
                       bytes(4)), "dtype U32, which ember does not have"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}},
                       bytes(4)), "invalid shape"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [1.0], "data_offsets": [0, 4]}},
                       bytes(4)), "invalid shape"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}},
                       bytes(4)), "invalid data_offsets"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}},
                       bytes(4)), "invalid data_offsets"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}},
                       bytes(20)), "needs 24 bytes.*span 20"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [10**12], "data_offsets": [0, 4]}},
                       bytes(4)), "needs 4000000000000 bytes"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
                       bytes(8)), "gap"),
    (safetensors_bytes({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                        "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
                       bytes(8)), "overlaps"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}},
                       bytes(10)), "describes 16 bytes.*holds 10.*truncated"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
                       bytes(9)), "longer than its header says"),
    (safetensors_bytes({"w": {"dtype": "BOOL", "shape": [3], "data_offsets": [0, 3]}},
                       b"\x00\x01\x07"), "bool tensor 'w' holds bytes other than 0 and 1"),
])
def test_malformed_files_name_what_is_wrong(tmp_path, data, match):
    expect_error(tmp_path, data, match)


def test_a_header_length_that_starts_like_a_pickle_is_still_read(tmp_path):
    # 640 = 0x280: the file starts with 0x80 0x02, as a protocol-2 pickle does.
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})
    data = safetensors_bytes(header.encode().ljust(640), np.float32([1.5, -2]).tobytes())
    assert data.startswith(b"\x80\x02")
    assert load_bytes(tmp_path, data)["w"].tolist() == [1.5, -2.0]


def test_a_huge_declared_header_is_refused_before_reading_it(tmp_path):
    data = (200_000_000).to_bytes(8, "little") + b"{" + bytes(300)
    expect_error(tmp_path, data, "200000000-byte header")


def valid_checkpoint():
    buffer = io.BytesIO()
    ember.manual_seed(0)
    save({"model": {"fc.weight": ember.randn(4, 3), "fc.bias": ember.randn(4),
                    "mask": ember.ones(5, dtype=ember.bool)},
          "epoch": 3, "lr": [0.1, (2, None)]}, buffer)
    return buffer.getvalue()


def test_every_truncation_is_detected(tmp_path):
    data = valid_checkpoint()
    for cut in sorted({0, 1, 7, 8, 9, 20, len(data) // 2, len(data) - 9, len(data) - 1}):
        expect_error(tmp_path, data[:cut], "empty|holds|header but only|truncated|JSON")


def rewrite_manifest(data, edit):
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    manifest = json.loads(header["__metadata__"]["ember"])
    edit(manifest)
    header["__metadata__"]["ember"] = json.dumps(manifest)
    return safetensors_bytes(header, data[8 + n:])


def set_tree(value):
    return lambda manifest: manifest.update(tree=value)


@pytest.mark.parametrize("edit, match", [
    (set_tree({"tensor": "missing"}), "references tensor 'missing', which the file does not"),
    (set_tree({"dict": [["w", {"tensor": "model/fc.weight"}], ["x", {"tensor": 5}]]}),
     r"\['x'\]: it references tensor 5"),
    (set_tree({"pickle": "cos\nsystem\n"}), "unknown node"),
    (set_tree({"tuple": [1], "extra": 2}), "unknown node"),
    (set_tree({"tuple": 5}), "expected a list"),
    (set_tree({"dict": [["a"]]}), r"not a list of \[key, value\] pairs"),
    (set_tree({"dict": [[[1, 2], 3]]}), "unhashable"),
    (set_tree({"dtype": "complex128"}), "invalid dtype"),
    (set_tree({"float": "1e5"}), "invalid float"),
    (set_tree({"size": [-1]}), "invalid size"),
    (set_tree({"device": "cuda"}), "invalid device"),
    (set_tree({"ndarray": "model/fc.bias", "scalar": True}), "not 0-dimensional"),
    (lambda m: m.update(version=99), "newer ember.*version 99"),
    (lambda m: m.pop("tree"), "lacks its version or tree"),
])
def test_a_corrupted_manifest_names_the_problem(tmp_path, edit, match):
    data = rewrite_manifest(valid_checkpoint(), edit)
    err = expect_error(tmp_path, data, match)
    assert "manifest" in str(err) or "newer" in str(err)


def test_a_manifest_that_is_not_json(tmp_path):
    data = valid_checkpoint()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    header["__metadata__"]["ember"] = "{" * 100_000
    expect_error(tmp_path, safetensors_bytes(header, data[8 + n:]), "manifest.*not valid JSON")


def test_random_corruption_never_escapes_as_another_error(tmp_path):
    """Flipped bytes either load (a flip inside tensor data changes only values) or raise
    CheckpointError; never a crash, a hang, or some other exception."""
    data = valid_checkpoint()
    rng = random.Random(0)
    outcomes = set()
    for _ in range(300):
        corrupt = bytearray(data)
        for _ in range(rng.choice([1, 1, 2, 8])):
            corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
        try:
            load(io.BytesIO(bytes(corrupt)))
            outcomes.add("loaded")
        except CheckpointError:
            outcomes.add("refused")
    assert outcomes == {"loaded", "refused"}


def test_bfloat16_from_torch_gives_a_clear_error(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.ones(2, dtype=torch.bfloat16)}, str(tmp_path / "bad.ckpt"))
    with pytest.raises(CheckpointError, match="'w'.*dtype BF16, which ember does not have"):
        load(tmp_path / "bad.ckpt")


def test_a_plain_zip_and_npy_are_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "a.zip", "w") as z:
        z.writestr("data.pkl", b"anything")
    with pytest.raises(CheckpointError, match="zip archive"):
        load(tmp_path / "a.zip")
    np.save(tmp_path / "a.npy", np.arange(3), allow_pickle=False)
    with pytest.raises(CheckpointError, match=r"\.npy"):
        load(os.fspath(tmp_path / "a.npy"))
