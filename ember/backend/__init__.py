"""Kernels below the Tensor layer: NumPy array functions, compiled by Numba when it is there.

Nothing here knows about Tensor or autograd. An op that a benchmark shows NumPy cannot make
fast enough asks for a compiled kernel and keeps its NumPy path beside it::

    from ember.backend import kernel

    @kernel(parallel=True)
    def _relu_fwd(x, out):
        ...                      # plain Python over arrays, in Numba's subset

    if _relu_fwd.ready():        # Numba installed and compiled kernels switched on
        _relu_fwd(x, out)
    else:
        np.maximum(x, 0, out=out)

The tests run every op with compiled kernels on and off (``use_compiled_kernels``) and
check both against PyTorch.
"""

from ember.backend.compiled import compiled_kernels_enabled, kernel, use_compiled_kernels

__all__ = ["kernel", "use_compiled_kernels", "compiled_kernels_enabled"]
