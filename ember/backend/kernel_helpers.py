"""``@helper``: a small function that kernels call, compiled together with them.

Numba resolves a kernel's globals when it compiles it, and a kernel can only call
functions Numba has compiled; yet a kernel module must not import Numba (``import
ember`` stays free of it). So ``@helper`` marks a function, and ``@helper_kernel``
makes a kernel that, just before Numba compiles it, rebinds every marked global of its
module to the ``numba.njit`` version (the same trick as ``ember.backend.parallel``).
LLVM then inlines the helper into the kernel's loops, where it vectorizes with them.
"""

from ember.backend.compiled import Kernel

__all__ = ["bind_helpers", "helper", "helper_kernel"]


class Helper:
    """A function for kernels to call; ``__call__`` runs it as plain Python."""

    __slots__ = ("options", "py_func")

    def __init__(self, py_func, options):
        self.py_func = py_func
        self.options = options

    def __call__(self, *args):
        return self.py_func(*args)


class _HelperKernel(Kernel):
    __slots__ = ()

    def _compile(self):
        bind_helpers(self.py_func.__globals__)
        return super()._compile()


def bind_helpers(module):
    """Rebind every ``@helper`` in the globals ``module`` to its ``numba.njit`` version (a
    kernel compiled next sees them as functions Numba can call)."""
    import numba

    for name, value in list(module.items()):
        if isinstance(value, Helper):
            options = {"cache": True, "nogil": True, **value.options}
            module[name] = numba.njit(**options)(value.py_func)


def helper(**options):
    """Mark a function that ``@helper_kernel`` kernels of the same module call."""
    def wrap(py_func):
        return Helper(py_func, options)
    return wrap


def helper_kernel(**options):
    """Like ``@kernel``, for a kernel that calls ``@helper`` functions of its module."""
    def wrap(py_func):
        return _HelperKernel(py_func, options)
    return wrap
