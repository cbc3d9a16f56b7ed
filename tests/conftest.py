"""Test-run settings. pytest-xdist runs two workers on a two-core machine: one BLAS and
one OpenMP thread each keeps them from oversubscribing the cores, where OpenBLAS's and
PyTorch's spinning threads slow every product down many times (see ember/_threads.py).
Set before NumPy or torch is imported."""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
