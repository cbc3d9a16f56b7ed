"""``ember.jit.save`` / ``ember.jit.load``: a traced model as one file, without its code.

The file is one safetensors file (other tools open it as one) whose ``__metadata__``
holds the graph, so a model is one file to copy, and loading reads no Python code::

    __metadata__: {"format": "ember.jit", "format_version": "1", "model": MODEL}
    tensors:      every parameter and buffer under its state_dict key ("fc.weight"),
                  and the arrays the graph holds (constants, index arrays in node
                  params) as "graph/0", "graph/1", ...

MODEL is a JSON string ``{"name": str, "graph": GRAPH, "parameters": [[key,
requires_grad], ...], "buffers": [key, ...]}``; GRAPH and the encoding of node params are
described in ``_encode.py``. A reader refuses files whose format version is newer than
its own (``FORMAT_VERSION``); each change of the layout or the encoding increments it.

Saving writes a temporary file and renames it (``ember.serialization.atomic``), after
the whole content is encoded, so a param that cannot be saved leaves no file behind.

Example:
    >>> import os, tempfile, ember
    >>> net = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.ReLU())
    >>> path = os.path.join(tempfile.mkdtemp(), "net.ember")
    >>> ember.jit.save(ember.jit.trace(net, ember.ones(4, 3)), path)
    >>> loaded = ember.jit.load(path)
    >>> bool((loaded(ember.ones(4, 3)) == net(ember.ones(4, 3))).all())
    True
"""

import json
import os

from ember.jit._encode import Decoder, Encoder, Malformed, Unsupported, storable
from ember.jit.graph import Graph
from ember.jit.interpreter import _CONTROL_FLOW as _RUN_BY_INTERPRETER
from ember.jit.ops import lookup
from ember.jit.traced import TracedModule
from ember.nn.parameter import Parameter
from ember.serialization import format as _format
from ember.serialization.atomic import atomic_write
from ember.serialization.format import CheckpointError
from ember.tensor import Tensor

__all__ = ["FORMAT_VERSION", "SavedModelError", "load", "save"]

FORMAT = "ember.jit"
FORMAT_VERSION = 1
_ARRAYS = "graph/"


class SavedModelError(CheckpointError):
    """A file ``ember.jit.load`` cannot use: not a saved model, from a newer format,
    truncated or corrupted. Raised before the file's content is used."""


def save(traced, f):
    """Save a traced model (graph, parameters and buffers) as one safetensors file.

    Args:
        traced: a ``TracedModule`` (from ``ember.jit.trace`` or ``ember.jit.load``).
            Its ``graph`` is saved: with ``dynamic=True``, the graph of the first
            input signature.
        f: a path, or a binary file object opened for writing.

    Raises:
        TypeError: ``traced`` is not a ``TracedModule``, or a node's param holds a value
            a saved graph cannot hold; the message names the op and the param, and
            nothing is written.
    """
    if not isinstance(traced, TracedModule):
        raise TypeError(f"ember.jit.save: expected a TracedModule (from ember.jit.trace), "
                        f"got {type(traced).__name__}")
    arrays, model = _encode_model(traced)
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
                "model": json.dumps(model, separators=(",", ":"), allow_nan=False)}
    if isinstance(f, (str, os.PathLike)):
        atomic_write(f, lambda stream: _format.write(stream, arrays, metadata))
    elif callable(getattr(f, "write", None)):
        _format.write(f, arrays, metadata)
    else:
        raise TypeError(f"ember.jit.save: f must be a path or a binary file object, not "
                        f"{type(f).__name__}")


def load(f):
    """Load a model saved by ``ember.jit.save``; no Python class of the model is needed.

    Args:
        f: a path, or a binary file object opened for reading.

    Returns:
        A ``TracedModule`` running the saved graph; its parameters are
        ``nn.Parameter``s with their saved ``requires_grad``, so it can be fine-tuned.

    Raises:
        SavedModelError: the file is not an ember.jit saved model, comes from a newer
            format version, is truncated or corrupted, or names an op this ember lacks.
    """
    where = os.fspath(f) if isinstance(f, (str, os.PathLike)) else repr(f)
    metadata, arrays = _read(f, where)
    model = _model_json(metadata, where)
    try:
        graph = Decoder(arrays).graph(model["graph"])
        parameters = [(key, Parameter(Tensor._make(arrays[key]), requires_grad=bool(rg)))
                      for key, rg in model.get("parameters", [])]
        buffers = [(key, Tensor._make(arrays[key])) for key in model.get("buffers", [])]
        name = str(model.get("name", "graph"))
    except (Malformed, KeyError, TypeError, ValueError, AttributeError, ImportError,
            RecursionError) as exc:
        raise _error(where, f"the saved graph is malformed ({type(exc).__name__}: {exc}): "
                     "the file is corrupted or was edited") from None
    _check_ops(graph, where)
    _check_parameters(graph, dict(parameters + buffers), where)
    return TracedModule.from_graph(graph, parameters, buffers, name)


# ---- saving --------------------------------------------------------------------------

def _encode_model(traced):
    parameters = list(traced.named_parameters())
    buffers = list(traced.named_buffers())
    arrays = {}
    for key, t in parameters + buffers:
        if key.startswith(_ARRAYS):
            raise TypeError(f"ember.jit.save: the tensor name {key!r} is reserved for the "
                            "graph's arrays")
        arrays[key] = t._data
    encoder = Encoder(prefix=_ARRAYS)
    try:
        graph = encoder.graph(traced.graph, _unsupported)
    except Unsupported as exc:  # in the returned structure, not in a node
        raise TypeError(f"ember.jit.save: the traced function returns {exc}, which a "
                        "saved graph cannot hold; nothing was written") from None
    for key, a in list(arrays.items()):
        try:
            arrays[key] = storable(a)
        except Unsupported as exc:
            raise TypeError(f"ember.jit.save: tensor {key!r} is {exc}; nothing was "
                            "written") from None
    arrays.update(encoder.arrays)
    model = {"name": traced._name, "graph": graph,
             "parameters": [[key, bool(p.requires_grad)] for key, p in parameters],
             "buffers": [key for key, _ in buffers]}
    return arrays, model


def _unsupported(node, key, exc):
    where = f" (traced at {node.where})" if node.where else ""
    raise TypeError(f"ember.jit.save: op {node.target}{where} has param {key!r} holding "
                    f"{exc}, which a saved graph cannot hold (it holds numbers, strings, "
                    "tuples, lists, dicts, slices, dtypes, arrays and ember's small param "
                    "objects); nothing was written") from None


# ---- loading -------------------------------------------------------------------------

def _error(where, what):
    return SavedModelError(f"ember.jit.load: {where}: {what}")


def _read(f, where):
    try:
        if isinstance(f, (str, os.PathLike)):
            with open(f, "rb") as stream:
                return _format.read(stream, where)
        return _format.read(f, where)
    except CheckpointError as exc:
        raise SavedModelError(f"ember.jit.{exc}") from None


def _model_json(metadata, where):
    kind = metadata.get("format")
    if kind != FORMAT:
        what = "an ember checkpoint (read it with ember.load)" if "ember" in metadata else \
            "a safetensors file without an ember.jit graph"
        raise _error(where, f"this is {what}, not a model saved by ember.jit.save")
    version = metadata.get("format_version", "")
    if not version.isdigit():
        raise _error(where, f"the format version {version!r} is not a number: the file is "
                     "corrupted")
    if int(version) > FORMAT_VERSION:
        raise _error(where, f"the file has format version {int(version)}, newer than "
                     f"version {FORMAT_VERSION} that this ember reads; load it with a "
                     "newer ember")
    try:
        model = json.loads(metadata.get("model", ""))
    except (ValueError, RecursionError) as exc:
        raise _error(where, f"the graph is not valid JSON ({exc}): the file is "
                     "corrupted") from None
    if not isinstance(model, dict) or "graph" not in model:
        raise _error(where, "the metadata lacks the graph: the file is corrupted")
    return model


def _check_ops(graph, where):
    for node in _all_nodes(graph):
        if node.kind != "call":
            continue
        try:
            lookup(node.target)
        except (KeyError, TypeError, AttributeError):
            if node.target in _RUN_BY_INTERPRETER:
                continue
            raise _error(where, f"the graph calls op {node.target!r}, which this ember "
                         "does not have: the file was saved by a newer ember, or the op "
                         "is defined outside ember") from None


def _check_parameters(graph, tensors, where):
    for node in _all_nodes(graph):
        if node.kind == "parameter" and node.target not in tensors:
            raise _error(where, f"the graph reads the tensor {node.target!r}, which the "
                         "file does not hold: the file is corrupted")


def _all_nodes(graph):
    """The nodes of ``graph`` and of its subgraphs (``cond``, ``while_loop``)."""
    for node in graph.nodes:
        yield node
        for p in node.params.values():
            for sub in (p if isinstance(p, (list, tuple)) else (p,)):
                if isinstance(sub, Graph):
                    yield from _all_nodes(sub)
