"""What the ONNX importer's op functions receive: a node's description and its values.

A value in a running graph is either an ember ``Tensor`` (it may carry gradients) or a
NumPy array (a *static* value: a constant, or a shape computed from shapes). Integer
inputs that steer an op (a Reshape target, Slice bounds, Gather indices) are read as
arrays with ``as_array``; data inputs are turned into Tensors with ``as_tensor``.
"""

from dataclasses import dataclass

import numpy as np

import ember
from ember import _dtype
from ember._errors import type_error, value_error
from ember.tensor import Tensor

__all__ = ["OnnxNode", "as_array", "as_tensor", "ember_dtype", "int_list", "numpy_dtype",
           "scalar"]


@dataclass(frozen=True)
class OnnxNode:
    """One ONNX node as an op function sees it.

    Attributes:
        op_type: the ONNX operator, e.g. ``"Conv"``.
        name: the node's name (or ``"#<index>"`` when the file gives none).
        attrs: attribute name -> Python value (ints, floats, lists, NumPy arrays).
        opset: the model's opset version of the default ONNX domain.
        num_outputs: how many outputs the node declares (Split, LSTM, Dropout use it).
        wanted: for each declared output, whether the graph names it (ONNX marks an
            unused optional output with an empty name).
    """

    op_type: str
    name: str
    attrs: dict
    opset: int
    num_outputs: int
    wanted: tuple

    @property
    def label(self):
        """``"Conv node '/features/0/Conv'"``: how errors name the node."""
        return f"{self.op_type} node '{self.name}'"

    def attr(self, key, default=None):
        return self.attrs.get(key, default)


def as_tensor(value):
    """A Tensor for ``value`` (static arrays become constant Tensors); None stays None."""
    if value is None or isinstance(value, Tensor):
        return value
    return ember.tensor(np.asarray(value))


def as_array(value, node, what):
    """The NumPy array of a steering input (a shape, bounds, indices).

    A Tensor's values are read (no gradient flows through integers); a missing
    required input raises an error naming the node and the input.
    """
    if value is None:
        raise value_error(node.label, f"the input '{what}' is required")
    if isinstance(value, Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def int_list(value, node, what):
    """A steering input as a list of Python ints."""
    return [int(v) for v in as_array(value, node, what).reshape(-1)]


def scalar(value, node, what):
    """A one-element steering input as a Python number."""
    array = as_array(value, node, what)
    if array.size != 1:
        raise value_error(node.label, f"'{what}' must hold one value, got shape "
                                      f"{array.shape}")
    return array.reshape(-1)[0].item()


def numpy_dtype(onnx_type, node_label):
    """The NumPy dtype of an ONNX ``TensorProto`` element type."""
    from onnx import helper

    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(onnx_type))
    except (KeyError, TypeError, ValueError):
        raise type_error(node_label, f"ONNX element type {onnx_type} has no NumPy "
                                     "equivalent") from None


def ember_dtype(onnx_type, node_label):
    """The ember dtype of an ONNX element type; a clear error for ones ember lacks."""
    np_type = numpy_dtype(onnx_type, node_label)
    try:
        return _dtype.from_numpy_dtype(np_type)
    except TypeError:
        raise type_error(node_label, f"ember has no dtype for ONNX element type "
                                     f"{np_type}") from None
