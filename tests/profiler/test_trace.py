"""The Chrome trace of a profile: the format Perfetto and chrome://tracing read, and the
same events, names and nesting as the profile itself."""

import json
from collections import Counter

import pytest

from ember.profiler import profile
from tests.profiler.workload import profile_step


def _check_trace_schema(trace):
    """The Trace Event Format's JSON Object Format, as Perfetto and chrome://tracing read it."""
    assert isinstance(trace, dict) and isinstance(trace["traceEvents"], list)
    for ev in trace["traceEvents"]:
        assert isinstance(ev, dict)
        assert ev["ph"] == "X"
        assert isinstance(ev["name"], str) and ev["name"]
        assert ev["cat"] in ("cpu_op", "user_annotation")
        for key in ("pid", "tid"):
            assert isinstance(ev[key], int)
        for key in ("ts", "dur"):
            assert isinstance(ev[key], (int, float)) and ev[key] >= 0
        assert isinstance(ev.get("args", {}), dict)


def _check_nesting(events):
    """Complete events of one thread must nest: a child ends before its parent does."""
    eps = 1e-3  # microseconds: the rounding of a nanosecond clock printed in microseconds
    parents = {}
    for tid in {e["tid"] for e in events}:
        stack = []
        for ev in sorted((e for e in events if e["tid"] == tid),
                         key=lambda e: (e["ts"], -e["dur"])):
            while stack and ev["ts"] >= stack[-1]["ts"] + stack[-1]["dur"] - eps \
                    and ev["ts"] + ev["dur"] > stack[-1]["ts"] + stack[-1]["dur"] + eps:
                stack.pop()
            if stack:
                assert ev["ts"] + ev["dur"] <= stack[-1]["ts"] + stack[-1]["dur"] + eps
            parents[id(ev)] = stack[-1]["name"] if stack else None
            stack.append(ev)
    return parents


def test_chrome_trace_holds_every_event_and_nests(tmp_path):
    prof, _ = profile_step(record_shapes=True, profile_memory=True)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    _check_trace_schema(trace)
    events = trace["traceEvents"]
    averages = prof.key_averages()
    assert Counter(e["name"] for e in events) == {a.key: a.count for a in averages}
    parents = _check_nesting(events)
    recorded = sorted(prof.events(), key=lambda e: (e.start_ns, -e.end_ns))
    assert [e["name"] for e in events] == [e.name for e in recorded]
    for ev, e in zip(events, recorded):
        assert parents[id(ev)] == (e.cpu_parent.name if e.cpu_parent else None)
        assert ev["dur"] == pytest.approx(e.cpu_time_total)
        if e.input_shapes:
            assert ev["args"]["Input Dims"] == e.input_shapes
    conv = next(e for e in events if e["name"] == "conv2d")
    assert conv["args"]["Input Dims"] == [[5, 1, 8, 8], [4, 1, 3, 3], [4]]


def test_chrome_trace_of_an_empty_profile(tmp_path):
    with profile() as prof:
        pass
    prof.export_chrome_trace(tmp_path / "empty.json")
    assert json.loads((tmp_path / "empty.json").read_text())["traceEvents"] == []
