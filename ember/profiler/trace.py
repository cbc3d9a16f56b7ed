"""Chrome Trace Event Format export, which chrome://tracing and Perfetto open.

Each event becomes one complete event (``"ph": "X"``) with its start ``ts`` and duration
``dur`` in microseconds since the profiler started; events of one thread nest by time,
which is how the viewers draw ops inside ranges and backward functions.
"""

import json
import os

__all__ = ["export_chrome_trace", "trace_events"]


def trace_events(events):
    """The ``traceEvents`` list for ``events``, in order of start time."""
    pid = os.getpid()
    out = []
    for e in sorted(events, key=lambda e: (e.start_ns, -e.end_ns)):
        args = {}
        if e.input_shapes:
            args["Input Dims"] = [list(s) for s in e.input_shapes]
        if e.self_bytes:
            args["Bytes"] = e.self_bytes
        out.append({"ph": "X", "cat": e.category, "name": e.name, "pid": pid,
                    "tid": e.thread, "ts": e.start_ns / 1000,
                    "dur": (e.end_ns - e.start_ns) / 1000, "args": args})
    return out


def export_chrome_trace(events, path):
    """Write ``{"traceEvents": [...]}`` for ``events`` to ``path`` (a ``.json`` file)."""
    trace = {"traceEvents": trace_events(events), "displayTimeUnit": "ms"}
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        json.dump(trace, f)
