"""The importer's table: ONNX op_type -> the function that runs it with ember ops.

Every function is called as ``fn(node, *inputs)`` with ``node`` an ``OnnxNode`` and one
positional argument per ONNX input (None for an omitted optional one), and returns one
value or a tuple of values, one per declared output. The families live in
``_import_math``, ``_import_shape``, ``_import_activation``, ``_import_nn`` and
``_import_rnn``; ``unsupported_reason`` holds the load-time checks of attributes the
functions cannot honour, so a model ember cannot run fails at ``load``, not at run time.
"""

import inspect

from ember.onnx import _import_activation, _import_math, _import_nn, _import_rnn, _import_shape

__all__ = ["BUFFER_INPUTS", "OPS", "unsupported_reason"]

OPS = {**_import_math.OPS, **_import_shape.OPS, **_import_activation.OPS,
       **_import_nn.OPS, **_import_rnn.OPS}

# Inputs that hold state rather than weights: an initializer used only here is a buffer
# (PyTorch's running statistics), not a parameter.
BUFFER_INPUTS = {"BatchNormalization": (3, 4)}

_EXTRA_OUTPUTS = {"BatchNormalization": 1, "LayerNormalization": 1, "MaxPool": 1,
                  "InstanceNormalization": 1}


def _arity(fn):
    """(required, most) positional inputs after ``node``; most is None for ``*inputs``."""
    params = list(inspect.signature(fn).parameters.values())[1:]
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return 0, None
    required = sum(1 for p in params if p.default is p.empty)
    return required, len(params)


def _constant_reason(node):
    if any(key in node.attrs for key in ("value", "value_float", "value_floats",
                                         "value_int", "value_ints")):
        return None
    return f"a constant given as {sorted(node.attrs)}"


def _window_reason(node):
    if len(node.attr("kernel_shape") or ()) > 2:
        return f"{len(node.attr('kernel_shape'))}-D windows"
    if node.op_type == "AveragePool" and any(d != 1 for d in node.attr("dilations") or ()):
        return "dilations"
    return None


def _when(condition, reason):
    """A check: ``reason`` when ``condition(node)`` holds."""
    return lambda node: reason if condition(node) else None


# op_type -> check(node): the attribute values its function cannot honour, or None.
_ATTRIBUTE_CHECKS = {
    "LSTM": _import_rnn.check, "GRU": _import_rnn.check, "RNN": _import_rnn.check,
    "Constant": _constant_reason, "MaxPool": _window_reason, "AveragePool": _window_reason,
    "Resize": _import_nn.resize_reason,
    "ConvTranspose": _when(lambda n: n.attr("output_shape") is not None or
                           n.attr("auto_pad", "NOTSET") != "NOTSET",
                           "output_shape or auto_pad (give pads and output_padding)"),
    "GatherND": _when(lambda n: n.attr("batch_dims", 0), "batch_dims other than 0"),
    "IsInf": _when(lambda n: not (n.attr("detect_negative", 1) and
                                  n.attr("detect_positive", 1)),
                   "detecting only one sign of infinity"),
    "Pad": _when(lambda n: n.attr("mode", "constant") not in _import_nn._PAD_MODES,
                 "a mode other than constant, reflect, edge or wrap"),
}


def unsupported_reason(node, num_inputs):
    """Why ember cannot run ``node`` (a sentence fragment), or None when it can."""
    fn = OPS[node.op_type]
    required, most = _arity(fn)
    if num_inputs < required or (most is not None and num_inputs > most):
        return f"{num_inputs} inputs (ember's mapping takes {required} to {most})"
    extra = _EXTRA_OUTPUTS.get(node.op_type)
    if extra is not None and any(node.wanted[extra:]):
        return "its optional extra outputs"
    check = _ATTRIBUTE_CHECKS.get(node.op_type)
    return None if check is None else check(node)
