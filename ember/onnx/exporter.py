"""``ember.onnx.export``: a model traced by ``ember.jit.trace`` and written as an ONNX file.

Example:
    >>> import io, ember
    >>> net = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.ReLU()).eval()
    >>> buffer = io.BytesIO()
    >>> ember.onnx.export(net, ember.ones(4, 3), buffer, input_names=["x"],
    ...                   output_names=["y"], dynamic_axes={"x": {0: "batch"}})
    >>> import onnx
    >>> [i.name for i in onnx.load_from_string(buffer.getvalue()).graph.input]
    ['x']

The model runs once on ``args`` (in the mode the user set: call ``model.eval()`` first
for inference), its ops become ONNX operators through the table in ``_export_ops.py``,
its parameters and buffers become initializers named by their ``state_dict`` keys, and
the model is checked by ``onnx.checker`` before anything is written. The file is
written to a temporary name and renamed, so a failed export never leaves a file.
"""

import inspect
import os
import tempfile

import numpy as np

from ember.jit.errors import TraceError
from ember.jit.traced import _as_tuple
from ember.nn.module import Module
from ember.onnx._export_context import check_opset
from ember.onnx._export_ops import EXPORTABLE, NOT_EXPORTABLE
from ember.tensor import Tensor

__all__ = ["EXPORTABLE", "NOT_EXPORTABLE", "export"]


def export(model, args, f, *, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=17, export_params=True, verbose=False, do_constant_folding=True,
           keep_initializers_as_inputs=False):
    """Write ``model`` run on ``args`` as an ONNX model to ``f``.

    Args:
        model: an ``nn.Module``, a function of tensors, or a ``TracedModule``.
        args: a Tensor or a tuple of Tensors, the arguments of one call.
        f: a path (written atomically) or a binary file object.
        input_names, output_names: names of the ONNX graph's inputs and outputs
            (default: the forward's argument names, and ``output``/``output_<i>``).
        dynamic_axes: ``{name: [axis, ...]}`` or ``{name: {axis: "symbol"}}``: axes whose
            size may differ at run time (e.g. the batch axis), as in ``torch.onnx.export``.
        opset_version: the ONNX opset, from 17 (the default) to the newest ``onnx`` knows.
        export_params: must be True (the weights are always stored in the file).
        verbose: print the ember graph that is being exported.
        do_constant_folding, keep_initializers_as_inputs: accepted for PyTorch's
            signature; the graph is written as traced and initializers are not inputs.

    Raises:
        UnsupportedOperatorError: an op of the model has no ONNX exporter.
        ValueError: bad names or axes, or a size that depends on a dynamic axis in a
            way the exporter cannot write.
        RuntimeError: the model failed ``onnx.checker`` (an exporter's mistake).
    """
    import onnx

    from ember.onnx._export_graph import build_model

    if not export_params or keep_initializers_as_inputs:
        raise ValueError("ember.onnx.export: export_params=False and "
                         "keep_initializers_as_inputs=True are not supported")
    opset = check_opset(opset_version)
    args = _as_tuple(args, "ember.onnx.export: args[{}]")
    traced = _traced(model, args)
    graph = traced.graph
    if verbose:
        print(graph)
    io = _io_names(model, graph, input_names, output_names, dynamic_axes)
    tensors = {k: t._data for k, t in traced._named_tensors()}
    twins = None
    if dynamic_axes:
        twin = _twin_graph(traced, graph, args, io[0], io[2])
        twins = _pair(graph, twin)
        _mark_varying_outputs(graph, twins, io[1], io[3])
        _check_size_free(graph, twin, list(tensors), io, opset)
    proto = build_model(graph, tensors, io, opset, twins)
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        raise RuntimeError(f"ember.onnx.export: the ONNX model did not pass onnx.checker, "
                           f"so nothing was written (an exporter's mistake: please report "
                           f"it with the model): {exc}") from exc
    _write(proto.SerializeToString(), f)


def _traced(model, args):
    from ember.jit import TracedModule, trace

    if isinstance(model, TracedModule):
        return model
    if not (isinstance(model, Module) or callable(model)):
        raise TypeError(f"ember.onnx.export: model must be a Module or a function of "
                        f"tensors, got {type(model).__name__}")
    try:
        return trace(model, args)
    except TraceError as exc:
        if not (isinstance(model, Module) and model.training):
            raise
        # A random op in training mode (other than dropout, which is one traceable call
        # that the exporter refuses by name) draws new values for every run, which the
        # trace's check sees as values computed in Python.
        raise TraceError(f"ember.onnx.export: the model is in training mode, where random "
                         f"ops such as dropout make each run different; call model.eval() "
                         f"before exporting it for inference. ({exc})") from exc


# ---- names and dynamic axes -------------------------------------------------------------

def _io_names(model, graph, input_names, output_names, dynamic_axes):
    """``(input names, output names, input dims, output dims)`` (see ``build_model``)."""
    n_in, n_out = len(graph.inputs), len(graph.outputs)
    ins = list(input_names) if input_names else _default_inputs(model, n_in)
    outs = list(output_names) if output_names else (
        ["output"] if n_out == 1 else [f"output_{i}" for i in range(n_out)])
    if len(ins) != n_in:
        raise ValueError(f"ember.onnx.export: input_names has {len(ins)} names for "
                         f"{n_in} inputs")
    if len(outs) != n_out:
        raise ValueError(f"ember.onnx.export: output_names has {len(outs)} names for "
                         f"{n_out} outputs")
    if len(set(ins + outs)) != n_in + n_out:
        raise ValueError(f"ember.onnx.export: input and output names must be distinct, got "
                         f"{ins} and {outs}")
    dims = _dims(dynamic_axes or {}, dict(zip(ins, graph.inputs)),
                 dict(zip(outs, graph.outputs)))
    return ins, outs, {k: v for k, v in dims.items() if k in ins}, \
        {k: v for k, v in dims.items() if k in outs}


def _default_inputs(model, count):
    from ember.jit import TracedModule

    if isinstance(model, TracedModule) and model._fn is not None:
        model = model._fn
    fn = model.forward if isinstance(model, Module) else model
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    if len(params) >= count and len(set(params[:count])) == count:
        return params[:count]
    return [f"input_{i}" for i in range(count)]


def _dims(dynamic_axes, inputs, outputs):
    """``{name: {axis: symbol}}`` from PyTorch's two spellings of ``dynamic_axes``."""
    found = {}
    for name, axes in dynamic_axes.items():
        value = inputs.get(name) or outputs.get(name)
        if value is None:
            raise ValueError(f"ember.onnx.export: dynamic_axes names {name!r}, which is not "
                             f"an input or output name ({list(inputs) + list(outputs)})")
        if not isinstance(axes, dict):
            axes = {a: f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
        rank = len(value.shape)
        checked = {}
        for axis, symbol in axes.items():
            if not isinstance(axis, int) or not -rank <= axis < max(rank, 1):
                raise ValueError(f"ember.onnx.export: dynamic axis {axis!r} of {name!r} is "
                                 f"out of range for its shape {list(value.shape)}")
            checked[axis % rank] = str(symbol)
        found[name] = checked
    return found


def _mark_varying_outputs(graph, twins, out_names, out_dims):
    """Name the output axes whose size follows a dynamic input axis, also when
    ``dynamic_axes`` does not list them, so the file declares no wrong fixed size."""
    for name, value in zip(out_names, graph.outputs):
        other = twins.get(id(value), value).shape
        dims = out_dims.setdefault(name, {})
        for axis, (a, b) in enumerate(zip(value.shape, other)):
            if a != b:
                dims.setdefault(axis, f"{name}_dynamic_axes_{axis + 1}")


def _twin_graph(traced, graph, args, in_names, input_dims):
    """The graph of a second trace with other sizes along the dynamic axes.

    The dynamic axes first grow (each by its own amount), and if the model refuses
    those sizes (a maximum length, say), shrink. NOTE [dynamic axes] in
    ``_export_context.py``.
    """
    from ember.jit.tracer import capture

    fn = traced._fn
    if fn is None:
        raise ValueError("ember.onnx.export: dynamic_axes needs the model's Python code to "
                         "trace it at other sizes; this TracedModule was loaded without it")
    axes = [input_dims.get(n, {}) for n in in_names]
    names = [v.name for v in graph.inputs]
    errors = []
    for sign in (1, -1):
        other = _resized(args, axes, sign)
        if other is None:
            continue
        try:
            twin = capture(fn, other, traced._named_tensors(), names)
        except Exception as exc:
            errors.append(f"input shapes {[tuple(a.shape) for a in other]}: {exc}")
            continue
        return twin
    raise ValueError("ember.onnx.export: the model does not run with other sizes along the "
                     "dynamic axes, so they cannot be dynamic; tried " + "; ".join(errors))


def _resized(args, axes_per_input, sign):
    """``args`` with each dynamic axis ``step`` longer (``sign`` 1) or shorter (-1), its
    entries repeated (so they stay valid values, token ids say); ``step`` is 1, 2, 3...
    in order over all the dynamic axes, so each axis changes by its own amount. None when
    an axis is too short to shrink."""
    out, step = [], 0
    for a, axes in zip(args, axes_per_input):
        data = a._data
        for axis in sorted(axes):
            step += 1
            n = data.shape[axis]
            new = n + sign * step
            if new < 2 and sign < 0:  # size 1 broadcasts: a poor witness
                return None
            data = np.take(data, np.arange(new) % max(n, 1), axis=axis)
        out.append(Tensor._make(np.ascontiguousarray(data)))
    return tuple(out)


def _pair(graph, twin, twins=None):
    """Match the nodes and values of the two traces (subgraphs of control flow too)."""
    twins = {} if twins is None else twins
    a, b = graph.nodes, twin.nodes
    if len(a) != len(b) or any(n.kind != m.kind or n.target != m.target or
                               len(n.outputs) != len(m.outputs) for n, m in zip(a, b)):
        raise ValueError("ember.onnx.export: the model runs other ops when the dynamic axes "
                         "have other sizes, so one ONNX graph cannot serve all sizes; "
                         "export without dynamic_axes")
    for n, m in zip(a, b):
        twins[id(n)] = m
        for v, w in zip(n.outputs, m.outputs):
            twins[id(v)] = w
        for sub, other in zip(_subgraphs(n), _subgraphs(m)):
            _pair(sub, other, twins)
    return twins


def _subgraphs(node):
    if node.kind != "call" or node.target not in ("cond", "while_loop"):
        return []
    params = node.params
    return list(params["branches"]) if node.target == "cond" else [params["cond_graph"],
                                                                    params["body_graph"]]


def _check_size_free(graph, twin, keys, io, opset):
    """Convert both traces (each the other's twin): the models must be the same, else
    an exporter wrote a size of the example (NOTE [dynamic axes] in
    ``_export_context.py``). Weights are left out: they are the same by construction."""
    from ember.onnx._export_graph import build_model

    empty = {key: np.zeros(0, np.float32) for key in keys}
    origin = {}
    first = build_model(graph, empty, io, opset, _pair(graph, twin), origin).graph
    second = build_model(twin, empty, io, opset, _pair(twin, graph)).graph
    name = _first_difference(list(first.node), list(second.node))
    if name is None:
        inits = {t.name: t for t in second.initializer}
        name = next((t.name for t in first.initializer if inits.get(t.name) != t), None)
    if name is None:
        return
    node = origin.get(name)
    what = f"the op {node.target} (called at {node.where})" if node is not None else "a value"
    raise ValueError(
        f"ember.onnx.export: {what} is written with sizes of the example that depend on "
        "a dynamic axis, so the model would be wrong for other sizes; export without "
        "dynamic_axes (or with fewer) for this model")


def _first_difference(nodes, others):
    """The name of the first node that differs (inside If/Loop bodies first), or None."""
    from onnx import AttributeProto

    for n, m in zip(nodes, others):
        if n == m:
            continue
        if n.op_type == m.op_type and len(n.attribute) == len(m.attribute):
            for a, b in zip(n.attribute, m.attribute):
                if a.type == AttributeProto.GRAPH and a != b:
                    inner = _first_difference(list(a.g.node), list(b.g.node))
                    if inner is not None:
                        return inner
        return n.name
    if len(nodes) != len(others):
        return (nodes or others)[min(len(nodes), len(others)) - 1].name
    return None


# ---- writing ---------------------------------------------------------------------------

def _write(data, f):
    """``data`` to a path (temporary file + rename) or to a binary file object."""
    if hasattr(f, "write"):
        f.write(data)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".ember-onnx-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
