"""Times every workload and micro figure of ../shared/benchmarks/WORKLOADS.md in ember and
PyTorch, in one run, and reports each row's ember ÷ PyTorch ratio.

    .venv/bin/python -m benchmarks.run [--only mlp,lenet,...] [--rounds 3]
        [--frameworks ember,torch] [--json out.json] [--markdown] [--wait-idle SECONDS]
        [--contend N]

Rows: mlp, lenet, resnet8, lstm, transformer, infer-lenet, infer-transformer (models in
``benchmarks/workloads/``), then the micro figures op-overhead, gemm, import
(``benchmarks/micro.py``). For each row, each round runs every framework once, each in a
fresh interpreter (``benchmarks/measure.py``), in alternating order; the protocol and the
contention figure are described in ``benchmarks/protocol.py``, the peak memory in
``benchmarks/memory.py``; ``--contend 1`` times everything with one other process
keeping a core busy (``benchmarks/contention.py``). Prints the table, writes the JSON (default
``benchmarks/results/latest.json``), and with ``--markdown`` the README section.

The whole suite takes several minutes; it is not part of the tests (which never time).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks import contention, frameworks, micro, protocol, report
from benchmarks.workloads import WORKLOADS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = list(WORKLOADS) + list(micro.FIGURES)
MICRO_SHAPES = {"op-overhead": "3 scalars", "gemm": "1024×1024×1024",
                "import": "fresh interpreter"}
DEFAULT_JSON = os.path.join(ROOT, "benchmarks", "results", "latest.json")


def measure(name, framework, settings, timeout):
    """Runs ``benchmarks.measure`` for one row and framework in a fresh interpreter."""
    flags = [f"--{key.replace('_', '-')}={value}" for key, value in settings.items()]
    cmd = [sys.executable, "-m", "benchmarks.measure", name, framework, *flags]
    try:
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout} s"}
    lines = done.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return {"error": tail[0]}


def describe(name):
    """The row's kind, unit, which way is better, and its batch."""
    if name in WORKLOADS:
        w = WORKLOADS[name]
        unit, better = ("steps/s", "higher") if w.kind == "train" else ("ms", "lower")
        return {"kind": w.kind, "unit": unit, "better": better, "batch": w.batch}
    unit, _, better = micro.FIGURES[name]
    return {"kind": "micro", "unit": unit, "better": better, "batch": MICRO_SHAPES[name]}


def run_row(name, fws, args, settings):
    """All rounds of one row, frameworks interleaved; the summarized row."""
    if name in micro.FIGURES:  # the micro figures are the framework's own, not a variant's
        fws = [fw for fw in fws if fw not in frameworks.MODULE]
    runs = {fw: [] for fw in fws}
    for order in protocol.round_orders(fws, args.rounds):
        for fw in order:
            idle = protocol.wait_for_idle(args.wait_idle) if args.wait_idle else None
            result = measure(name, fw, settings, args.timeout)
            runs[fw].append(result | {"idle_wait": idle})
    row = describe(name) | protocol.summarize(runs)
    for stats in row["frameworks"].values():
        peaks = [r["memory"]["peak_added_mb"] for r in stats["rounds"] if "memory" in r]
        stats["peak_mb"] = statistics.median(peaks) if peaks else None
        totals = [r["memory"]["peak_total_mb"] for r in stats["rounds"]
                  if "peak_total_mb" in r.get("memory", {})]
        stats["peak_total_mb"] = statistics.median(totals) if totals else None
    return row


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(ROWS),
                        help=f"comma-separated rows (default all: {','.join(ROWS)})")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of every framework per row (default 3)")
    parser.add_argument("--frameworks", default=",".join(frameworks.IMPLEMENTED),
                        help="comma-separated (default ember,torch); the ratio is always "
                        "ember ÷ PyTorch")
    parser.add_argument("--json", default=DEFAULT_JSON, help="where to write the results")
    parser.add_argument("--markdown", action="store_true",
                        help="also print the README section")
    parser.add_argument("--wait-idle", type=float, default=0, metavar="SECONDS",
                        help="before each measurement, wait up to this long for other "
                        "processes to use under 0.25 cores")
    parser.add_argument("--contend", type=int, default=0, metavar="N",
                        help="keep N other processes spinning on a core each while "
                        "measuring (the figures under contention WORKLOADS.md asks for)")
    parser.add_argument("--timeout", type=float, default=1800,
                        help="seconds allowed to one measurement")
    # For testing the suite itself; the published protocol is WORKLOADS.md's (defaults).
    for key, value in protocol.DEFAULTS.items():
        parser.add_argument("--" + key.replace("_", "-"), type=int, default=value,
                            help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.contend and args.wait_idle:
        parser.error("--contend keeps the machine busy on purpose; drop --wait-idle")
    unknown = [n for n in args.only.split(",") if n not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; choose from {', '.join(ROWS)}")
    try:
        args.frameworks = frameworks.check(args.frameworks.split(","))
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv=None):
    args = parse(argv)
    settings = {key: getattr(args, key) for key in protocol.DEFAULTS}
    names = [n for n in ROWS if n in args.only.split(",")]
    results = {"machine": report.machine_info(args.frameworks), "protocol": settings,
               "rounds": args.rounds, "frameworks": args.frameworks, "contend": args.contend,
               "rows": {}}
    start = time.perf_counter()
    with contention.busy_cores(args.contend):
        for name in names:
            row = run_row(name, args.frameworks, args, settings)
            results["rows"][name] = row
            print(report.progress(name, row), file=sys.stderr, flush=True)
    results["elapsed_s"] = time.perf_counter() - start
    print(report.table(results))
    print(f"\nJSON: {report.write_json(results, args.json)}")
    if args.markdown:
        print("\n" + report.markdown(results))
    return results


if __name__ == "__main__":
    main()
