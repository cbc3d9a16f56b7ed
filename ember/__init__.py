"""ember: define-by-run tensors and autograd with PyTorch's names, on NumPy.

    >>> import ember
    >>> x = ember.ones(2, 2, requires_grad=True)
    >>> y = (x * 3).sum()
    >>> y.backward()
    >>> x.grad
    tensor([[3., 3.],
            [3., 3.]])
"""

import warnings as _warnings

from ember import _dtype
from ember._dtype import (  # noqa: F401 - the dtype names are ember's public API
    bool, double, dtype, finfo, float, float16, float32, float64, get_default_dtype, half, iinfo,
    int, int8, int16, int32, int64, long, promote_types, set_default_dtype, short, uint8,
)
from ember.autograd import (
    enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
    set_grad_enabled,
)
from ember._format import set_printoptions
from ember._malloc import keep_freed_memory as _keep_freed_memory
from ember._cpu_share import adaptive_threads_enabled, set_adaptive_threads, set_num_threads
from ember._threads import get_num_threads
from ember.creation import *  # noqa: F401,F403
from ember.ops import FAMILIES as _FAMILIES
from ember.ops.arithmetic import *  # noqa: F401,F403
from ember.random import (
    Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state,
)
from ember.tensor import Size, Tensor, device
from ember import autograd, nn, optim, testing  # noqa: E402

for _family in _FAMILIES:
    globals().update({_name: getattr(_family, _name) for _name in _family.__all__})
del _family
# torch.batch_norm and torch.embedding take their arguments in another order than F's.
from ember.ops.embedding import top_level_embedding as embedding  # noqa: E402
from ember.ops.norm import top_level_batch_norm as batch_norm  # noqa: E402

__version__ = "0.1.0"

_keep_freed_memory()  # reuse freed array memory: see ember/_malloc.py for the measurement

# PyTorch computes inf and nan silently; NumPy warns. Silence NumPy's floating-point
# warnings only where ember's own code called it, so users' NumPy code keeps its warnings.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ember\.")


# Higher layers load on first use, so `import ember` stays fast: ember.train,
# ember.profiler, ember.models, ember.jit, ember.onnx, and ember.data, ember.datasets,
# ember.utils and ember.serialization (ember.save, ember.load), which with their stdlib
# imports (secrets, hmac, json, random, queue, traceback) took 10-15 ms of a 0.10 s import.
_LAZY_MODULES = ("train", "profiler", "models", "jit", "onnx", "data", "datasets", "utils",
                 "serialization")
# Functions of those layers exposed at the top, PyTorch style: name -> module.
_LAZY_FUNCTIONS = {"save": "ember.serialization", "load": "ember.serialization",
                   "compile": "ember.jit.compile", "cond": "ember.jit.control_flow",
                   "while_loop": "ember.jit.control_flow"}


def __getattr__(name):
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"ember.{name}")
    if name == "summary":
        return importlib.import_module("ember.train.summary").summary
    if name in _LAZY_FUNCTIONS:
        return getattr(importlib.import_module(_LAZY_FUNCTIONS[name]), name)
    raise AttributeError(f"module 'ember' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES) | set(_LAZY_FUNCTIONS) | {"summary"})


def result_type(tensor1, tensor2):
    """The dtype PyTorch's promotion gives for an op on these two operands."""
    return _dtype.result_type(tensor1, tensor2)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):  # noqa: A002
    return input.is_floating_point()


def numel(input):  # noqa: A002
    return input.numel()


def can_cast(from_, to):
    import numpy as _np

    return _np.can_cast(from_.np, to.np, "same_kind")
