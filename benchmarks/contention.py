"""``--contend N``: time every row while N other processes each keep one core busy.

WORKLOADS.md asks for both figures: a framework that degrades gracefully when another
process takes a core is worth more than one that wins only on an idle machine. PyTorch's
OpenMP threads spin-wait for each other, so when one of them loses its core a step can
take many times longer; NumPy's OpenBLAS threads spin too.

Each busy process is a plain interpreter running ``while True: pass`` at normal priority,
as an unrelated job on a shared machine would. They start before the first measurement,
run through all of them, and are killed on the way out (also on Ctrl-C or an error), so
no spinner outlives the suite. The table's "others' cores" column shows the load they
made (about N cores).
"""

import contextlib
import subprocess
import sys

SPIN = "while True:\n    pass\n"


@contextlib.contextmanager
def busy_cores(n):
    """Keeps ``n`` other processes spinning for the duration of the ``with`` block."""
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(n)]
    try:
        yield spinners
    finally:
        for p in spinners:
            p.kill()
        for p in spinners:
            p.wait()
