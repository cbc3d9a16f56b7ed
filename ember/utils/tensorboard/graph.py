"""``add_graph``: capture one forward pass as a TensorBoard ``GraphDef``.

The model runs once on the given input (in eval mode, without recording gradients) while a
recorder watches every op application (``ember.autograd.node.Observers``) and forward
pre/post hooks on every submodule keep a stack of scopes. Each op becomes a node named by
its module path, like PyTorch's ``Net/Linear[fc1]/linear``, with its op type, its input
edges, its output shapes (``_output_shapes``, which TensorBoard draws on the edges) and its
parameters. Model inputs and outputs become ``input/<name>`` and ``output/output.<i>`` IO
nodes, parameters and buffers ``<scope>/<name>`` nodes, and any other tensor that enters an
op (a tensor created inside ``forward``) a ``Constant`` node.

NOTE [in-place ops in the graph]: ``x.relu_()`` runs the out-of-place op on ``x`` and then
writes the result into ``x``'s memory, bumping ``x``'s version counter; the tensor object
stays the same. So a tensor whose version changed since the recorder last saw it is taken as
the output of the last op that consumed it: the in-place op.
"""

import inspect

from ember.autograd.grad_mode import no_grad
from ember.autograd.node import Observers
from ember.tensor import Tensor
from ember.utils.tensorboard._protos import protos

__all__ = ["graph"]

_MAX_ATTR = 200  # characters of an op's parameters shown in its node


def _flatten(value):
    """The tensors inside ``value`` (a tensor, or nested tuples, lists and dicts of them)."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flatten(v)]
    return []


def _describe(params):
    parts = []
    for key, value in params.items():
        if hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:
            value = f"array{tuple(value.shape)}"
        parts.append(f"{key} : {value}")
    text = "{" + ", ".join(parts) + "}"
    return text if len(text) <= _MAX_ATTR else text[:_MAX_ATTR - 3] + "..."


class _Recorder:
    """Observer of op applications that collects the graph's nodes."""

    def __init__(self, model):
        self.root = type(model).__name__
        self.scopes = [self.root]
        self.nodes = []
        self._taken = set()
        self._produced = {}  # id(tensor) -> (node or "node:k", version)
        self._consumed = {}  # id(tensor) -> (first output of its last consumer, version)
        self._alive = []  # every tensor seen, kept so that no id is reused during the capture
        self._state = {}  # id(parameter or buffer) -> (scope, name, kind)
        for prefix, module in model.named_modules():
            scope = self.scope_of(model, prefix)
            for name, p in module.named_parameters(recurse=False):
                self._state[id(p)] = (scope, name, "Parameter")
            for name, b in module.named_buffers(recurse=False):
                self._state[id(b)] = (scope, name, "Buffer")

    def scope_of(self, model, prefix):
        """``Net/Sequential[features]/Conv2d[0]`` for the submodule at ``features.0``."""
        parts, module = [self.root], model
        for name in prefix.split(".") if prefix else []:
            module = module.get_submodule(name)
            parts.append(f"{type(module).__name__}[{name}]")
        return "/".join(parts)

    def add_node(self, name, op, inputs=(), shapes=(), attr=None):
        name = self._unique(name)
        self.nodes.append((name, op, list(inputs), [tuple(s) for s in shapes], attr))
        return name

    def _unique(self, name):
        base, k = name, 0
        while name in self._taken:
            k += 1
            name = f"{base}_{k}"
        self._taken.add(name)
        return name

    def set_source(self, tensor, name):
        self._produced[id(tensor)] = (name, tensor._vbox[0])
        self._alive.append(tensor)

    def source(self, tensor):
        """The node (``name`` or ``name:k``) whose output ``tensor`` is, creating it if new."""
        seen = self._produced.get(id(tensor))
        if seen is not None:
            name, version = seen
            if version != tensor._vbox[0]:  # NOTE [in-place ops in the graph]
                consumer = self._consumed.get(id(tensor))
                if consumer is not None and consumer[1] >= version:
                    name = consumer[0]
                self._produced[id(tensor)] = (name, tensor._vbox[0])
            return name
        scope, leaf, kind = self._state.get(id(tensor), (self.scopes[-1], "constant", "Constant"))
        attr = None
        if kind == "Constant" and tensor._data.size <= 8:
            attr = "{ value : " + repr(tensor._data.tolist()) + " }"
        name = self.add_node(f"{scope}/{leaf}", kind, shapes=[tensor.shape], attr=attr)
        self.set_source(tensor, name)
        return name

    # ---- the Observers interface ---------------------------------------------------------

    def op_begin(self, cls, inputs, params):
        return cls, inputs, params, self.scopes[-1]

    def op_end(self, token, outs):
        cls, inputs, params, scope = token
        edges = [self.source(t) for t in inputs]
        outs = outs if type(outs) is tuple else (outs,)
        op = cls.__name__.lstrip("_")
        name = self.add_node(f"{scope}/{op.lower()}", op, edges, [o.shape for o in outs],
                             _describe(params))
        for t in inputs:
            self._consumed[id(t)] = (name, t._vbox[0])
            self._alive.append(t)
        for k, out in enumerate(outs):
            self.set_source(out, name if k == 0 else f"{name}:{k}")


def _input_names(model, count):
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [names[i] if i < len(names) else f"input.{i}" for i in range(count)]


def _capture(model, args):
    """Run ``model(*args)`` once under a recorder; returns the recorder."""
    recorder = _Recorder(model)
    for tensor, name in zip(_flatten(args), _input_names(model, len(_flatten(args)))):
        recorder.set_source(tensor, recorder.add_node(f"input/{name}", "IO Node",
                                                      shapes=[tensor.shape]))
    def leave(module, args, output):
        recorder.scopes.pop()  # returns None: the output stays as it is

    handles, modes = [], [(m, m.training) for m in model.modules()]
    for prefix, module in model.named_modules():
        scope = recorder.scope_of(model, prefix)
        handles.append(module.register_forward_pre_hook(
            lambda m, a, scope=scope: recorder.scopes.append(scope)))
        handles.append(module.register_forward_hook(leave))
    model.train(False)
    Observers.add(recorder)
    try:
        with no_grad():
            output = model(*args)
    finally:
        Observers.remove(recorder)
        for handle in handles:
            handle.remove()
        for module, training in modes:
            module.training = training
    for i, tensor in enumerate(_flatten(output)):
        recorder.add_node(f"output/output.{i}", "IO Node", [recorder.source(tensor)],
                          [tensor.shape])
    return recorder


def graph(model, input_to_model=None, verbose=False):
    """The ``GraphDef`` proto of one forward pass of ``model`` on ``input_to_model``.

    Args:
        model: an ``ember.nn.Module``.
        input_to_model: a Tensor, or a tuple/list of the positional arguments of ``forward``.
        verbose: print the captured nodes.

    Returns:
        ``GraphDef`` with one node per op application, parameter, constant, input and output.
    """
    if not callable(getattr(model, "named_modules", None)):
        raise TypeError(f"add_graph: expected an ember.nn.Module, got {type(model).__name__}")
    if input_to_model is None:
        args = ()
    elif isinstance(input_to_model, (tuple, list)):
        args = tuple(input_to_model)
    else:
        args = (input_to_model,)
    recorder = _capture(model, args)
    if verbose:
        for name, op, inputs, shapes, _ in recorder.nodes:
            print(f"{name} = {op}({', '.join(inputs)})  # {', '.join(map(str, shapes))}")
    return _to_proto(recorder.nodes)


def _to_proto(nodes):
    pb = protos()
    shape_pb, attr_pb = pb.tensor_shape_pb2.TensorShapeProto, pb.attr_value_pb2.AttrValue
    defs = []
    for name, op, inputs, shapes, attr in nodes:
        attrs = {"_output_shapes": attr_pb(list=attr_pb.ListValue(shape=[
            shape_pb(dim=[shape_pb.Dim(size=d) for d in s]) for s in shapes]))}
        if attr is not None:
            attrs["attr"] = attr_pb(s=attr.encode("utf-8"))
        defs.append(pb.node_def_pb2.NodeDef(name=name, op=op, input=inputs, attr=attrs))
    return pb.graph_pb2.GraphDef(node=defs, versions=pb.versions_pb2.VersionDef(producer=22))
