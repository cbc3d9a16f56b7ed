"""The real ``tensorboard`` server, started on loopback over a log dir that SummaryWriter
wrote, serves the same values through its HTTP data API."""

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

pytest.importorskip("tensorboard")

import ember
import ember.nn as enn
from ember.utils.tensorboard import SummaryWriter

STARTUP = 30  # seconds the server gets to come up and load the runs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, **query):
    url = f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.read()


def wait_for(port, proc, log, path, **query):
    """The body of ``path`` once it answers with data, polling for at most STARTUP seconds."""
    deadline = time.monotonic() + STARTUP
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"tensorboard exited with {proc.returncode}:\n{log.read_text()}")
        try:
            body = get(port, path, **query)
            if body and body not in (b"[]", b"{}"):
                return body
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    pytest.fail(f"tensorboard did not serve {path} within {STARTUP} s:\n{log.read_text()}")


def test_tensorboard_serves_scalars_text_and_graph(tmp_path):
    losses = [2.5, 1.25, 0.8, 0.1, 0.05]
    model = enn.Sequential(enn.Linear(4, 8), enn.ReLU(), enn.Linear(8, 2))
    with SummaryWriter(tmp_path / "logs" / "train") as w:
        for step, loss in enumerate(losses):
            w.add_scalar("loss", loss, step)
        w.add_text("notes", "hello *tensorboard*", 0)
        w.add_graph(model, ember.randn(3, 4))
    log = tmp_path / "tensorboard.log"
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", str(tmp_path / "logs"),
             "--host", "127.0.0.1", "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        body = wait_for(port, proc, log, "/data/plugin/scalars/scalars", run="train", tag="loss")
        points = json.loads(body)
        assert [p[1] for p in points] == list(range(len(losses)))
        assert [p[2] for p in points] == [float(np.float32(v)) for v in losses]

        assert json.loads(get(port, "/data/runs")) == ["train"]
        (text,) = json.loads(get(port, "/data/plugin/text/text", run="train",
                                 tag="notes/text_summary"))
        assert "<em>tensorboard</em>" in text["text"]

        from google.protobuf import text_format
        from tensorboard.compat.proto.graph_pb2 import GraphDef

        served = text_format.Parse(get(port, "/data/plugin/graphs/graph", run="train").decode(),
                                   GraphDef())
        names = [n.name for n in served.node]
        assert "Sequential/Linear[0]/linear" in names and "output/output.0" in names
        assert all(i.split(":")[0] in names for n in served.node for i in n.input)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
