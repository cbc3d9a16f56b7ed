"""The inputs an imported ONNX graph declares, and the check of what a caller passes.

A declared dimension is a number (must match), a symbol such as ``"batch"`` (any size,
but the same size wherever the symbol appears) or unknown (any size).
"""

from dataclasses import dataclass

import numpy as np

import ember
from ember._errors import fmt_shape, shape_error, type_error
from ember.onnx._import_values import ember_dtype
from ember.tensor import Tensor

__all__ = ["InputSpec", "bind_inputs"]


@dataclass(frozen=True)
class InputSpec:
    """One graph input: its name, element type (ONNX enum) and dims (None: no shape)."""

    name: str
    elem_type: int
    dims: tuple | None

    @classmethod
    def from_proto(cls, value_info):
        tensor_type = value_info.type.tensor_type
        dims = None
        if tensor_type.HasField("shape"):
            dims = tuple(_dim(d) for d in tensor_type.shape.dim)
        return cls(value_info.name, tensor_type.elem_type, dims)

    def describe(self):
        if self.dims is None:
            return "any shape"
        return "(" + ", ".join("?" if d is None else str(d) for d in self.dims) + ")"


def _dim(dim):
    if dim.HasField("dim_value"):
        return int(dim.dim_value)
    return dim.dim_param or None


def bind_inputs(specs, inputs):
    """The inputs as Tensors after checking count, dtype and shape against ``specs``."""
    if len(inputs) != len(specs):
        names = ", ".join(f"'{s.name}'" for s in specs)
        raise type_error("OnnxModule", f"the graph takes {len(specs)} input(s) ({names}), "
                                       f"got {len(inputs)}")
    symbols = {}
    return [_check_input(spec, value, symbols) for spec, value in zip(specs, inputs,
                                                                      strict=True)]


def _check_input(spec, value, symbols):
    where = f"OnnxModule input '{spec.name}'"
    if not isinstance(value, Tensor):
        if not isinstance(value, (np.ndarray, np.generic, int, float, bool, list)):
            raise type_error(where, f"expected an ember Tensor, got {type(value).__name__}")
        value = ember.tensor(np.asarray(value))
    if spec.elem_type:
        expected = ember_dtype(spec.elem_type, where)
        if value.dtype != expected:
            raise type_error(where, f"the graph declares {expected}, got {value.dtype}")
    if spec.dims is not None:
        _check_shape(spec, tuple(value.shape), symbols, where)
    return value


def _check_shape(spec, shape, symbols, where):
    if len(shape) != len(spec.dims):
        raise shape_error(where, f"the graph declares shape {spec.describe()}, got "
                                 f"{fmt_shape(shape)}")
    for axis, (declared, size) in enumerate(zip(spec.dims, shape, strict=True)):
        if isinstance(declared, int) and declared != size:
            raise shape_error(where, f"the graph declares shape {spec.describe()}, got "
                                     f"{fmt_shape(shape)} (axis {axis})")
        if isinstance(declared, str):
            bound = symbols.setdefault(declared, (size, spec.name))
            if bound[0] != size:
                raise shape_error(where, f"dimension '{declared}' is {size} here but "
                                         f"{bound[0]} in input '{bound[1]}'")
