"""``set_num_threads`` / ``get_num_threads``: how many threads NumPy's BLAS uses.

ember's heavy arithmetic (matrix products, convolutions) runs in the BLAS library that
NumPy loaded. OpenBLAS's threads spin while they wait for each other; when another
process holds a core, a two-thread product can take 10-50x longer than a one-thread
one. PyTorch users call ``torch.set_num_threads`` for the same reason.

The library is found among the shared objects this process has loaded (NumPy's wheels
bundle OpenBLAS under a prefixed name); with a BLAS ember cannot find, setting the
number of threads warns once and changes nothing.
"""

import ctypes
import os
import warnings

__all__ = ["set_num_threads", "get_num_threads"]

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads_64_",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads_64_",
            "openblas_get_num_threads64_", "openblas_get_num_threads")


class _Blas:
    library = None  # (setter, getter) once found, False if there is none
    warned = False


def _find():
    if _Blas.library is None:
        _Blas.library = False
        import numpy  # noqa: F401 - loads the BLAS library we look for

        for path in _loaded_libraries():
            if "openblas" not in os.path.basename(path).lower():
                continue
            lib = ctypes.CDLL(path)
            setter = next((getattr(lib, s) for s in _SETTERS if hasattr(lib, s)), None)
            getter = next((getattr(lib, g) for g in _GETTERS if hasattr(lib, g)), None)
            if setter is not None and getter is not None:
                getter.restype = ctypes.c_int
                _Blas.library = (setter, getter)
                break
    return _Blas.library


def _loaded_libraries():
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if ".so" in line}
    except OSError:
        return []
    return sorted(p for p in paths if os.path.isabs(p))


def set_num_threads(n):
    """Use ``n`` threads for NumPy's BLAS (matrix products, convolutions)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    found = _find()
    if found:
        found[0](ctypes.c_int(n))
    elif not _Blas.warned:
        _Blas.warned = True
        warnings.warn("set_num_threads: NumPy's BLAS library is not OpenBLAS or was not "
                      "found; the number of threads is unchanged", RuntimeWarning, stacklevel=2)


def get_num_threads():
    """The number of threads NumPy's BLAS uses (os.cpu_count() if it cannot be asked)."""
    found = _find()
    return int(found[1]()) if found else (os.cpu_count() or 1)
