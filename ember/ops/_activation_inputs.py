"""The input checks activations share: which dtypes each kind of activation takes."""

import numpy as np

from ember._dtype import get_default_dtype
from ember._errors import runtime_error

__all__ = ["as_float", "floating_only", "no_bool"]


def floating_only(op, input):
    """Refuse a non-float input, as PyTorch does for the smooth activations."""
    if input._data.dtype.kind != "f":
        raise NotImplementedError(runtime_error(
            op, f"not implemented for {input.dtype.name} tensors; this activation needs a "
                "floating point input (cast with .float())").args[0])


def no_bool(op, input):
    """Refuse a bool input (integers pass: ``relu`` and the like work on them)."""
    if input._data.dtype == np.bool_:
        raise runtime_error(op, "Boolean inputs are not supported; cast with .float() or .long()")


def as_float(op, input):
    """``input`` in the default float dtype if it is an integer tensor; bool refused."""
    if input._data.dtype == np.bool_:
        raise runtime_error(op, "bool tensors are not supported; cast with .float()")
    return input if input._data.dtype.kind == "f" else input.to(get_default_dtype())
