"""The benchmark suite builds and runs: every workload takes one step in ember, the models
match PyTorch's layer for layer, and the runner's pipeline (fresh interpreters, memory,
contention, table, JSON, README section) works end to end on a shortened protocol.
Nothing here times anything or asserts on speed."""

import json
import math
import time

import numpy as np
import pytest

import ember
from benchmarks import contention, memory, paired, protocol, report, run
from benchmarks.workloads import FAMILIES, WORKLOADS


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_workload_runs_one_step_in_ember(name):
    workload = WORKLOADS[name]
    ember.manual_seed(0)
    out = workload.build("ember", ember, workload.arrays())()
    if workload.kind == "train":
        assert out.shape == () and math.isfinite(out.item())
    else:
        assert not out.requires_grad and np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("family", list(FAMILIES))
def test_ember_model_has_the_reference_models_parameters(family):
    """ember's model (from ember.models where it exists) and the network PyTorch times
    have the same parameters: same shapes, in the same order."""
    torch = pytest.importorskip("torch")
    module = FAMILIES[family]
    ours = [tuple(p.shape) for p in module.model("ember", ember).parameters()]
    theirs = [tuple(p.shape) for p in module.model("torch", torch).parameters()]
    assert ours == theirs


def test_inputs_are_the_same_in_every_interpreter():
    a, b = WORKLOADS["lenet"].arrays(), WORKLOADS["lenet"].arrays()
    assert a["inputs"].dtype == np.float32 and a["targets"].dtype == np.int64
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_peak_memory_sees_an_allocation():
    probe = memory.PeakMemory().start()
    block = np.ones(40_000_000 // 8)  # 40 MB, touched
    assert block.sum() > 0
    assert probe.added_mb() >= 35


def test_summary_takes_the_median_of_per_round_ratios():
    def result(v):
        return {"value": v, "samples": [v, v + 1], "cpu": {"other_cores": 0.5}}

    runs = {"ember": [result(10), result(30), result(20)],
            "torch": [result(20), result(20), {"error": "boom"}]}
    row = protocol.summarize(runs)
    assert row["ratios"] == [0.5, 1.5] and row["ratio"] == 1.0
    assert row["frameworks"]["ember"]["value"] == 20
    assert row["frameworks"]["ember"]["max"] == 31
    assert row["frameworks"]["torch"]["errors"] == ["boom"]
    assert protocol.round_orders(["a", "b"], 3) == [["a", "b"], ["b", "a"], ["a", "b"]]


def test_runner_end_to_end_on_a_shortened_protocol(tmp_path, capsys):
    path = tmp_path / "out.json"
    run.main(["--only", "mlp,infer-lenet", "--frameworks", "ember", "--rounds", "1",
              "--warmup", "1", "--repeats", "2", "--steps", "1", "--infer-warmup", "1",
              "--calls", "3", "--json", str(path), "--markdown"])
    printed = capsys.readouterr().out
    results = json.loads(path.read_text())
    for name in ("mlp", "infer-lenet"):
        stats = results["rows"][name]["frameworks"]["ember"]
        assert stats["errors"] == [] and stats["value"] > 0 and stats["peak_mb"] >= 0
        assert results["rows"][name]["other_cores"] >= 0
        assert name in printed
    assert report.MARKER in printed and "SHORTENED PROTOCOL" in printed


def test_busy_cores_spin_while_measuring_and_stop_after():
    with contention.busy_cores(1) as spinners:
        with protocol.CpuMonitor() as cpu:
            time.sleep(0.5)
        assert all(p.poll() is None for p in spinners)  # still spinning
    assert all(p.returncode is not None for p in spinners)  # killed and reaped
    # A spinner keeps about one core busy (ticks are 10 ms; other tests may add load).
    assert cpu.report()["other_cores"] > 0.3


def test_contended_run_names_its_load_in_the_readme_section():
    results = {"contend": 1, "rows": {}, "machine": {"cores": 2}}
    assert report.heading(results) == "Speed with one core kept busy"
    assert report.heading({"contend": 0}) == "Speed"
    assert "spun on a core" in report._contention(results)


def test_paired_times_both_steps_in_turn():
    result = paired.pair("mlp", blocks=2, steps=1, warmup=1)
    assert len(result["ratios"]) == 2
    assert all(math.isfinite(r) and r > 0 for r in result["ratios"])
    assert result["eager_ms"] > 0 and result["compiled_ms"] > 0
