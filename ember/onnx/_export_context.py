"""What an op's exporter writes into: ONNX nodes, initializers and the sizes of dynamic axes.

One ``ExportContext`` is shared by the main graph and its subgraphs (``If``/``Loop``
bodies); ``Scope`` is one graph's node list. An exporter is a function
``fn(ctx, node, *inputs) -> name or tuple of names``: ``inputs`` are the ONNX names of the
call node's inputs, and it returns the names holding the node's outputs, in order.

NOTE [dynamic axes]: ember graphs are shape-specialized: ``Reshape(shape=(2, 400))``
holds the batch size 2. When the user marks axes dynamic, ``export`` traces a second
time with other sizes along them (the "twin" graph, same nodes in the same order; each
dynamic axis grows, or shrinks, by its own amount). A number that differs between the
two traces depends on a dynamic size, so exporters that read one (Reshape, slicing,
a constant filled with one value) ask ``shape_tensor``, which computes it at run time
from the ``Shape`` of a graph input (plus a constant), or lets Reshape infer it (-1).

An exporter that writes any other size into the model (an index table, a count) would
make a model that is only right for the example's sizes. ``export`` catches those by
converting both traces, each with the other as its twin: a model free of such sizes
comes out the same both times, and the first difference names the op that wrote one.
"""

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["INT64_MAX", "ExportContext", "Scope", "check_opset", "onnx_dtype", "same_params"]

INT64_MAX = np.iinfo(np.int64).max


def onnx_dtype(np_dtype):
    """The ``TensorProto`` element type of a NumPy dtype."""
    return helper.np_dtype_to_tensor_dtype(np.dtype(np_dtype))


class Scope:
    """One ONNX graph under construction: its nodes, and (main graph only) initializers."""

    def __init__(self, is_main):
        self.nodes = []
        self.initializers = []
        self.is_main = is_main


class ExportContext:
    """Names, emitted nodes and dynamic sizes while one ember graph becomes ONNX."""

    def __init__(self, opset, tensors, twins=None, inputs=()):
        self.opset = opset
        self.tensors = tensors        # {state_dict key: ndarray} for parameter nodes
        self.initialized = set()      # parameter keys already written as initializers
        self.twins = twins or {}      # id(node or value) -> its twin (NOTE [dynamic axes])
        self.graph_inputs = list(inputs)  # (onnx name, Value) of the main graph's inputs
        self.names = {}               # id(Value) -> onnx name
        self.taken = set()
        self.current = None           # the ember node being exported
        self.origin = {}              # onnx node or initializer name -> its ember node
        self.scope = Scope(is_main=True)
        self.main = self.scope

    # ---- names -------------------------------------------------------------------------

    def fresh(self, hint="t"):
        """A tensor name not used anywhere in the model (subgraphs included)."""
        base = hint.replace("%", "")
        name, k = base, 0
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def bind(self, value, name):
        self.names[id(value)] = name
        self.taken.add(name)

    def name(self, value):
        return self.names[id(value)]

    # ---- nodes and constants -----------------------------------------------------------

    def op(self, op_type, inputs, outputs=1, **attrs):
        """Append an ONNX node; its output name (or a list of ``outputs`` names if > 1)."""
        names = [self.fresh(op_type.lower()) for _ in range(outputs)]
        # Named after the ember value it computes, so a node reads back to its source.
        source = self.current.outputs[0].name if self.current and self.current.outputs \
            else "graph"
        name = self.fresh(f"{source}/{op_type}")
        self.origin[name] = self.current
        self.add_node(helper.make_node(op_type, list(inputs), names, name=name, **attrs))
        return names[0] if outputs == 1 else names

    def add_node(self, proto):
        self.scope.nodes.append(proto)

    def const(self, array, hint="const"):
        """A constant tensor: an initializer in the main graph, a Constant node inside."""
        array = np.asarray(array)
        name = self.fresh(hint)
        self.origin[name] = self.current
        tensor = numpy_helper.from_array(array, name)
        if self.scope.is_main:
            self.scope.initializers.append(tensor)
        else:
            self.add_node(helper.make_node("Constant", [], [name], value=tensor,
                                           name=self.fresh("n_Constant")))
        return name

    def scalar(self, value, dtype):
        return self.const(np.array(value, dtype=np.dtype(dtype)), "scalar")

    def ints(self, values):
        return self.const(np.array(list(values), dtype=np.int64), "ints")

    def cast(self, name, from_dtype, to_dtype):
        if np.dtype(from_dtype) == np.dtype(to_dtype):
            return name
        return self.op("Cast", [name], to=onnx_dtype(to_dtype))

    # ---- helpers whose form depends on the opset ---------------------------------------

    def reduce(self, op_type, x, axes, keepdims, **attrs):
        """``Reduce*`` over ``axes`` (None: all); axes are an input from opset 18 on."""
        if axes is not None and len(axes) == 0:  # ONNX would read "no axes" as all of them
            return self.op("Identity", [x])
        use_input = op_type == "ReduceSum" or self.opset >= 18
        inputs = [x]
        if axes is not None:
            if use_input:
                inputs.append(self.ints(axes))
            else:
                attrs["axes"] = list(axes)
        return self.op(op_type, inputs, keepdims=int(keepdims), **attrs)

    def unsqueeze(self, x, axes):
        return self.op("Unsqueeze", [x, self.ints(axes)])

    def squeeze(self, x, axes):
        return self.op("Squeeze", [x, self.ints(axes)])

    def split(self, x, sizes, axis):
        """``Split`` into pieces of ``sizes`` along ``axis``: always a list of names."""
        if len(sizes) == 1:
            return [self.op("Identity", [x])]
        return self.op("Split", [x, self.ints(sizes)], outputs=len(sizes), axis=axis)

    # ---- dynamic sizes (NOTE [dynamic axes]) -------------------------------------------

    def twin(self, obj):
        """The object of the second trace matching ``obj`` (itself without dynamic axes)."""
        return self.twins.get(id(obj), obj)

    def shape_tensor(self, shape, twin_shape, what, allow_infer=False):
        """A 1-D int64 tensor of ``shape``, its entries that vary computed at run time.

        ``twin_shape`` is the same parameter in the twin trace. An entry that varies is
        a size of a graph input plus a constant (``x.shape[1] - 1``); with
        ``allow_infer`` (Reshape), one entry that is not may become -1.
        """
        shape, twin_shape = tuple(shape), tuple(twin_shape)
        if shape == twin_shape:
            return self.ints(shape)
        pieces, unknown = [], []
        for i, (a, b) in enumerate(zip(shape, twin_shape)):
            found = np.array([a], np.int64) if a == b else self._dim_source(a, b)
            if found is None:
                unknown.append(i)
                found = np.array([-1], np.int64)
            pieces.append(found)
        if unknown and not (allow_infer and len(unknown) == 1):
            raise ValueError(
                f"ember.onnx.export: {what} has the size-dependent shape {shape} (or "
                f"{twin_shape} for other sizes of the dynamic axes), and entries "
                f"{unknown} are not a size of any input; export with fewer dynamic axes")
        return self._concat_pieces(pieces)

    def _dim_source(self, a, b):
        """``Shape(input)[j] + c`` equal to ``a`` in this trace and ``b`` in the twin.

        Each dynamic axis changes by its own amount between the traces (``_resized`` in
        ``exporter.py``), so the change tells which axis a number follows.
        """
        for name, value in self.graph_inputs:
            other = self.twin(value).shape
            for j, (s, t) in enumerate(zip(value.shape, other)):
                if s != t and t - s == b - a:
                    size = self.op("Shape", [name], start=j, end=j + 1)
                    return size if a == s else self.op("Add", [size, self.ints([a - s])])
        return None

    def _concat_pieces(self, pieces):
        merged, run = [], []
        for p in pieces:
            if isinstance(p, np.ndarray):
                run.append(p)
                continue
            if run:
                merged.append(self.ints(np.concatenate(run)))
                run = []
            merged.append(p)
        if run:
            merged.append(self.ints(np.concatenate(run)))
        return merged[0] if len(merged) == 1 else self.op("Concat", merged, axis=0)


def check_opset(opset):
    """``opset`` as an int between 17 and the newest the installed ``onnx`` knows."""
    newest = onnx.defs.onnx_opset_version()
    if not isinstance(opset, int) or not 17 <= opset <= newest:
        raise ValueError(f"ember.onnx.export: opset_version must be an int from 17 to {newest} "
                         f"(the installed onnx package's newest), got {opset!r}")
    return opset


def same_params(x, y):
    """Whether two nodes' params are equal (arrays by value, ember objects by fields)."""
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        return (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)
                and x.shape == y.shape and np.array_equal(x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(same_params(x[k], y[k]) for k in x)
    if isinstance(x, (tuple, list)) and isinstance(y, (tuple, list)):
        return len(x) == len(y) and all(same_params(p, q) for p, q in zip(x, y))
    if type(x) is type(y) and not isinstance(x, type):
        if hasattr(x, "__dict__"):
            return same_params(vars(x), vars(y))
        slots = getattr(type(x), "__slots__", ())
        if slots:
            return all(same_params(getattr(x, k, None), getattr(y, k, None)) for k in slots)
    try:
        return bool(x == y)
    except Exception:
        return x is y
