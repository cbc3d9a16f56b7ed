"""Compiled against eager ember, paired: both steps in one process, in alternating blocks.

``benchmarks/run.py`` times ``ember`` and ``ember-compiled`` in separate interpreters, a
few seconds apart, and these machines' speed drifts 1.1-1.9x between such runs (see
WORKLOADS.md), more than the gap that issue #6 asks to show. Here one process builds the
workload's training step twice, from the same arrays (one model run eagerly, one through
``ember.compile``), warms both, then times ``blocks`` blocks of ``steps`` steps, eager and
compiled taking turns (ABBA order, so neither always runs first). The two blocks of a pair
run within a second of each other, so the machine's drift cancels in their ratio (eager's
time per step over compiled's); the figure is the median of the pairs' ratios, with their
range. Both steps share the process's threads and its step tuner, as they would in a
user's program. Nothing here is part of the tests, which never time.

Run: .venv/bin/python -m benchmarks.paired [--only mlp,lenet] [--blocks 20] [--steps 10]
"""

import argparse
import json
import statistics
import time

from benchmarks.workloads import WORKLOADS

TRAINING = [name for name, w in WORKLOADS.items() if w.kind == "train"]


def pair(name, blocks=20, steps=10, warmup=10):
    """``{"eager_ms", "compiled_ms", "ratio", "ratios"}`` for workload ``name`` (see the
    module docstring); times are medians over blocks, in ms per step."""
    import ember

    workload = WORKLOADS[name]
    eager = workload.build("ember", ember, workload.arrays())
    compiled = ember.compile(workload.build("ember", ember, workload.arrays()))
    for _ in range(warmup):
        eager()
        compiled()
    times = {eager: [], compiled: []}
    for block in range(blocks):
        order = (eager, compiled) if block % 4 in (0, 3) else (compiled, eager)
        for step in order:
            start = time.perf_counter()
            for _ in range(steps):
                step()
            times[step].append((time.perf_counter() - start) / steps * 1e3)
    ratios = [e / c for e, c in zip(times[eager], times[compiled])]
    return {"eager_ms": statistics.median(times[eager]),
            "compiled_ms": statistics.median(times[compiled]),
            "ratio": statistics.median(ratios), "ratios": ratios}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(TRAINING))
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    results = {}
    print("| workload | eager ms/step | compiled ms/step | eager ÷ compiled, median of "
          "pairs [min–max] |\n|---|---|---|---|")
    for name in args.only.split(","):
        r = results[name] = pair(name, args.blocks, args.steps)
        print(f"| `{name}` | {r['eager_ms']:.2f} | {r['compiled_ms']:.2f} | "
              f"{r['ratio']:.3f} [{min(r['ratios']):.2f}–{max(r['ratios']):.2f}] |",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
