"""The timing protocol of ../shared/benchmarks/WORKLOADS.md, and who else used the CPUs.

Training: 10 warm-up steps, then 5 repeats of 30 steps; steps/s is the median of the 5
repeats, reported with their min and max. Inference: 50 warm-up calls, then the median
latency of 500 calls, each timed alone. Frameworks are interleaved over rounds (ember,
torch; then torch, ember; ...) so that the machine's drift, which reaches 1.1-1.9x within
minutes, falls on both alike; the figure that counts is the median over rounds of the
per-round ratio ember ÷ PyTorch.

Contention (NOTE [CPU accounting]): while the timed steps run, ``CpuMonitor`` reads the
busy time of all CPUs from /proc/stat (user + nice + system + irq + softirq, in clock
ticks) and this process's own CPU time (all its threads, plus children it waited for,
from ``os.times``). The difference, divided by the wall time, is how many cores *other*
processes kept busy meanwhile (``other_cores``); ``steal_cores`` is time the hypervisor
gave to other virtual machines. /proc/stat counts in ticks (10 ms), so figures below
~0.05 cores are noise.
"""

import os
import statistics
import time

DEFAULTS = {"warmup": 10, "repeats": 5, "steps": 30, "infer_warmup": 50, "calls": 500}
_TICK = os.sysconf("SC_CLK_TCK")


def _machine_busy():
    """(busy, steal) seconds of all CPUs since boot, from the first line of /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq) / _TICK, steal / _TICK


def _own_cpu():
    """CPU seconds of this process's threads and of the children it has waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class CpuMonitor:
    """Measures, over a ``with`` block, the cores this process and all others kept busy.

    See NOTE [CPU accounting] above. ``report()`` gives ``wall_s``, ``own_cores``,
    ``other_cores`` and ``steal_cores``.
    """

    def __enter__(self):
        self._start = self._sample()
        return self

    def __exit__(self, *exc):
        self._end = self._sample()

    @staticmethod
    def _sample():
        return (time.perf_counter(), _own_cpu()) + _machine_busy()

    def report(self):
        wall, own, busy, steal = (b - a for a, b in zip(self._start, self._end))
        wall = max(wall, 1e-9)
        return {"wall_s": wall, "own_cores": own / wall,
                "other_cores": max(busy - own, 0.0) / wall, "steal_cores": steal / wall}


def time_training(step, warmup=10, repeats=5, steps=30):
    """Steps per second of ``step()``: ``warmup`` steps, then ``repeats`` timed runs of
    ``steps`` steps each.

    Returns:
        ``{"value": median steps/s, "min", "max", "samples": steps/s of each repeat,
        "cpu": CpuMonitor report over the timed repeats}``.
    """
    for _ in range(warmup):
        step()
    rates = []
    with CpuMonitor() as cpu:
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(steps):
                step()
            rates.append(steps / (time.perf_counter() - start))
    return {"value": statistics.median(rates), "min": min(rates), "max": max(rates),
            "samples": rates, "cpu": cpu.report()}


def time_inference(call, warmup=50, calls=500):
    """Latency in milliseconds of ``call()``: ``warmup`` calls, then ``calls`` timed one by
    one.

    Returns:
        ``{"value": median ms, "min", "max", "p90", "samples": [median ms], "cpu": ...}``;
        the round's one sample is its median, so that the spread over rounds compares
        like with like.
    """
    for _ in range(warmup):
        call()
    clock = time.perf_counter
    latencies = []
    with CpuMonitor() as cpu:
        for _ in range(calls):
            start = clock()
            call()
            latencies.append((clock() - start) * 1e3)
    latencies.sort()
    median = statistics.median(latencies)
    return {"value": median, "min": latencies[0], "max": latencies[-1],
            "p90": latencies[int(0.9 * (len(latencies) - 1))], "samples": [median],
            "cpu": cpu.report()}


def idle_cores(seconds=1.0):
    """How many cores other processes kept busy over the next ``seconds``."""
    with CpuMonitor() as cpu:
        time.sleep(seconds)
    return cpu.report()["other_cores"]


def wait_for_idle(max_wait, threshold=0.25):
    """Waits until other processes use under ``threshold`` cores, or ``max_wait`` seconds.

    Returns:
        ``{"waited_s", "other_cores"}``: how long it waited and the last reading.
    """
    start = time.perf_counter()
    others = idle_cores()
    while others >= threshold and time.perf_counter() - start < max_wait:
        others = idle_cores()
    return {"waited_s": time.perf_counter() - start, "other_cores": others}


def round_orders(frameworks, rounds):
    """The order of the frameworks in each round: as given, then reversed, and so on, so
    that neither always runs first (ABBA)."""
    frameworks = list(frameworks)
    return [frameworks if r % 2 == 0 else frameworks[::-1] for r in range(rounds)]


def _ratios(nums, dens):
    """Per-round ratios of two frameworks' results, skipping rounds where either failed."""
    return [a["value"] / b["value"] for a, b in zip(nums, dens)
            if "error" not in a and "error" not in b]


def summarize(runs, reference=("ember", "torch")):
    """One table row from the per-round results of each framework.

    Args:
        runs: ``{framework: [result of each round]}``; a result is a ``time_*`` dict (or
            ``{"error": ...}`` if that round failed).
        reference: the pair whose ratio is reported (numerator, denominator).

    Returns:
        ``{"frameworks": {name: {"value", "min", "max", "rounds"}}, "ratio", "ratios",
        "other_cores", "other_cores_max"}``: each framework's median over rounds, the
        spread of all its samples, the median of the per-round ratios, and the median and
        largest CPU use of other processes during the measurements.
    """
    row = {"frameworks": {}}
    for name, results in runs.items():
        good = [r for r in results if "error" not in r]
        samples = [s for r in good for s in r["samples"]]
        row["frameworks"][name] = {
            "value": statistics.median(r["value"] for r in good) if good else None,
            "min": min(samples, default=None), "max": max(samples, default=None),
            "errors": [r["error"] for r in results if "error" in r], "rounds": results}
    num, den = reference
    row["ratios"] = _ratios(runs.get(num, []), runs.get(den, []))
    row["ratio"] = statistics.median(row["ratios"]) if row["ratios"] else None
    compiled = _ratios(runs.get("ember-compiled", []), runs.get(den, []))
    row["compiled_ratio"] = statistics.median(compiled) if compiled else None
    others = [r["cpu"]["other_cores"] for rs in runs.values() for r in rs if "cpu" in r]
    row["other_cores"] = statistics.median(others) if others else None
    row["other_cores_max"] = max(others, default=None)
    return row
