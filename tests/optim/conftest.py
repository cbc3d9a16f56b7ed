"""``kernels``: run a test once with the compiled update kernels and once with NumPy's path."""

import pytest

from ember.backend import use_compiled_kernels


@pytest.fixture(params=["compiled", "numpy"])
def kernels(request):
    """Switch compiled kernels on or off for one test; the previous setting comes back."""
    if request.param == "compiled":
        pytest.importorskip("numba")
    previous = use_compiled_kernels(request.param == "compiled")
    try:
        yield request.param
    finally:
        use_compiled_kernels(previous)
