"""One measurement in a fresh interpreter: one workload or micro figure, one framework,
one round. ``benchmarks/run.py`` starts it once per (round, framework, row) and reads the
JSON object it prints as its last line.

A fresh interpreter per measurement keeps the frameworks apart: PyTorch's idle OpenMP
threads spin-wait, and NumPy's BLAS threads too, so two frameworks in one process would
slow each other; and the peak memory (``benchmarks/memory.py``) is the workload's alone.

Run by hand: .venv/bin/python -m benchmarks.measure mlp ember
"""

import argparse
import json
import traceback

from benchmarks import frameworks, micro
from benchmarks.memory import PeakMemory
from benchmarks.protocol import DEFAULTS, CpuMonitor, time_inference, time_training
from benchmarks.workloads import WORKLOADS


def measure_workload(workload, framework, protocol):
    """Times ``workload`` in ``framework`` and measures the peak memory it adds."""
    lib = frameworks.load(framework)
    arrays = workload.arrays()
    memory = PeakMemory().start()
    lib.manual_seed(0)
    step = workload.build(frameworks.MODULE.get(framework, framework), lib, arrays)
    if framework == "ember-compiled":
        step = lib.compile(step)  # the whole step (or inference call) as one graph
    if workload.kind == "train":
        result = time_training(step, protocol["warmup"], protocol["repeats"], protocol["steps"])
        result["unit"] = "steps/s"
    else:
        result = time_inference(step, protocol["infer_warmup"], protocol["calls"])
        result["unit"] = "ms"
    result["memory"] = memory.report()
    return result


def measure_micro(figure, framework):
    """One micro figure of ``benchmarks/micro.py`` (its own repeats and statistic)."""
    unit, compute, _ = micro.FIGURES[figure]
    if framework in frameworks.MODULE:
        raise ValueError(f"{figure} is a figure of the framework itself, not of {framework}")
    # import is timed in fresh interpreters of its own; loading the framework here first
    # would only add noise.
    lib = None if figure == "import" else frameworks.load(framework)
    with CpuMonitor() as cpu:
        value = compute(lib, framework)
    return {"value": value, "samples": [value], "unit": unit, "cpu": cpu.report()}


def measure(name, framework, protocol):
    """The result dict for row ``name``; ``{"error": ...}`` if it raised."""
    try:
        if name in WORKLOADS:
            return measure_workload(WORKLOADS[name], framework, protocol)
        return measure_micro(name, framework)
    except Exception as exc:  # noqa: BLE001 -- any failure is a table entry; other rows run
        return {"error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=-4)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=list(WORKLOADS) + list(micro.FIGURES))
    parser.add_argument("framework", choices=frameworks.IMPLEMENTED)
    for key, value in DEFAULTS.items():
        parser.add_argument("--" + key.replace("_", "-"), type=int, default=value)
    args = parser.parse_args(argv)
    protocol = {key: getattr(args, key) for key in DEFAULTS}
    print(json.dumps(measure(args.name, args.framework, protocol)), flush=True)


if __name__ == "__main__":
    main()
