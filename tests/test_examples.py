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
