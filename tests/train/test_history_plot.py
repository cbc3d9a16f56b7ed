"""History.plot writes a PNG of the curves."""

import io
import math
import struct
import sys

import pytest

from ember.train import History

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _history():
    history = History()
    logs = [{"loss": 1.0 / (e + 1), "accuracy": 0.5 + 0.1 * e, "val_loss": 1.2 / (e + 1),
             "val_accuracy": 0.45 + 0.1 * e, "learning_rate": 0.1 * 0.5 ** e}
            for e in range(4)]
    for epoch, entry in enumerate(logs):
        history.on_epoch_end(epoch, entry)
    return history


def test_plot_writes_a_png(tmp_path):
    path = tmp_path / "curves.png"
    figure = _history().plot(path)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert (width, height) == (1350, 340)  # three panels of 4.5 x 3.4 inches at 100 dpi
    assert 10_000 < len(data) < 500_000
    titles = [axes.get_title() for axes in figure.axes]
    assert titles == ["loss", "accuracy", "learning_rate"]
    labels = [[line.get_label() for line in axes.get_lines()] for axes in figure.axes]
    assert labels == [["training", "validation"], ["training", "validation"], ["learning_rate"]]
    assert list(figure.axes[0].get_lines()[1].get_ydata()) == [1.2 / (e + 1) for e in range(4)]
    assert list(figure.axes[0].get_lines()[1].get_xdata()) == [1, 2, 3, 4]


def test_plot_to_a_file_object_and_of_one_value():
    history = History()
    history.on_epoch_end(0, {"loss": 2.0})
    buffer = io.BytesIO()
    history.plot(buffer)
    assert buffer.getvalue().startswith(PNG_SIGNATURE)


def test_a_missing_matplotlib_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install ember\[train\]"):
        _history().plot(tmp_path / "curves.png")


def test_a_value_missing_from_an_epoch_is_nan():
    history = History()
    history.on_epoch_end(0, {"loss": 2.0})
    history.on_epoch_end(1, {"loss": 1.0, "learning_rate": 0.1})
    history.on_epoch_end(2, {"loss": 0.5})
    assert history.history["learning_rate"][1] == 0.1
    assert all(math.isnan(v) for v in history.history["learning_rate"][::2])

