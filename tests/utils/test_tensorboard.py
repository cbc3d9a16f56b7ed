"""SummaryWriter: every kind of summary written, then read back by TensorBoard's own readers
and compared with what was written and with what torch.utils.tensorboard writes."""

import os
import pathlib
import re
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import ember
from ember.utils.tensorboard import SummaryWriter
from ember.utils.tensorboard.event_file import crc32c, masked_crc32c
from tests.utils.tb_read import accumulator, decode_png, event_files, events, records

torch_summary = pytest.importorskip("torch.utils.tensorboard.summary")
from tensorboard.compat.tensorflow_stub import errors as tb_errors
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow as tb_crc
from tensorboard.util import tensor_util

# ---- the event file ----------------------------------------------------------------------

def test_crc32c_matches_tensorboards():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    rng = np.random.default_rng(0)
    for n in [0, 1, 7, 255, 4095, 4096, 4097, 9999, 65536, 70001]:  # both code paths
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert crc32c(data) == tb_crc.crc32c(data), n
        assert masked_crc32c(data) == tb_crc.masked_crc32c(data), n


def test_records_pass_the_crc_check_and_a_flipped_byte_fails_it(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_image("big", np.random.default_rng(0).random((3, 64, 64)))  # a record > 4 KB
        w.add_scalar("x", 1.0, 0)
    (path,) = event_files(tmp_path)
    assert len(records(path)) == 3  # file_version, image, scalar
    data = bytearray(pathlib.Path(path).read_bytes())
    data[len(data) // 2] ^= 0x10
    pathlib.Path(path).write_bytes(bytes(data))
    with pytest.raises(tb_errors.DataLossError, match="crc32"):
        records(path)


def test_file_names_and_two_writers_in_one_dir(tmp_path):
    a, b = SummaryWriter(tmp_path), SummaryWriter(tmp_path)
    a.add_scalar("a", 1.0, 0)
    b.add_scalar("b", 2.0, 0)
    a.close()
    b.close()
    files = event_files(tmp_path)
    assert len(files) == 2
    host = re.escape(socket.gethostname())
    pattern = rf"events\.out\.tfevents\.\d{{10}}\.{host}\.{os.getpid()}\.\d+$"
    assert all(re.match(pattern, os.path.basename(f)) for f in files)
    acc = accumulator(tmp_path)
    assert [s.value for s in acc.Scalars("a")] == [1.0]
    assert [s.value for s in acc.Scalars("b")] == [2.0]
    first = events(files[0])[0]
    assert first.file_version == "brain.Event:2"


def test_events_wait_in_memory_until_flush(tmp_path):
    w = SummaryWriter(tmp_path, max_queue=100, flush_secs=None)
    (path,) = event_files(tmp_path)
    for step in range(5):
        w.add_scalar("loss", step, step)
    assert len(events(path)) == 1  # only the file_version event reached the file
    w.flush()
    assert len(events(path)) == 6
    for step in range(5, 105):
        w.add_scalar("loss", step, step)
    assert len(events(path)) == 106  # the 100th pending event forced a write
    w.add_scalar("loss", 105, 105)
    w.close()
    assert len(events(path)) == 107


def test_flush_secs_writes_without_flush(tmp_path):
    w = SummaryWriter(tmp_path, flush_secs=0.05)
    w.add_scalar("loss", 3.0, 0)
    (path,) = event_files(tmp_path)
    deadline = time.monotonic() + 10
    while len(events(path)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(events(path)) == 2
    w.close()


def test_close_context_manager_and_reopen(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("x", 1.0, 0)
    assert w.file_writer is None
    w.close()  # closing twice is fine
    w.add_scalar("x", 2.0, 1)  # as in PyTorch, a closed writer opens a new file
    w.close()
    assert len(event_files(tmp_path)) == 2
    assert [(s.step, s.value) for s in accumulator(tmp_path).Scalars("x")] == [(0, 1.0), (1, 2.0)]


def test_default_log_dir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    w.close()
    (run,) = os.listdir(tmp_path / "runs")
    host = re.escape(socket.gethostname())
    assert re.match(rf"[A-Z][a-z]{{2}}\d\d_\d\d-\d\d-\d\d_{host}_lr0\.1$", run)
    assert w.get_logdir() == os.path.join("runs", run)


def test_purge_step_hides_events_of_an_earlier_run(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(10):
            w.add_scalar("loss", step, step)
    (old,) = event_files(tmp_path)
    # The crashed run is older: its file must sort first, as it would a second later.
    stamp = re.search(r"tfevents\.(\d+)\.", old).group(1)
    os.rename(old, old.replace(stamp, f"{int(stamp) - 1:010d}"))
    with SummaryWriter(tmp_path, purge_step=6) as w:
        for step in range(6, 8):
            w.add_scalar("loss", 100 + step, step)
    got = [(s.step, s.value) for s in accumulator(tmp_path).Scalars("loss")]
    assert got == [(s, float(s)) for s in range(6)] + [(6, 106.0), (7, 107.0)]


def test_missing_tensorboard_gives_the_install_hint(tmp_path):
    code = ("import sys; sys.modules['tensorboard'] = None\n"
            "import ember, ember.utils.tensorboard as tb\n"
            "try:\n    tb.SummaryWriter('unused')\nexcept ImportError as e:\n    print(e)\n")
    root = pathlib.Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root)})
    assert "pip install ember[tensorboard]" in out.stdout
    assert not (tmp_path / "unused").exists()


# ---- scalars -------------------------------------------------------------------------------

def test_scalars_read_back_exactly(tmp_path):
    values = [0.1, 1e-8, -3.25, 7, np.float64(2.5), ember.tensor(0.7), ember.tensor([[1.5]]),
              np.array(4.5, np.float32), float("inf")]
    with SummaryWriter(tmp_path) as w:
        for step, v in enumerate(values):
            w.add_scalar("loss", v, step, walltime=1000.0 + step)
    got = accumulator(tmp_path).Scalars("loss")
    assert [e.step for e in got] == list(range(len(values)))
    assert [e.wall_time for e in got] == [1000.0 + s for s in range(len(values))]
    want = [float(np.float32(np.asarray(v if not isinstance(v, ember.Tensor) else v.numpy())
                             .item())) for v in values]
    assert [e.value for e in got] == want  # simple_value is a float32


def test_new_style_scalars(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("f32", 0.1, 3, new_style=True)
        w.add_scalar("f64", 0.1, 3, new_style=True, double_precision=True)
    acc = accumulator(tmp_path)
    (f32,), (f64,) = acc.Tensors("f32"), acc.Tensors("f64")
    assert tensor_util.make_ndarray(f32.tensor_proto) == np.float32(0.1)
    assert tensor_util.make_ndarray(f64.tensor_proto) == 0.1
    assert acc.summary_metadata["f32"].plugin_data.plugin_name == "scalars"
    assert f32.step == 3


def test_scalar_needs_one_value(tmp_path):
    with SummaryWriter(tmp_path) as w, pytest.raises(ValueError, match="one value"):
        w.add_scalar("x", np.zeros(3))


def test_add_scalars_writes_one_run_per_tag(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_scalars("run/loss", {"train": step, "val": -step}, step)
    for tag, sign in (("train", 1), ("val", -1)):
        sub = tmp_path / f"run_loss_{tag}"
        got = accumulator(sub).Scalars("run/loss")
        assert [(e.step, e.value) for e in got] == [(s, sign * s) for s in range(3)]


# ---- histograms ----------------------------------------------------------------------------

def _histo(log_dir, tag):
    (event,) = accumulator(log_dir).Histograms(tag)
    return event.histogram_value


@pytest.mark.parametrize("bins,max_bins", [("tensorflow", None), ("auto", None), (7, None),
                                           (np.linspace(-4, 4, 30), 4), ("tensorflow", 50)])
def test_histogram_matches_torch_and_counts_every_value(tmp_path, bins, max_bins):
    values = np.random.default_rng(1).normal(size=1000)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("h", ember.tensor(values), 5, bins=bins, max_bins=max_bins)
    got = _histo(tmp_path, "h")
    assert got.num == 1000 and sum(got.bucket) == 1000
    assert got.min == values.min() and got.max == values.max()
    np.testing.assert_allclose(got.sum, values.sum())
    np.testing.assert_allclose(got.sum_squares, values @ values)
    torch_bins = w.default_bins if isinstance(bins, str) and bins == "tensorflow" else bins
    (want,) = torch_summary.histogram("h", values, torch_bins, max_bins=max_bins).value
    assert list(got.bucket_limit) == list(want.histo.bucket_limit)
    assert list(got.bucket) == list(want.histo.bucket)


def test_histogram_raw(tmp_path):
    with SummaryWriter(tmp_path) as w:
        w.add_histogram_raw("r", 0, 3, 6, 9, 17, [1, 2, 3], [1, 2, 3], global_step=1)
        with pytest.raises(ValueError, match="differ in length"):
            w.add_histogram_raw("r", 0, 3, 6, 9, 17, [1, 2], [1, 2, 3])
    got = _histo(tmp_path, "r")
    assert (got.min, got.max, got.num, got.sum, got.sum_squares) == (0, 3, 6, 9, 17)
    assert list(got.bucket) == [1, 2, 3]


# ---- images --------------------------------------------------------------------------------

IMAGES = [  # (array, dataformats, method)
    (np.random.default_rng(2).random((3, 5, 7)), "CHW", "add_image"),
    (np.random.default_rng(3).integers(0, 256, (6, 4, 3), dtype=np.uint8), "HWC", "add_image"),
    (np.random.default_rng(4).random((1, 5, 6)), "CHW", "add_image"),
    (np.random.default_rng(5).random((5, 6)), "HW", "add_image"),
    (np.random.default_rng(6).random((4, 3, 8)).astype(np.float32) * 1.5, "CWH", "add_image"),
    (np.random.default_rng(7).random((11, 3, 4, 5)), "NCHW", "add_images"),
    (np.random.default_rng(8).random((3, 4, 5, 1)), "NHWC", "add_images"),
]


@pytest.mark.parametrize("array,fmt,method", IMAGES)
def test_images_decode_to_torchs_pixels(tmp_path, array, fmt, method):
    with SummaryWriter(tmp_path) as w:
        getattr(w, method)("img", ember.tensor(array), 2, dataformats=fmt)
    (event,) = accumulator(tmp_path).Images("img")
    (want,) = torch_summary.image("img", array, dataformats=fmt).value
    assert (event.height, event.width) == (want.image.height, want.image.width)
    got_pixels = decode_png(event.encoded_image_string)
    np.testing.assert_array_equal(got_pixels, decode_png(want.image.encoded_image_string))
    assert got_pixels.shape == (event.height, event.width, want.image.colorspace)


def test_image_pixels_are_the_values_scaled_to_bytes(tmp_path):
    array = np.random.default_rng(9).random((4, 6, 5))  # RGBA, CHW
    with SummaryWriter(tmp_path) as w:
        w.add_image("rgba", array)
    (event,) = accumulator(tmp_path).Images("rgba")
    want = (array.transpose(1, 2, 0).astype(np.float32) * 255).astype(np.uint8)
    np.testing.assert_array_equal(decode_png(event.encoded_image_string), want)


def test_image_errors(tmp_path):
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(ValueError, match="does not match dataformats"):
            w.add_image("x", np.zeros((3, 4)), dataformats="CHW")
        with pytest.raises(ValueError, match="channels"):
            w.add_image("x", np.zeros((2, 4, 4)))


def test_add_figure(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = []
    for k in range(2):
        fig = plt.figure(figsize=(2, 1.5), dpi=50)
        plt.plot([0, 1, 2], [k, 2, 1])
        figures.append(fig)
    with SummaryWriter(tmp_path) as w:
        w.add_figure("one", figures[0], 0, close=False)
        w.add_figure("two", figures, 0)
    acc = accumulator(tmp_path)
    (one,), (two,) = acc.Images("one"), acc.Images("two")
    assert (one.height, one.width) == (75, 100)
    assert (two.height, two.width) == (75, 200)  # two figures side by side
    assert not plt.fignum_exists(figures[0].number)
    pixels = decode_png(two.encoded_image_string)
    assert pixels.min() < 128 < pixels.max()  # the lines are drawn on white


# ---- text, hparams, embeddings -----------------------------------------------------------

def test_text(tmp_path):
    message = "# Notes\nlr = **0.1** — ünïcode"
    with SummaryWriter(tmp_path) as w:
        w.add_text("notes", message, 4)
    acc = accumulator(tmp_path)
    (event,) = acc.Tensors("notes/text_summary")
    assert tensor_util.make_ndarray(event.tensor_proto)[0].decode("utf-8") == message
    assert acc.summary_metadata["notes/text_summary"].plugin_data.plugin_name == "text"


def test_hparams(tmp_path):
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    hp = {"lr": 0.01, "layers": 3, "optimizer": "adam", "bn": True, "unused": None}
    metrics = {"accuracy": 0.875, "loss": 0.25}
    with SummaryWriter(tmp_path) as w:
        w.add_hparams(hp, metrics, {"optimizer": ["adam", "sgd"]}, run_name="trial1")
    acc = accumulator(tmp_path / "trial1")
    content = {tag: acc.summary_metadata[tag].plugin_data for tag in
               (metadata.EXPERIMENT_TAG, metadata.SESSION_START_INFO_TAG,
                metadata.SESSION_END_INFO_TAG)}
    assert {c.plugin_name for c in content.values()} == {metadata.PLUGIN_NAME}
    experiment = metadata.parse_experiment_plugin_data(
        content[metadata.EXPERIMENT_TAG].content)
    start = metadata.parse_session_start_info_plugin_data(
        content[metadata.SESSION_START_INFO_TAG].content)
    end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG]
                                                      .content)
    assert start.hparams["lr"].number_value == 0.01
    assert start.hparams["layers"].number_value == 3
    assert start.hparams["optimizer"].string_value == "adam"
    assert start.hparams["bn"].bool_value is True  # torch stores True as the number 1.0
    assert "unused" not in start.hparams
    assert [m.name.tag for m in experiment.metric_infos] == ["accuracy", "loss"]
    infos = {i.name: i for i in experiment.hparam_infos}
    assert [v.string_value for v in infos["optimizer"].domain_discrete.values] == ["adam", "sgd"]
    assert end.status == plugin_data_pb2.SessionEndInfo(status=1).status  # STATUS_SUCCESS
    for tag, value in metrics.items():
        assert [e.value for e in acc.Scalars(tag)] == [value]
    # Without bools, the three summaries are exactly torch's.
    plain = {k: v for k, v in hp.items() if k != "bn"}
    from ember.utils.tensorboard.summaries import hparams
    assert hparams(plain, metrics) == torch_summary.hparams(plain, metrics)


def test_hparams_errors(tmp_path):
    with SummaryWriter(tmp_path) as w:
        with pytest.raises(TypeError, match="dicts"):
            w.add_hparams([("lr", 1)], {})
        with pytest.raises(ValueError, match="hparam 'f'"):
            w.add_hparams({"f": [1, 2]}, {})


def test_embedding_files_and_projector_config(tmp_path):
    import torch
    from google.protobuf import text_format
    from PIL import Image
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig
    from torch.utils.tensorboard import _embedding

    rng = np.random.default_rng(10)
    mat, images = rng.normal(size=(10, 4)), rng.random((10, 3, 6, 5))
    labels = [f"digit {i % 3}" for i in range(10)]
    with SummaryWriter(tmp_path) as w:
        w.add_embedding(ember.tensor(mat), metadata=labels, label_img=ember.tensor(images),
                        global_step=3, tag="feat/a")
        w.add_embedding(mat[:, :2], metadata=[[i, i % 2] for i in range(10)],
                        metadata_header=["index", "parity"])
    config = text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(),
                               ProjectorConfig())
    first, second = config.embeddings
    assert first.tensor_name == "feat/a:00003"
    assert first.tensor_path == "00003/feat%2fa/tensors.tsv"
    assert list(first.sprite.single_image_dim) == [5, 6]
    np.testing.assert_array_equal(np.loadtxt(tmp_path / first.tensor_path, ndmin=2), mat)
    assert (tmp_path / first.metadata_path).read_text().splitlines() == labels
    assert (tmp_path / second.metadata_path).read_text().splitlines()[:2] == ["index\tparity",
                                                                              "0\t0"]
    sprite = np.asarray(Image.open(tmp_path / first.sprite.image_path))
    torch_dir = tmp_path / "torch"
    torch_dir.mkdir()
    _embedding.make_sprite(torch.tensor(images), str(torch_dir))
    np.testing.assert_array_equal(sprite, np.asarray(Image.open(torch_dir / "sprite.png")))
