"""``ember.onnx.load``: an ONNX model (e.g. written by ``torch.onnx.export``) as an ember
module that runs, differentiates and fine-tunes.

The graph's nodes run in file order (ONNX requires a topological order), each through
the table in ``_import_ops``. Floating initializers become ``Parameter``\\ s, so
``loss.backward()`` reaches them and an optimizer can train them. Buffers hold the rest:
integer initializers, the running statistics of a BatchNormalization, and floating ones
with non-finite values (masks of -inf, which no gradient step can move).

Each initializer is registered under its ONNX name split at the dots into submodules
("features.0.weight" is the parameter ``weight`` of submodule ``features.0``), so
``state_dict()`` keys match the exporting model's names; characters a name cannot hold
become "_", and a name that would clash gets a numeric suffix on the root module.
``OnnxModule.initializer_names`` maps each ONNX name to its key.

Values that do not depend on data (constants, shapes read from inputs, arithmetic on
them) are computed as NumPy arrays, so Reshape targets and Slice bounds are plain
constants however the exporter computed them.
"""

import os
import re

import numpy as np

import ember
from ember._errors import type_error, value_error
from ember.nn.module import Module
from ember.nn.parameter import Parameter
from ember.onnx._import_ops import BUFFER_INPUTS, OPS, unsupported_reason
from ember.onnx._import_signature import InputSpec, bind_inputs
from ember.onnx._import_values import OnnxNode
from ember.onnx.errors import UnsupportedOperatorError
from ember.tensor import Tensor

__all__ = ["OnnxModule", "load"]

_DEFAULT_DOMAINS = ("", "ai.onnx")


def load(source):
    """Load an ONNX model as an ember module.

    Args:
        source: a path to a ``.onnx`` file, the file's bytes, or an ``onnx.ModelProto``.

    Returns:
        An ``OnnxModule``; call it with one Tensor per graph input (in the graph's order)
        to get one Tensor or a tuple in the graph's output order.

    Raises:
        UnsupportedOperatorError: an operator ember has no mapping for (named with its
            node), raised here rather than when the model runs.
        ValueError: ``source`` is not a valid ONNX model.

    Example:
        >>> import ember.onnx
        >>> model = ember.onnx.load("model.onnx")  # doctest: +SKIP
        >>> logits = model(ember.randn(1, 3, 32, 32))  # doctest: +SKIP
    """
    model, what = _read_model(source)
    return OnnxModule(model, what)


def _import_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ember.onnx.load needs the onnx package: pip install "
                          "'ember[onnx]'") from None
    return onnx


def _read_model(source):
    """``(ModelProto, how to name it in errors)`` from a path, bytes or a ModelProto."""
    onnx = _import_onnx()
    if isinstance(source, onnx.ModelProto):
        model, what = source, "the given ModelProto"
    elif isinstance(source, (bytes, bytearray, memoryview)):
        model, what = _parse(onnx, lambda: onnx.load_from_string(bytes(source)), "bytes")
    elif isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"ember.onnx.load: no such file: '{path}'")
        model, what = _parse(onnx, lambda: onnx.load(path), f"'{path}'")
    else:
        raise type_error("ember.onnx.load", "expected a path, bytes or an onnx.ModelProto, "
                                            f"got {type(source).__name__}")
    if not model.graph.node and not model.graph.output:
        raise value_error("ember.onnx.load", f"{what} is not a valid ONNX model (it holds "
                                             "no graph)")
    return model, what


def _parse(onnx, read, what):
    try:
        return read(), what
    except Exception as e:  # protobuf raises DecodeError, RuntimeWarning or OSError
        raise value_error("ember.onnx.load", f"{what} is not a valid ONNX model (it could "
                                             f"not be parsed: {e})") from e


def _check_model(onnx, model, what):
    """ONNX's own checker (after the operator check: it rejects operators it does not
    know, which deserve UnsupportedOperatorError)."""
    for tensor in model.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            # onnx.load reads external data from beside a file; bytes have no "beside".
            raise value_error("ember.onnx.load", f"initializer '{tensor.name}' of {what} "
                                                 "is stored in an external data file: load "
                                                 "the model from its path, next to that file")
    try:
        onnx.checker.check_model(model)
    except (onnx.checker.ValidationError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise value_error("ember.onnx.load", f"{what} is not a valid ONNX model "
                                             f"({first})") from e


def _default_opset(model):
    for entry in model.opset_import:
        if entry.domain in _DEFAULT_DOMAINS:
            return entry.version
    return 1


# ---- nodes ---------------------------------------------------------------------------


def _attribute(onnx, attr):
    value = onnx.helper.get_attribute_value(attr)
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, onnx.TensorProto):
        return onnx.numpy_helper.to_array(value)
    if isinstance(value, list) and value and isinstance(value[0], bytes):
        return [v.decode("utf-8") for v in value]
    return value


def _make_node(onnx, proto, index, opset):
    return OnnxNode(op_type=proto.op_type, name=proto.name or f"#{index}",
                    attrs={a.name: _attribute(onnx, a) for a in proto.attribute},
                    opset=opset, num_outputs=len(proto.output),
                    wanted=tuple(bool(o) for o in proto.output))


def _problem(proto, node):
    """Why ember cannot run this node, or None."""
    if proto.domain not in _DEFAULT_DOMAINS:
        return f"operator '{proto.op_type}' of domain '{proto.domain}' has no ember mapping"
    if node.op_type not in OPS:
        return f"operator '{node.op_type}' has no ember mapping"
    reason = unsupported_reason(node, len(proto.input))
    if reason is not None:
        return f"operator '{node.op_type}' is not supported with {reason}"
    return None


def _check_supported(protos, nodes):
    """Raise UnsupportedOperatorError for the first node ember cannot run, listing all."""
    problems = [(node, _problem(proto, node)) for proto, node in zip(protos, nodes,
                                                                      strict=True)]
    problems = [(node, message) for node, message in problems if message is not None]
    if problems:
        node, message = problems[0]
        others = sorted({n.op_type for n, _ in problems[1:]} - {node.op_type})
        also = f"; also unsupported here: {', '.join(others)}" if others else ""
        raise UnsupportedOperatorError(
            f"ember.onnx.load: {message} (node '{node.name}'){also}", node.op_type)


def _check_dataflow(graph, known):
    """Every node input is defined before it is used (a truncated graph is caught here)."""
    defined = set(known)
    for index, proto in enumerate(graph.node):
        for name in proto.input:
            if name and name not in defined:
                raise value_error("ember.onnx.load", f"node '{proto.name or index}' "
                                                     f"({proto.op_type}) reads '{name}', "
                                                     "which nothing defines before it")
        defined.update(o for o in proto.output if o)
    missing = [o.name for o in graph.output if o.name not in defined]
    if missing:
        raise value_error("ember.onnx.load", f"graph outputs {missing} are never computed")


# ---- initializers --------------------------------------------------------------------


def _state_only(graph):
    """Initializer names used only as BatchNormalization statistics (hence buffers)."""
    state, other = set(), set()
    for proto in graph.node:
        slots = BUFFER_INPUTS.get(proto.op_type, ())
        for i, name in enumerate(proto.input):
            (state if i in slots else other).add(name)
    for output in graph.output:
        other.add(output.name)
    return state - other


def _is_weight(array):
    """Floating and finite: a mask of -inf (an attention mask the exporter lifted into an
    initializer) is a constant, since no gradient step can move it."""
    return array.dtype.kind == "f" and bool(np.isfinite(array).all())


def _initializer_tensor(name, array):
    try:
        return ember.tensor(array)
    except TypeError:
        raise type_error("ember.onnx.load", f"initializer '{name}' holds {array.dtype} "
                                            "values, a dtype ember does not have") from None


def _sanitize(part):
    part = re.sub(r"[^0-9A-Za-z_]", "_", part)
    return part or "_"


class _Scope(Module):
    """A submodule that only holds initializers (a segment of their dotted names)."""

    def forward(self, *args):
        raise RuntimeError("this module only holds ONNX initializers; call the OnnxModule")


def _ensure_scope(parent, name):
    """The scope submodule ``name`` of ``parent`` (made if free), or None if taken."""
    child = parent._modules.get(name)
    if child is None and not _taken(parent, name):
        child = _Scope()
        parent.add_module(name, child)
    return child


def _taken(module, name):
    return (name in module._parameters or name in module._buffers or
            name in module._modules or hasattr(type(module), name) or
            name in module.__dict__)


def _place(root, onnx_name):
    """``(module, attribute, state_dict key)`` for an initializer: its dotted path when
    that is free, else a flat name with a numeric suffix on the root."""
    parts = [_sanitize(p) for p in onnx_name.split(".")]
    module = root
    for part in parts[:-1]:
        module = None if module is None else _ensure_scope(module, part)
    if module is not None and not _taken(module, parts[-1]):
        return module, parts[-1], ".".join(parts)
    flat, n = "_".join(parts), 1
    while _taken(root, f"{flat}_{n}"):
        n += 1
    return root, f"{flat}_{n}", f"{flat}_{n}"


class OnnxModule(Module):
    """An ONNX graph as an ember module: nodes run with ember ops, weights are parameters.

    Build it with ``ember.onnx.load``. ``forward(*inputs)`` checks each input against the
    graph's declared dtype and shape (symbolic dimensions must agree among the inputs);
    dropout and batch normalization behave as the graph says (an inference export keeps
    them in inference mode whatever ``train()`` says).

    Attributes:
        opset: the model's opset version of the default ONNX domain.
        input_names: the graph inputs ``forward`` takes, in order.
        output_names: the graph outputs it returns, in order.
        initializer_names: ONNX initializer name -> its key in ``state_dict()``.
    """

    def __init__(self, model, what="the model"):
        super().__init__()
        onnx = _import_onnx()
        graph = model.graph
        self.opset = _default_opset(model)
        nodes = [_make_node(onnx, p, i, self.opset) for i, p in enumerate(graph.node)]
        _check_supported(graph.node, nodes)
        _check_model(onnx, model, what)
        initializers = {t.name: t for t in graph.initializer}
        self._inputs = [InputSpec.from_proto(v) for v in graph.input
                        if v.name not in initializers]
        self.input_names = [spec.name for spec in self._inputs]
        self.output_names = [o.name for o in graph.output]
        _check_dataflow(graph, list(initializers) + self.input_names)
        self._steps = [(node, OPS[node.op_type], list(p.input), list(p.output))
                       for node, p in zip(nodes, graph.node, strict=True)]
        self._slots, self.initializer_names = {}, {}
        self._register_initializers(onnx, initializers, _state_only(graph))

    def _register_initializers(self, onnx, initializers, state_only):
        for name, proto in initializers.items():
            array = np.array(onnx.numpy_helper.to_array(proto))  # a writable copy
            module, attr, key = _place(self, name)
            value = _initializer_tensor(name, array)
            if _is_weight(array) and name not in state_only:
                module.register_parameter(attr, Parameter(value))
            else:
                module.register_buffer(attr, value)
            self._slots[name] = (module, attr)
            self.initializer_names[name] = key

    def _initial_values(self, inputs):
        values = dict(zip(self.input_names, bind_inputs(self._inputs, inputs), strict=True))
        for name, (module, attr) in self._slots.items():
            value = getattr(module, attr)
            # Integer state (shapes, indices) is static: it steers ops, it never trains.
            values[name] = value if value.dtype.is_floating_point else value.numpy()
        return values

    def forward(self, *inputs):
        values = self._initial_values(inputs)
        for node, fn, names, outputs in self._steps:
            args = [values[n] if n else None for n in names]
            result = _run(node, fn, args)
            result = result if isinstance(result, tuple) else (result,)
            for name, value in zip(outputs, result, strict=False):
                if name:
                    values[name] = value
        outs = tuple(_as_output(values[name]) for name in self.output_names)
        return outs[0] if len(outs) == 1 else outs

    def extra_repr(self):
        return (f"opset={self.opset}, inputs={self.input_names}, "
                f"outputs={self.output_names}, nodes={len(self._steps)}")


def _run(node, fn, args):
    """One node; all-static inputs give static (NumPy) outputs."""
    try:
        result = fn(node, *args)
    except Exception as e:
        if hasattr(e, "add_note"):
            e.add_note(f"while running ONNX {node.label}")
        raise
    if any(isinstance(a, Tensor) for a in args):
        return result
    if isinstance(result, tuple):
        return tuple(r.numpy() if isinstance(r, Tensor) else r for r in result)
    return result.numpy() if isinstance(result, Tensor) else result


def _as_output(value):
    return value if isinstance(value, Tensor) else ember.tensor(np.array(value))
