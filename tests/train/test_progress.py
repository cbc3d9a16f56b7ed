"""The progress output of fit: a tqdm bar on a terminal, nothing on a pipe, one line per
epoch with verbose=2."""

import fcntl
import io
import os
import pathlib
import pty
import struct
import subprocess
import sys
import termios

import pytest

import ember
from ember import nn
from ember.train import Trainer
from ember.train.callbacks import ProgressBar
from tests.train.helpers import toy_loader

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _trainer():
    ember.manual_seed(0)
    model = nn.Linear(3, 1)
    return Trainer(model, ember.optim.SGD(model.parameters(), lr=0.05), "mse", metrics=["mae"])


def test_verbose_2_prints_one_line_per_epoch(capsys):
    history = _trainer().fit(toy_loader(), validation_data=toy_loader(seed=1), epochs=3,
                             verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for epoch, line in enumerate(lines):
        title, seconds, *values = line.split(" - ")
        assert title == f"Epoch {epoch + 1}/3" and seconds.endswith("s")
        assert values == [f"{name}: {history.history[name][epoch]:.4f}"
                          for name in ("loss", "mae", "val_loss", "val_mae")]


def test_verbose_1_is_quiet_when_stdout_is_not_a_terminal(capsys):
    _trainer().fit(toy_loader(), epochs=2, verbose=1)  # pytest's capture is no terminal
    _trainer().fit(toy_loader(), epochs=2, verbose=0)
    assert capsys.readouterr() == ("", "")


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_the_bar_shows_running_and_validation_values():
    stream = FakeTerminal()
    bar = ProgressBar(verbose=1, file=stream)
    history = _trainer().fit(toy_loader(), validation_data=toy_loader(seed=1), epochs=2,
                             verbose=0, callbacks=[bar])
    text = stream.getvalue()
    for epoch in (0, 1):
        line = [part for part in text.split("\r") if f"Epoch {epoch + 1}/2" in part][-1]
        assert "4/4" in line and "100%" in line
        assert f"val_mae: {history.history['val_mae'][epoch]:.4f}" in line
        assert f"loss: {history.history['loss'][epoch]:.4f}" in line


def test_a_missing_tqdm_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install ember\[train\]"):
        _trainer().fit(toy_loader(), callbacks=[ProgressBar(file=FakeTerminal())], verbose=0)
    _trainer().fit(toy_loader(), callbacks=[ProgressBar(verbose=2, file=FakeTerminal())],
                   verbose=0)  # one line per epoch needs no tqdm


def test_a_real_terminal_gets_a_bar():
    script = ("import ember; from ember.train import Trainer;"
              "from tests.train.helpers import toy_loader;"
              "m = ember.nn.Linear(3, 1);"
              "Trainer(m, ember.optim.SGD(m.parameters(), lr=0.05), 'mse')"
              ".fit(toy_loader(), epochs=2)")
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-c", script], stdout=child, stderr=child,
                               cwd=ROOT, env=env)
    os.close(child)
    output = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(main)
    assert process.wait(timeout=60) == 0, output.decode(errors="replace")
    text = output.decode()
    assert "Epoch 1/2" in text and "Epoch 2/2" in text and "4/4" in text
    assert "loss: " in text and "\r" in text  # redrawn in place
