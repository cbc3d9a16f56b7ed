"""``set_num_threads`` / ``get_num_threads``: how many threads ember computes on.

ember's heavy arithmetic (matrix products, convolutions) runs in the BLAS library that
NumPy loaded, found among the shared objects this process has loaded (NumPy's wheels
bundle OpenBLAS under a prefixed name). PyTorch users call ``torch.set_num_threads`` for
the same reason.

ember runs its threads itself: in training OpenBLAS is kept at one thread, and the ops
whose work splits (convolutions over a batch, large products by rows) run pieces on
ember's pool (``ember.backend.threads``), each piece a one-thread product. OpenBLAS's own threads spin
for a while after every parallel product; the pool's second thread then shares its core
with a spinner, and when another process holds a core, a two-thread product can take
10-50x longer than a one-thread one. Measured on LeNet's training step (2 cores, idle):
5.1 ms with the pool alone, 6.6 ms with the pool and OpenBLAS's threads, 6.0 ms with
OpenBLAS's threads alone. ``use_blas_threads(True)`` gives the threads back to OpenBLAS
(products outside the pool then run on them).

With a BLAS ember cannot find, setting the number of threads warns once; the pool still
uses the count.
"""

import ctypes
import os
import warnings

__all__ = ["blas_found", "blas_library_threads", "blas_products", "get_num_threads",
           "products_for", "set_blas_products", "set_library_threads", "set_num_threads",
           "set_thread_count", "use_blas_threads"]

_SETTERS = ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads_64_",
            "openblas_set_num_threads64_", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads_64_",
            "openblas_get_num_threads64_", "openblas_get_num_threads")
# NOTE [stopping OpenBLAS's spinners]: after a product on two or more threads, OpenBLAS's
# threads spin for ~0.1 s waiting for the next one, and setting the count to one does not
# stop them (measured: 0.10 s of CPU in a 0.2 s sleep either way). While they spin they
# take the core that the pool's pieces need, so when the products go back to one thread
# (training after inference, or the step tuner leaving ``"blas"``) ember shuts them down
# (0 s of CPU in the same sleep); OpenBLAS starts them again on its next threaded product.
_SHUTDOWN = "blas_thread_shutdown_"


class _Blas:
    library = None  # (setter, getter, shutdown or None) once found, False if there is none
    warned = False
    threads = None  # ember's thread count: None until set or first asked
    own_threads = False  # True: OpenBLAS threads its products itself (no pool)
    tuned = False  # True: the same, because ember.backend.step_tuner found it faster
    inference = False  # True while products run outside autograd (see ``products_for``)


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
                _Blas.library = (setter, getter, getattr(lib, _SHUTDOWN, None))
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
    """Use ``n`` threads for ember's heavy ops (matrix products, convolutions)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    if not _find() and not _Blas.warned:
        _Blas.warned = True
        warnings.warn("set_num_threads: NumPy's BLAS library is not OpenBLAS or was not "
                      "found; its own thread count is unchanged", RuntimeWarning, stacklevel=2)
    set_thread_count(n)


def set_thread_count(n):
    """``set_num_threads`` with no checks or warning (``ember._cpu_share`` adapts with it)."""
    _Blas.threads = int(n)
    library = n if _Blas.own_threads or _Blas.tuned or _Blas.inference else 1
    found = _find()
    if found and library == 1 and found[2] is not None and found[1]() > 1:
        found[0](ctypes.c_int(1))
        found[2]()  # NOTE [stopping OpenBLAS's spinners]
        return
    set_library_threads(library)


def get_num_threads():
    """The number of threads ember's heavy ops use (at first OpenBLAS's, or the CPUs)."""
    if _Blas.threads is None:
        found = _find()
        set_thread_count(int(found[1]()) if found else (os.cpu_count() or 1))
    return _Blas.threads


def use_blas_threads(enabled):
    """Let OpenBLAS run each product on ember's threads itself (True) or keep it at one
    thread and thread with ember's pool (False, the default). Returns the previous setting."""
    previous = _Blas.own_threads
    threads = get_num_threads()
    _Blas.own_threads = bool(enabled)
    set_thread_count(threads)
    return previous


def blas_products():
    """True when products run whole on OpenBLAS's threads (``use_blas_threads``, or the
    step tuner's ``"blas"`` mode) rather than in pieces on ember's pool."""
    return _Blas.own_threads or _Blas.tuned


def set_blas_products(enabled):
    """The step tuner's switch (``ember.backend.step_tuner``): products on OpenBLAS's
    threads (True) or on the pool; the user's ``use_blas_threads`` setting is unchanged."""
    if bool(enabled) is not _Blas.tuned:
        _Blas.tuned = bool(enabled)
        set_thread_count(get_num_threads())


def blas_found():
    """Whether NumPy's BLAS is an OpenBLAS whose thread count ember can set."""
    return bool(_find())


def products_for(inference):
    """Give OpenBLAS ember's threads while products run for inference, one while training.

    NOTE [inference products]: an inference call's products are too small to split on
    ember's pool (a split costs 8 us empty, 30 us around a (64, 256) @ (256, 256)
    product), but OpenBLAS's own threads still halve them: the 64-token
    ``infer-transformer`` call took 1.57 ms with OpenBLAS at one thread and 1.15 ms at two
    (PyTorch 1.00 ms). In training, OpenBLAS's threads keep spinning after each product
    and take the core the pool's pieces need (LeNet's step: 4.7 ms at one OpenBLAS thread,
    7.0 ms at two). ``Linear``'s forward calls this with ``not GradMode.enabled`` before an
    unsplit product (ember/ops/linalg.py ``_product``); it changes OpenBLAS only when the
    mode changes.
    """
    if inference is _Blas.inference:
        return
    _Blas.inference = inference
    set_thread_count(get_num_threads())


def set_library_threads(n):
    """Set the BLAS library's own thread count (``ember.backend.threads`` pins it to one
    while pieces run); ember's count is unchanged."""
    found = _find()
    if found:
        found[0](ctypes.c_int(n))


def blas_library_threads():
    """The BLAS library's own thread count (1 if it cannot be asked)."""
    found = _find()
    return int(found[1]()) if found else 1
