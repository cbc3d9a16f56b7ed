"""The ONNX export table: for every name a graph's call node may target, its exporter or
the reason it has none.

``EXPORTERS`` merges the family modules' tables (``_export_math.py``,
``_export_activation.py``, ``_export_reduce.py``, ``_export_scan.py``,
``_export_tensor.py``, ``_export_index.py``, ``_export_adjoint.py``, ``_export_nn.py``,
``_export_loss.py``, ``_export_rnn.py``, ``_export_control.py``); ``NOT_EXPORTABLE``
says why the others have none. A coverage
test (tests/onnx/test_export_ops.py) checks that every name of
``ember.jit.ops.op_names()`` is in exactly one of the two, so a new op must be
classified, and runs every case of the op table through ONNX Runtime.

A few exportable ops refuse some of their forms, naming the form and the way around it
(``unsupported_form``): ``x[i, j]`` with several index tensors at once, ``max_norm``
in ``embedding``/``embedding_bag``, integer bitwise ops and scatter max/min below opset
18, the deprecated ``size_average``/``reduce`` arguments of the losses.
"""

from ember.onnx import (
    _export_activation,
    _export_adjoint,
    _export_control,
    _export_index,
    _export_loss,
    _export_math,
    _export_nn,
    _export_reduce,
    _export_rnn,
    _export_scan,
    _export_tensor,
)
from ember.onnx._export_errors import unsupported

__all__ = ["EXPORTABLE", "EXPORTERS", "NOT_EXPORTABLE", "exporter_for"]

_FAMILIES = (_export_math, _export_activation, _export_reduce, _export_scan, _export_tensor,
             _export_index, _export_adjoint, _export_nn, _export_loss, _export_rnn,
             _export_control)

EXPORTERS = {}
for _family in _FAMILIES:
    EXPORTERS.update(_family.EXPORTERS)
EXPORTABLE = frozenset(EXPORTERS)

_GRADIENT = ("a gradient op: it appears only in graphs of a training step (backward), "
             "and ONNX export writes inference graphs (the gradient ops that only move "
             "values, like SliceScatter, export)")
_BASE = "a base class of other ops: graphs record its subclasses, never it"
_NO_ONNX = "no ONNX operator computes it, and no exact composition of ONNX operators is written"

_INTERNAL = ("an op inside cross_entropy that holds the targets as constants; graphs record "
             "the call of cross_entropy itself (a traceable function), which exports")

NOT_EXPORTABLE = {
    # Gradient ops.
    "AttentionBackward": _GRADIENT, "AvgPoolBackward": _GRADIENT, "ConvWeight": _GRADIENT,
    "CrossEntropyBackward": _GRADIENT, "CrossEntropyProbBackward": _GRADIENT,
    "LinearBackward": _GRADIENT, "NormalizeBackward": _GRADIENT,
    "PackedAttentionBackward": _GRADIENT,
    "ResampleBackward": _GRADIENT,
    "_SmoothGrad": _GRADIENT,
    # Base classes.
    "_Compare": _BASE, "_CumulativeExtreme": _BASE, "_Elementwise": _BASE, "_Flat": _BASE,
    "_PointwiseLoss": _BASE, "_Predicate": _BASE, "_Rounding": _BASE, "_Scale": _BASE,
    "_Select2": _BASE, "_Smooth": _BASE, "_Unary": _BASE, "Select": _BASE,
    # No ONNX form.
    "Erfinv": _NO_ONNX + " (ONNX has Erf but no inverse, and Newton steps on ONNX "
                         "Runtime's float32-only Erf lose the accuracy near +-1)",
    "RreluTrain": "randomized leaky ReLU in training mode draws random slopes; export the "
                  "model in eval mode (model.eval()), where it is a LeakyRelu",
    "CrossEntropy": _INTERNAL, "CrossEntropyProb": _INTERNAL,
    "dropout": "dropout in training mode draws a new random mask on every call; export the "
               "model in eval mode (model.eval()), where dropout is the identity",
    "LSTMSequenceFromTable": "an internal form of LSTMSequence that only the compiled "
                             "training step's embedding_projection pass makes; traced graphs "
                             "record LSTMSequence of an embedding, which exports",
}
for _name in NOT_EXPORTABLE:
    if _name in EXPORTERS:
        raise AssertionError(f"{_name} is both exportable and not exportable")


def exporter_for(node):
    """The exporter of ``node.target``, or ``UnsupportedOperatorError`` saying what to do."""
    fn = EXPORTERS.get(node.target)
    if fn is not None:
        return fn
    raise unsupported(node, NOT_EXPORTABLE.get(node.target, "no exporter is written for it"))

