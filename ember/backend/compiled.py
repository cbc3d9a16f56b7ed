"""``@kernel``: a function Numba compiles on first call, cached on disk, optional.

Numba's import (~0.2 s) and each kernel's compilation (~1 s) must stay out of
``import ember``: a ``Kernel`` imports Numba and compiles only when an op first calls it,
and ``cache=True`` keeps the machine code in ``__pycache__`` so that later processes load
it in milliseconds. Without Numba, ``ready()`` is False and the op takes its NumPy path.

Numba's cache entries are found by the function's name and its source file; a helper saw
one served after only the decorator's options (``error_model``) changed. After changing
a kernel's options, delete that module's ``__pycache__/<module>.<kernel>-*.nbi/.nbc``.

NOTE [slices, not offsets]: Numba wraps negative indices, so an index it cannot prove
non-negative, such as ``a[j + c]`` or ``a[start + j]`` with signed ints, gets a check in
the loop, and LLVM then leaves the loop unvectorized. Index the inner loops by the bare
loop counter over slices that start where the run starts (``a[c:]``, then ``[j]``).
Measured (float32, one thread): an add over 984 values read and written at an offset ran
13x slower than over slices (86 against 6.6 us for 100 passes); Winograd's input transform
of 16x32x16x16 ran in 71 us against 174 us once its reads were sliced.
"""

import importlib.util

__all__ = ["kernel", "use_compiled_kernels", "compiled_kernels_enabled", "Kernel"]


class _Switch:
    # None until first asked: whether Numba can be imported (found without importing it).
    installed = None
    enabled = True


def _numba_installed():
    if _Switch.installed is None:
        _Switch.installed = importlib.util.find_spec("numba") is not None
    return _Switch.installed


def use_compiled_kernels(enabled):
    """Switch compiled kernels on (the default, when Numba is installed) or off.

    Off, every op runs its NumPy path; the results are the same (the tests check both).
    Returns the previous setting, so a caller can restore it.
    """
    previous = _Switch.enabled
    _Switch.enabled = bool(enabled)
    return previous


def compiled_kernels_enabled():
    """True when ops use compiled kernels: Numba is installed and they are switched on."""
    return _Switch.enabled and _numba_installed()


class Kernel:
    """A Python function over arrays that Numba compiles the first time it is called."""

    __slots__ = ("py_func", "options", "_compiled")

    def __init__(self, py_func, options):
        self.py_func = py_func
        self.options = options
        self._compiled = None

    def ready(self):
        """True when calling this kernel runs compiled code (else use the NumPy path)."""
        return _Switch.enabled and _numba_installed()

    def __call__(self, *args):
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = self._compile()
        return compiled(*args)

    def _compile(self):
        import numba

        options = {"cache": True, "nogil": True, "fastmath": False, **self.options}
        return numba.njit(**options)(self.py_func)

    def __repr__(self):
        return f"<kernel {self.py_func.__module__}.{self.py_func.__qualname__}>"


def kernel(**options):
    """Decorate a function to be compiled by ``numba.njit(**options)`` on first call.

    ``cache=True`` and ``nogil=True`` are the defaults; pass ``parallel=True`` for kernels
    with ``numba.prange`` loops. Call ``.ready()`` before choosing the compiled path.
    """
    def wrap(py_func):
        return Kernel(py_func, options)
    return wrap
