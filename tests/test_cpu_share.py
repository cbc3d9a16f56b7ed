"""The BLAS thread count follows the cores other processes leave free (ember/_cpu_share.py).

Each check runs in a fresh interpreter: the sampler is a process-wide daemon thread, and
the BLAS thread count is process-wide state other tests must not see change.
"""

import os
import subprocess
import sys
import textwrap

import pytest

from ember import _threads
from ember._cpu_share import cores_left


def _run(code, timeout=60):
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


needs_openblas = pytest.mark.skipif(not _threads._find(), reason="NumPy's BLAS is not OpenBLAS: "
                                    "its thread count cannot be set")


@pytest.mark.parametrize("others, cores, left", [
    (0.0, 2, 2), (0.25, 2, 2), (0.5, 2, 1), (1.0, 2, 1), (1.9, 2, 1), (3.0, 2, 1),
    (0.0, 8, 8), (1.0, 8, 7), (2.2, 8, 6), (2.4, 8, 5),
])
def test_cores_left_counts_any_busy_fraction_of_a_core_beyond_the_margin(others, cores, left):
    assert cores_left(others, cores) == left


DRIVEN = """
    import ember
    from ember import _cpu_share
    from ember._threads import get_num_threads
    _cpu_share._State.started = True  # no sampler: this test sets the limit itself
    ember.set_num_threads(2)
    model = ember.nn.Linear(3, 3)
    x = ember.ones(1, 3)
    seen = [get_num_threads()]
    _cpu_share._State.limit = 1  # another process took a core
    model(x)  # a module call is a safe point
    seen.append(get_num_threads())
    _cpu_share._State.limit = None  # it left
    model(x).sum().backward()  # so is a backward pass
    seen.append(get_num_threads())
    _cpu_share._State.limit = 1
    ember.set_num_threads(2)  # the user's count is the most the limit allows
    ember.optim.SGD(model.parameters(), lr=0.1).step()  # and an optimizer step
    seen.append(get_num_threads())
    ember.set_adaptive_threads(False)  # pinned: the user's count, whatever the load
    model(x)
    seen.append(get_num_threads())
    print(*seen)
"""


@needs_openblas
def test_safe_points_apply_the_limit_and_restore_the_users_count():
    assert _run(DRIVEN) == ["2", "1", "2", "1", "2"]


SPINNING = """
    import subprocess, sys, time
    import ember
    from ember._threads import get_num_threads
    ember.set_num_threads(2)
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        model = ember.nn.Linear(3, 3)
        deadline = time.monotonic() + 20
        while get_num_threads() != 1 and time.monotonic() < deadline:
            model(ember.ones(1, 3))
            time.sleep(0.05)
        print(get_num_threads())
    finally:
        spinner.kill()
"""


@needs_openblas
def test_a_process_spinning_on_a_core_takes_a_blas_thread_away():
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: there is no thread to give up")
    assert _run(SPINNING) == ["1"]
