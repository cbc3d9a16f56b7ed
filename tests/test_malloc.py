"""ember keeps freed array memory for reuse (ember/_malloc.py): no page faults per step."""

import subprocess
import sys

import ember._malloc as malloc

_FAULTS = """
import resource, numpy as np
{setup}
def faults(n=50):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        a = np.ones((1024, 1024), np.float32)  # 4 MiB: above glibc's default mmap threshold
        b = a * 2.0
        del a, b
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults()
print(faults())
"""


def _faults(setup):
    code = _FAULTS.format(setup=setup)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.split()[-1])


def test_importing_ember_stops_page_faults_on_reused_arrays():
    plain = _faults("")
    with_ember = _faults("import ember")
    assert plain > 1000  # glibc maps fresh pages for every 4 MiB array by default
    assert with_ember < 50


def test_release_memory_and_thresholds_report_success_on_glibc():
    assert malloc.keep_freed_memory() is True
    assert malloc.release_memory() is True  # glibc's malloc_trim(0) found memory to return
