"""The example programs run as a user runs them: a fresh interpreter, a few steps."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_example(name, *args, timeout=300):
    """stdout of ``python examples/<name> *args``; fails on a non-zero exit.

    BLAS runs on one thread: the tests share the machine with other processes, and a
    multi-threaded BLAS call then waits for a scheduler slice per call (measured: a GPT
    forward on 64 tokens 5 ms with one thread, 240 ms with two on a busy machine)."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=timeout, env=env,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize("model", ["both"])
def test_char_lm_trains_and_samples(model):
    out = run_example("char_lm.py", "--steps", "3", "--model", model, "--seed", "1")
    assert re.search(r"text: [\d,]+ characters", out)
    for name in ("lstm", "gpt"):
        losses = [float(v) for v in re.findall(rf"^{name} step +\d+  loss (\d+\.\d+)", out,
                                               re.MULTILINE)]
        assert len(losses) == 3, out
        assert all(0 < v < 10 for v in losses), losses
        assert re.search(rf"^{name} validation loss \d+\.\d+$", out, re.MULTILINE), out
        sample = re.search(rf"^--- {name} sample ---\n(.*?)\n---$", out, re.DOTALL | re.MULTILINE)
        assert sample, out
        assert sample.group(1).startswith("def forward(self, ")
        assert len(sample.group(1)) == len("def forward(self, ") + 300


def test_char_lm_one_model_and_seed_reproducibility():
    first = run_example("char_lm.py", "--steps", "2", "--model", "lstm", "--seed", "3")
    second = run_example("char_lm.py", "--steps", "2", "--model", "lstm", "--seed", "3")
    assert "gpt" not in first
    strip = re.compile(r"\(\d+\.\d s\)|total \d+\.\d s")  # timings differ run to run
    assert strip.sub("", first) == strip.sub("", second)


def test_fit_digits_writes_checkpoints_tensorboard_and_plot(tmp_path):
    out = run_example("fit_digits.py", "--logdir", str(tmp_path), "--epochs", "2")
    assert "Total params: 17,258" in out
    assert re.search(r"^Epoch 2/2 .* val_accuracy: 0\.\d+", out, re.MULTILINE), out
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.glob("events.out.tfevents.*")) or list(tmp_path.rglob("events.*"))
    assert (tmp_path / "checkpoints" / "last.safetensors").exists()


def test_digits_demo_reaches_97_percent_and_reloads(tmp_path):
    ckpt = tmp_path / "digits.safetensors"
    out = run_example("digits_cnn.py", "--epochs", "12", "--checkpoint", str(ckpt))
    final = re.findall(r"test accuracy (\d+\.\d+)%", out)
    reloaded = re.search(r"reloaded into a fresh model, test accuracy (\d+\.\d+)% "
                         r"\(before saving: (\d+\.\d+)%\)", out)
    assert reloaded and reloaded.group(1) == reloaded.group(2), out
    assert float(final[-2]) >= 97.0, out


def test_graphs_example_compiles_traces_saves_and_exports(tmp_path):
    out = run_example("graphs.py", "--epochs", "1", "--out", str(tmp_path))
    assert re.search(r"^epoch 1  loss \d\.\d{4}", out, re.MULTILINE), out
    assert "graph(%x0: float32[256, 1, 28, 28]):" in out
    diffs = [float(v) for v in re.findall(r"max difference (?:after load )?(\S+)", out)]
    assert len(diffs) == 3 and all(d < 1e-4 for d in diffs), out
    assert (tmp_path / "lenet.ember").exists() and (tmp_path / "lenet.onnx").exists()
