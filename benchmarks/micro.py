"""Micro figures from ../shared/benchmarks/WORKLOADS.md: op-overhead, gemm and import.

Each figure is measured for ember and PyTorch in the same run, interleaved over several
rounds (the machines drift 1.1-1.9x between runs), and reported with the median ratio.

``benchmarks/run.py`` runs the same figures beside the workloads, each in a fresh interpreter.

Run: .venv/bin/python -m benchmarks.micro [--rounds 5] [--only op-overhead,import,gemm]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def op_overhead(lib, n=10_000):
    """Median seconds of one ((a * b + c).sum()).backward() on scalar tensors."""
    a, b, c = (lib.tensor(v, requires_grad=True) for v in (1.0, 2.0, 3.0))
    for _ in range(200):
        ((a * b + c).sum()).backward()
    times = []
    clock = time.perf_counter
    for _ in range(n):
        t0 = clock()
        ((a * b + c).sum()).backward()
        times.append(clock() - t0)
    return statistics.median(times)


def gemm(lib, size=1024, repeats=20):
    """GFLOP/s of a size^3 float32 matrix product, best of ``repeats``."""
    x = lib.randn(size, size)
    y = lib.randn(size, size)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        x @ y
        best = min(best, time.perf_counter() - t0)
    return 2 * size ** 3 / best / 1e9


def import_time(name, repeats=5):
    """Median seconds to import ``name`` in a fresh interpreter, with bytecode cached.

    pip-installed packages (PyTorch) ship their compiled bytecode; an editable checkout
    (ember here) gets it on its first import, unless PYTHONDONTWRITEBYTECODE forbids
    writing it, and then every import compiles all of its modules again. The children run
    without that variable, after one unmeasured import, so both are timed as users have them.
    """
    code = f"import time; t = time.perf_counter(); import {name}; print(time.perf_counter() - t)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def once():
        return float(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                    text=True, check=True, env=env).stdout)

    once()
    return statistics.median(once() for _ in range(repeats))


def _libs():
    import torch

    import ember

    torch.set_num_threads(os.cpu_count())
    return {"ember": ember, "torch": torch}


FIGURES = {
    "op-overhead": ("us", lambda lib, name: op_overhead(lib) * 1e6, "lower"),
    "gemm": ("GFLOP/s", lambda lib, name: gemm(lib), "higher"),
    "import": ("s", lambda lib, name: import_time(name), "lower"),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(FIGURES))
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    libs = _libs()
    results = {}
    for figure in args.only.split(","):
        unit, measure, better = FIGURES[figure]
        samples = {name: [] for name in libs}
        ratios = []
        for _ in range(args.rounds):
            round_values = {name: measure(lib, name) for name, lib in libs.items()}
            for name, v in round_values.items():
                samples[name].append(v)
            ratios.append(round_values["ember"] / round_values["torch"])
        row = {name: statistics.median(v) for name, v in samples.items()}
        row["ratio"] = statistics.median(ratios)
        row["unit"], row["better"] = unit, better
        results[figure] = row
        print(f"{figure:12s} ember {row['ember']:9.3f} {unit:8s} torch {row['torch']:9.3f} "
              f"{unit:8s} ember/torch {row['ratio']:.2f} ({better} is better)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
