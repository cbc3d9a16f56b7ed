"""Peak memory of a workload, measured in the fresh interpreter that runs it.

Method (Linux): the framework is imported and the input arrays are created first. Then
the kernel's peak-RSS counter of the process (``VmHWM`` in /proc/self/status) is reset to
the current RSS by writing ``5`` to /proc/self/clear_refs, and the current RSS
(``VmRSS``) is read as the baseline. The model and optimizer are built and every step
(warm-up and timed) runs; the figure is ``VmHWM - baseline``: the most resident memory
the workload ever added to what the bare framework and its data hold. It counts
parameters, gradients, optimizer state, activations, the framework's caches and thread
stacks, and library code first touched by the workload (PyTorch pages some kernels in on
first use; ``file_backed_added_mb`` in the JSON is how much such file-backed RSS was
added by the end). Where clear_refs cannot be written, the peak is ``ru_maxrss`` (the
peak since the interpreter started) instead, which can also count a transient peak
during import; the result names the method used.

``peak_total_mb`` is the process's whole peak RSS (the framework's import included). It
is the fairer figure across frameworks that load code at different times: PyTorch maps
its kernels at import, ember loads Numba and its compiled kernels on the first op that
uses them, which ``peak_added_mb`` counts and PyTorch's does not.

Each measurement runs in its own interpreter (see ``benchmarks/measure.py``), so nothing
another workload or framework allocated is in it.
"""

import resource

_KB = 1024


def _status_kb(field):
    """A ``kB`` field of /proc/self/status (``VmRSS``, ``VmHWM``) in kB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


class PeakMemory:
    """The peak RSS added after ``start()``, in MB (10^6 bytes), read by ``added_mb()``."""

    def start(self):
        """Resets the peak counter where the kernel allows it, and records the baseline."""
        self.setup_peak_kb = _status_kb("VmHWM")  # the import's and the data's own peak
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self.method = "VmHWM after clear_refs"
        except OSError:
            self.method = "ru_maxrss"
        self.baseline_kb = _status_kb("VmRSS")
        self.baseline_file_kb = _status_kb("RssFile")
        return self

    def peak_kb(self):
        if self.method == "ru_maxrss":
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return _status_kb("VmHWM")

    def added_mb(self):
        """Peak RSS minus the baseline, in MB."""
        return (self.peak_kb() - self.baseline_kb) * _KB / 1e6

    def report(self):
        """The peak added, the baseline, and how much file-backed RSS (library code) the
        workload added by the end, in MB; and the method."""
        file_kb = _status_kb("RssFile") - self.baseline_file_kb
        total_kb = max(self.peak_kb(), self.setup_peak_kb)
        return {"peak_added_mb": self.added_mb(), "baseline_mb": self.baseline_kb * _KB / 1e6,
                "peak_total_mb": total_kb * _KB / 1e6,
                "file_backed_added_mb": file_kb * _KB / 1e6, "method": self.method}
