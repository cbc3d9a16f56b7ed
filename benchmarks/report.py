"""The suite's outputs: the table printed after a run, the JSON file, and the README
section (``--markdown``), all from one results dict (see ``benchmarks/run.py``).

Re-render a saved run: .venv/bin/python -m benchmarks.report results.json [--markdown]
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

from benchmarks.frameworks import LABELS, MODULE, version
from benchmarks.protocol import DEFAULTS

MARKER = "measured by `python -m benchmarks.run`, not edited by hand"
CONTENDED = 0.25  # other processes' cores above which a figure is flagged as contended


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _numpy_blas():
    import numpy

    try:
        blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas['name']} {blas.get('version', '')}".strip()
    except (KeyError, TypeError, AttributeError):  # the config's layout is not a stable API
        return "unknown BLAS"


def _commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False,
                             capture_output=True, text=True,
                             cwd=os.path.dirname(os.path.abspath(__file__)))
        return out.stdout.strip() or None
    except OSError:
        return None


def machine_info(frameworks):
    """Date, machine and versions, recorded with every run."""
    import numpy

    now = datetime.datetime.now(datetime.timezone.utc)
    return {"date": now.strftime("%Y-%m-%d %H:%M UTC"), "cores": os.cpu_count(),
            "cpu": _cpu_model(), "system": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "numpy": numpy.__version__,
            "numpy_blas": _numpy_blas(), "commit": _commit(),
            "versions": {name: version(name) for name in dict.fromkeys(
                MODULE.get(f, f) for f in frameworks)}}


def _num(v):
    """A figure with about three significant digits, without exponents."""
    if v is None:
        return "—"
    for limit, digits in ((100, 0), (10, 1), (1, 2)):
        if abs(v) >= limit:
            return f"{v:.{digits}f}"
    return f"{v:.3f}"


def verdict(ratio, better):
    """``ratio`` = ember ÷ PyTorch of a figure where ``better`` is "higher" or "lower",
    as words: "1.9× slower", "1.3× faster"."""
    if ratio is None:
        return ""
    speed = ratio if better == "higher" else 1 / ratio
    return f"{speed:.2f}× faster" if speed >= 1 else f"{1 / speed:.2f}× slower"


def progress(name, row):
    """One line per finished row, printed while the suite runs."""
    values = ", ".join(f"{fw} {_num(s['value'])}" for fw, s in row["frameworks"].items())
    return (f"{name}: {values} {row['unit']}; ember÷PyTorch {_num(row['ratio'])}; "
            f"others {_num(row['other_cores'])} cores")


def _cell(stats):
    if stats is None:
        return "n/a"
    if stats["value"] is None:
        return "error"
    return f"{_num(stats['value'])} [{_num(stats['min'])}–{_num(stats['max'])}]"


def _mb(stats, key="peak_mb"):
    return "" if stats is None or stats.get(key) is None else f"{stats[key]:.1f}"


def table(results):
    """The plain-text table: one row per workload or micro figure."""
    fws = results["frameworks"]
    head = ["row", "unit"] + [LABELS[f] + " median [min–max]" for f in fws]
    compiled = "ember-compiled" in fws
    head += ["ember÷PyTorch", "ember is"] + (["compiled÷PyTorch"] if compiled else [])
    head += [f"peak MB {LABELS[f]}" for f in fws] + ["others (cores)"]
    lines = []
    for name, row in results["rows"].items():
        stats = [row["frameworks"].get(f) for f in fws]
        others = row["other_cores"]
        lines.append([name, row["unit"]] + [_cell(s) for s in stats]
                     + [_num(row["ratio"]), verdict(row["ratio"], row["better"])]
                     + ([_num(row.get("compiled_ratio"))] if compiled else [])
                     + [_mb(s) for s in stats]
                     + [f"{_num(others)} (max {_num(row['other_cores_max'])})"])
    widths = [max(len(r[i]) for r in [head] + lines) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head] + lines]
    out.insert(1, "-" * len(out[0]))
    return "\n".join(out + [""] + _notes(results))


def _protocol_note(results):
    return (f"{results['rounds']} rounds, frameworks interleaved, each measurement in a "
            f"fresh interpreter; ratio = median of the per-round ratios; [min–max] over all "
            f"repeats (training) or rounds (latency, micro).")


def _machine_note(m):
    versions = ", ".join(f"{LABELS[k]} {v}" for k, v in m["versions"].items())
    commit = f", commit {m['commit']}" if m.get("commit") else ""
    return (f"{m['date']}; {m['cores']} cores ({m['cpu']}), {m['system']}; Python "
            f"{m['python']}, NumPy {m['numpy']} ({m['numpy_blas']}), {versions}{commit}.")


def _contention(results):
    """How busy other processes kept the machine while we measured (and why)."""
    busy = results.get("contend", 0)
    cause = (f"{busy} other process{'es' if busy > 1 else ''} spun on a core each "
             f"throughout, on purpose (`--contend {busy}`). " if busy else "")
    rows = [r for r in results["rows"].values() if r["other_cores"] is not None]
    if not rows:
        return cause + "Other processes' CPU use: not measured."
    mean = sum(r["other_cores"] for r in rows) / len(rows)
    peak = max(r["other_cores_max"] for r in rows)
    text = (f"Other processes kept {mean:.2f} of {results['machine']['cores']} cores busy "
            f"during the measurements (mean of the rows' medians; at most {peak:.2f}).")
    if mean > CONTENDED and not busy:
        text += " The machine was contended: the figures are not those of an idle machine."
    return cause + text


def _notes(results):
    """Lines under the table: machine, protocol, contention, errors."""
    notes = [_machine_note(results["machine"]), _protocol_note(results)]
    if results["protocol"] != DEFAULTS:
        notes.append(f"SHORTENED PROTOCOL {results['protocol']}: not comparable with "
                     f"WORKLOADS.md's figures.")
    notes.append(_contention(results))
    for name, row in results["rows"].items():
        for fw, stats in row["frameworks"].items():
            for error in dict.fromkeys(stats["errors"]):
                notes.append(f"error in {name} / {fw}: {error}")
    return notes


def _markdown_row(name, row, fws):
    stats = [row["frameworks"].get(f) for f in fws]
    cells = ["—" if s is None else f"{_num(s['value'])} {row['unit']}"
             if s["value"] is not None else "error" for s in stats]
    ratio = _ratio_cell(row, "ratio")
    if "ember-compiled" in fws:
        ratio += " | " + _ratio_cell(row, "compiled_ratio")
    memory = total = ""
    if row["kind"] != "micro":
        memory = " / ".join(_mb(s) for s in stats)
        total = " / ".join(_mb(s, "peak_total_mb") for s in stats)
    others = _num(row["other_cores"])
    cells = [f"`{name}`", row["batch"]] + cells + [ratio, memory, total, others]
    return "| " + " | ".join(cells) + " |"


def _ratio_cell(row, key):
    value = row.get(key)
    return "—" if value is None else f"{_num(value)} ({verdict(value, row['better'])})"


def heading(results):
    """The README section's title: the idle run's, or the run with cores kept busy."""
    busy = results.get("contend", 0)
    if not busy:
        return "Speed"
    return f"Speed with {'one core' if busy == 1 else f'{busy} cores'} kept busy"


def markdown(results):
    """The README section: the run's table with its date, machine and marker."""
    fws, m = results["frameworks"], results["machine"]
    head = ["workload", "batch"] + [LABELS[f] for f in fws] + ["ember ÷ PyTorch"]
    if "ember-compiled" in fws:
        head.append("ember compiled ÷ PyTorch")
    names = " / ".join(LABELS[f] for f in fws)
    head += [f"peak MB added, {names}", f"peak MB total, {names}", "others' cores"]
    lines = [f"## {heading(results)} (measured {m['date'][:10]})", "",
             f"<!-- {MARKER}: replace this whole section with the output of `--markdown` -->",
             "", f"Measured {_machine_note(m)} {_protocol_note(results)} {_contention(results)}",
             "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [_markdown_row(name, row, fws) for name, row in results["rows"].items()]
    if results["protocol"] != DEFAULTS:
        lines += ["", f"**Shortened protocol {results['protocol']}: not comparable with "
                  f"WORKLOADS.md's figures.**"]
    errors = [n for n in _notes(results) if n.startswith("error in")]
    lines += [""] + [f"- {e}" for e in errors] + ([""] if errors else [])
    lines.append("Peak MB added: the most resident memory the workload added after the "
                 "framework was imported and its data created; peak MB total: the process's "
                 "whole peak, import included (ember loads Numba and its compiled kernels on "
                 "first use, PyTorch its kernels at import; `benchmarks/memory.py`). Others' cores: "
                 "how many cores other processes kept busy while the row was timed (median "
                 "over its measurements, `benchmarks/protocol.py`). Regenerate: "
                 "`.venv/bin/python -m benchmarks.run --markdown` (several minutes).")
    return "\n".join(lines)


def write_json(results, path):
    """Writes ``results`` to ``path`` (making its directory) and returns the path."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description="Re-render a saved benchmark run.")
    parser.add_argument("json", help="a file written by benchmarks.run")
    parser.add_argument("--markdown", action="store_true", help="print the README section")
    args = parser.parse_args(argv)
    with open(args.json) as f:
        results = json.load(f)
    print(markdown(results) if args.markdown else table(results))


if __name__ == "__main__":
    sys.exit(main())
