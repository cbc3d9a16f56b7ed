"""ember.backend: kernels compile on first call, never at import, and can be switched off."""

import subprocess
import sys

import numpy as np
import pytest

from ember.backend import compiled_kernels_enabled, kernel, use_compiled_kernels

numba = pytest.importorskip("numba")


@kernel()
def _twice(x, out):
    for i in range(x.size):
        out[i] = 2.0 * x[i]


def test_kernel_compiles_on_first_call_and_computes():
    x = np.arange(6.0)
    out = np.empty_like(x)
    assert _twice.ready()
    _twice(x, out)
    np.testing.assert_array_equal(out, 2 * x)


def test_switching_off_makes_kernels_not_ready_and_restores():
    previous = use_compiled_kernels(False)
    try:
        assert not _twice.ready()
        assert not compiled_kernels_enabled()
    finally:
        use_compiled_kernels(previous)
    assert _twice.ready()


def test_import_ember_does_not_import_numba():
    code = "import sys, ember, ember.nn, ember.optim; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
