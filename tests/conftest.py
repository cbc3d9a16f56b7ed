"""Test-run settings. pytest-xdist runs two workers on a two-core machine: one BLAS and
one OpenMP thread each keeps them from oversubscribing the cores, where OpenBLAS's and
PyTorch's spinning threads slow every product down many times (see ember/_threads.py).
Set before NumPy or torch is imported.

ember's thread count does not follow the load here (``set_adaptive_threads(False)``):
tests that force two threads must get them, and one test must not take another path
because the other worker was busy. ``tests/test_cpu_share.py`` tests the adaptation in
interpreters of its own."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

import ember

ember.set_adaptive_threads(False)


@pytest.fixture(params=["compiled", "numpy"])
def kernels(request):
    """Run a test once with ember's compiled kernels and once on their NumPy paths.

    The previous setting comes back afterwards; without Numba the compiled run skips.
    """
    from ember.backend import use_compiled_kernels

    if request.param == "compiled":
        pytest.importorskip("numba")
    previous = use_compiled_kernels(request.param == "compiled")
    try:
        yield request.param
    finally:
        use_compiled_kernels(previous)


@pytest.fixture
def split_everything(monkeypatch):
    """Two threads, and ``split_everything(module, *thresholds, record=True)``: sets each
    named size threshold of ``module`` to 0 so its ops always split on ember's threads,
    and (``record``) records each of its ``split(fn, n, count)`` calls as ``(n, count)``
    in the list it returns. All restored after the test."""
    from ember.backend import threads

    previous = ember.get_num_threads()
    ember.set_num_threads(2)
    seen = []

    def counting(fn, n, count, *rest, **options):
        seen.append((n, count))
        return threads.split(fn, n, count, *rest, **options)

    def force(module, *thresholds, record=True):
        for name in thresholds:
            monkeypatch.setattr(module, name, 0)
        if record:
            monkeypatch.setattr(module, "split", counting)
        return seen

    try:
        yield force
    finally:
        ember.set_num_threads(previous)
