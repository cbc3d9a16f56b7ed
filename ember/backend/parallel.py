"""``@parallel_kernel``: a ``@kernel(parallel=True)`` whose loops say ``prange``.

Numba resolves a kernel's globals when it compiles it, and only ``numba.prange`` makes a
loop parallel; yet the module that defines the kernel must not import Numba (``import
ember`` stays free of it). So a kernel module sets ``prange = range`` (the pure-Python
meaning, which also lets the function run uncompiled), and this kernel rebinds that
global to ``numba.prange`` just before Numba compiles the function.

Starting a parallel region costs microseconds, and on a busy machine a region waits for
its slowest thread, which may have lost its core for whole time slices: with 7 processes
on 2 cores, a 2x2 max pool at batch 1 took 20 ms instead of 20 us, and a ResNet-8 step
4.5x longer than with serial kernels. So a call whose first array holds fewer than
``SERIAL_BELOW`` elements (16 MB of float32, larger than any array of the benchmark's
workloads) runs a serial compilation of the same function; the kernels are a small part
of a step, and ops that split their work run pieces on ember's threads instead
(``ember.backend.threads``; a piece never starts a parallel region).
"""

import threading
import types

from ember.backend import threads
from ember.backend.compiled import Kernel

__all__ = ["SERIAL_BELOW", "parallel_kernel"]

SERIAL_BELOW = 1 << 22

# ``ember.backend.threads`` may call a kernel from two threads at once: one compiles it.
_COMPILING = threading.Lock()


class _ParallelKernel(Kernel):
    __slots__ = ("_serial",)

    def __init__(self, py_func, options):
        super().__init__(py_func, options)
        self._serial = None

    def _compile(self):
        import numba

        self.py_func.__globals__["prange"] = numba.prange
        return super()._compile()

    def __call__(self, *args):
        # Within ``threads.split`` each thread runs its own piece: a parallel region there
        # would nest (which Numba's workqueue layer aborts on).
        if args[0].size >= SERIAL_BELOW and not threads.splitting():
            return super().__call__(*args)
        serial = self._serial
        if serial is None or serial._compiled is None:
            with _COMPILING:
                if self._serial is None:
                    self._serial = Kernel(_renamed(self.py_func, "_serial"),
                                          {**self.options, "parallel": False})
                serial = self._serial
                if serial._compiled is None:
                    serial._compiled = serial._compile()
        return serial(*args)


def _renamed(py_func, suffix):
    """A copy of ``py_func`` under another qualified name.

    Numba's disk cache keys a function by its name and line, not by its compile options, so
    the serial compilation needs a name of its own or it would load the parallel one.
    """
    copy = types.FunctionType(py_func.__code__, py_func.__globals__, py_func.__name__,
                              py_func.__defaults__, py_func.__closure__)
    copy.__qualname__ = py_func.__qualname__ + suffix
    copy.__module__ = py_func.__module__
    return copy


def parallel_kernel(**options):
    """Decorate a function with ``prange`` loops to be compiled with ``parallel=True``.

    The function's first argument must be an array: its size picks the serial or the
    parallel compilation.
    """
    def wrap(py_func):
        return _ParallelKernel(py_func, {"parallel": True, **options})
    return wrap
