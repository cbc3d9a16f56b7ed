"""The backward engine: walks the recorded graph from the outputs to the leaves.

It does the chores every op would otherwise repeat:

- orders the nodes topologically (iteratively, so deep graphs such as long RNN
  unrolls do not hit Python's recursion limit) in a deterministic order;
- sums the gradients of a tensor used several times (fan-out);
- sums a broadcast gradient back to its input's shape, and casts it to its dtype;
- runs tensor hooks and ``retain_grad``, accumulates into leaves' ``.grad``;
- skips the nodes that lead to no tensor anybody asked about (``autograd.grad``);
- frees what nodes saved unless ``retain_graph``; checks for NaN in anomaly mode.
"""

from heapq import heappop, heappush

import numpy as np

from ember._cpu_share import poll as poll_cpu_share
from ember._errors import fmt_shape, runtime_error, shape_error
from ember.autograd.broadcast import Cast, SumToSize
from ember.autograd.deferred import RowsGradient
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Anomaly, Node, Observers
from ember.tensor import Tensor

_make = Tensor._make


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaves) into the leaves' ``.grad`` (``ember.autograd.backward``)."""
    if inputs is None and grad_tensors is None and type(tensors) is tuple and \
            len(tensors) == 1:  # ``loss.backward()``, once per step: skip the general checks
        _run(tensors, [_root_grad(tensors[0], None, "backward")], retain_graph, create_graph,
             None, True)
        return
    tensors, grads = _roots(tensors, grad_tensors, "backward")
    only = None if inputs is None else _as_tuple(inputs)
    found = _run(tensors, grads, retain_graph, create_graph, capture=only, accumulate=True)
    for t, g in zip(only or (), found):
        if g is not None and t.grad_fn is not None:  # leaves were accumulated on the way
            t._grad = g if t._grad is None else t._grad + g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """Return d(outputs)/d(inputs) without touching any ``.grad`` (``ember.autograd.grad``)."""
    outputs, grads = _roots(outputs, grad_outputs, "grad")
    inputs = _as_tuple(inputs)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t._requires_grad:
            raise runtime_error("grad", f"input {i} does not require grad, so it has no gradient")
    found = _run(outputs, grads, retain_graph, create_graph, capture=inputs, accumulate=False)
    result = []
    for i, g in enumerate(found):
        if g is None:
            if materialize_grads:
                g = _make(np.zeros_like(inputs[i]._data))
            elif not allow_unused:
                raise runtime_error(
                    "grad",
                    f"one of the differentiated Tensors (input {i}, shape "
                    f"{fmt_shape(inputs[i]._data.shape)}) appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior.",
                )
        result.append(g)
    return tuple(result)


def _as_tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _roots(tensors, grad_tensors, op):
    tensors = _as_tuple(tensors)
    if grad_tensors is None:
        grad_tensors = (None,) * len(tensors)
    grad_tensors = _as_tuple(grad_tensors) if not isinstance(grad_tensors, (list, tuple)) \
        else tuple(grad_tensors)
    if len(grad_tensors) != len(tensors):
        raise runtime_error(op, f"got {len(tensors)} outputs but {len(grad_tensors)} gradients")
    return tensors, [_root_grad(t, g, op) for t, g in zip(tensors, grad_tensors)]


def _root_grad(t, g, op):
    """The gradient that starts backward from output ``t`` (``g`` as the user gave it)."""
    if not t._requires_grad:
        raise runtime_error(
            op, "element 0 of tensors does not require grad and does not have a grad_fn"
        )
    data = t._data
    if g is None:
        if data.size != 1:
            raise runtime_error(
                op,
                "grad can be implicitly created only for scalar outputs; pass gradient= "
                f"for the output of shape {fmt_shape(data.shape)}",
            )
        return _make(np.ones(data.shape, data.dtype) if data.ndim else np.array(1, data.dtype))
    if not isinstance(g, Tensor):
        return _make(np.asarray(g, dtype=data.dtype))
    if g._data.shape != data.shape:
        raise shape_error(
            op,
            f"gradient has shape {fmt_shape(g._data.shape)} but the output has shape "
            f"{fmt_shape(data.shape)}",
        )
    # Never hand a user's own tensor to a leaf's .grad, which optimizers change in place.
    return g if GradMode.enabled and g._requires_grad else _make(g._data.copy())


def _key(t):
    return (t, 0) if t.grad_fn is None else (t.grad_fn, t._output_nr)


def _run(tensors, grads, retain_graph, create_graph, capture, accumulate):
    """Propagate ``grads`` from ``tensors`` back through the graph.

    Nodes run in decreasing creation order (``Node._seq``, as in PyTorch's engine): a
    node is always created after the nodes of its inputs, so by the time a node runs,
    every gradient that flows into it has arrived. Leaves are finished last, in the
    order they were first reached.
    """
    poll_cpu_share()  # a safe point to change the BLAS thread count (ember/_cpu_share.py)
    if retain_graph is None:
        retain_graph = create_graph
    wanted = None if capture is None else {_key(t): i for i, t in enumerate(capture)}
    pending, heap = {}, []
    for t, g in zip(tensors, grads):
        fn = t.grad_fn
        if fn is None:
            _add(pending, heap, t, 0, g, t._data.shape, t._data.dtype)
        else:
            _add(pending, heap, fn, t._output_nr, g, t._data.shape, t._data.dtype)
    useful = None if wanted is None else _useful([_key(t)[0] for t in tensors], wanted)
    found = [] if capture is None else [None] * len(capture)
    prev = GradMode.enabled
    GradMode.enabled = create_graph
    try:
        while heap:
            node = heappop(heap)[1]
            slots = pending.pop(node)
            if useful is None or node in useful:
                _run_node(node, slots, pending, heap, wanted, found, retain_graph)
        if pending:
            _reach_leaves(pending, wanted, found, accumulate)
    finally:
        GradMode.enabled = prev
    return found


def _reach_leaves(pending, wanted, found, accumulate):
    """Finish the leaves: hooks, captures, and accumulation into ``.grad``."""
    handed = set()  # ids of arrays stored in a .grad during this run
    in_place = accumulate and wanted is None and not GradMode.enabled
    for leaf, (g,) in pending.items():
        old = leaf._grad
        if in_place and old is not None and not leaf._hooks:
            into, add = old._data, g._data  # the common case, inline
            if into.dtype is not add.dtype:
                np.add(into, add, out=into, casting="unsafe")
            elif into.ndim:
                into += add
            else:  # NumPy's scalar arithmetic is several times faster than a 0-dim ufunc
                into[()] += add[()]
            continue
        _reach_leaf(leaf, g, wanted, found, accumulate, handed)


def _useful(roots, wanted):
    """The nodes from which a wanted tensor can be reached (for ``autograd.grad``)."""
    wanted_targets = {k[0] for k in wanted}
    post, visited = [], set()
    for root in roots:
        if root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(_children(root)))]
        while stack:
            node, children = stack[-1]
            for child in children:
                if child not in visited:
                    visited.add(child)
                    stack.append((child, iter(_children(child))))
                    break
            else:
                stack.pop()
                post.append(node)
    useful = set()
    for node in post:  # children come before their parents in post-order
        if node in wanted_targets or any(c in useful for c in _children(node)):
            useful.add(node)
    return useful


def _children(target):
    if isinstance(target, Node):
        return [e[0] for e in target.next_edges if e is not None]
    return []


def _add(pending, heap, target, nr, g, shape, dtype):
    """Add gradient ``g`` for output ``nr`` of ``target``, reduced to ``shape`` and ``dtype``."""
    data = g._data
    if data.shape != shape or (data.dtype is not dtype and data.dtype != dtype):
        g = _conform(g, shape, dtype)
    slots = pending.get(target)
    if slots is None:
        if isinstance(target, Tensor):
            pending[target] = [g]
            return
        slots = pending[target] = [None] * target._n_out
        heappush(heap, (-target._seq, target))
    old = slots[nr]
    if type(old) is RowsGradient:  # a second gradient for a lookup: sum whole arrays
        old = old.materialize()
    if old is None:
        slots[nr] = g
    elif GradMode.enabled:
        slots[nr] = old + g
    else:
        slots[nr] = _make(old._data + g._data)


def _conform(g, shape, dtype):
    """``g`` summed back over broadcast dims to ``shape``, and cast to ``dtype``."""
    if g._data.shape != shape:
        g = SumToSize.apply(g, shape=shape)
    if g._data.dtype != dtype:
        g = Cast.apply(g, dtype=dtype)
    return g


def _run_node(node, slots, pending, heap, wanted, found, retain_graph):
    """Run one node's backward and pass its input gradients on (see NOTE [op overhead])."""
    if node._released:
        node._check_alive()
    hooks = node._hooks
    if hooks is not None or wanted is not None:
        _before_node(node, slots, hooks, wanted, found)
    watchers = Observers.active
    if watchers:
        tokens = Observers.begin("backward", node, slots)
    if len(slots) == 1:
        grads_in = node.backward(slots[0])
    else:
        grads_in = node.backward(*_materialize(node, slots))
    if type(grads_in) is not tuple:
        grads_in = (grads_in,)
    if watchers:
        Observers.end("backward", tokens, grads_in)
    if hooks is not None and "post" in hooks:
        grads_in = tuple(g.materialize() if type(g) is RowsGradient else g for g in grads_in)
        for hook in hooks["post"]:
            hook(grads_in, tuple(slots))
    if Anomaly.enabled:
        _check_nan(node, grads_in)
    edges = node.next_edges
    if len(grads_in) != len(edges):
        raise runtime_error(node.name(), f"backward returned {len(grads_in)} gradients for "
                                         f"{len(edges)} inputs")
    for edge, g in zip(edges, grads_in):
        if edge is None or g is None:
            continue
        # _add, inlined for its common case: no reduction, no cast, a node's first gradient.
        target, nr, shape, dtype = edge
        if type(g) is RowsGradient:  # for a lookup that nothing else fed yet, else whole
            if target not in pending and isinstance(target, Node) and target._hooks is None:
                pending[target] = [g]
                heappush(heap, (-target._seq, target))
                continue
            g = g.materialize()
        data = g._data
        if data.shape == shape and (data.dtype is dtype or data.dtype == dtype) and \
                target not in pending:
            if isinstance(target, Tensor):
                pending[target] = [g]
                continue
            if target._n_out == 1:
                pending[target] = [g]
                heappush(heap, (-target._seq, target))
                continue
        _add(pending, heap, target, nr, g, shape, dtype)
    if not retain_graph:
        node.__dict__.clear()  # Node._release, inlined: what forward saved is freed
        node._released = True


def _before_node(node, slots, hooks, wanted, found):
    """Tensor hooks on the node's outputs, then capture those ``autograd.grad`` wants."""
    for nr, g in enumerate(slots):
        if g is None:
            continue
        if type(g) is RowsGradient:  # wanted by autograd.grad: whole
            g = slots[nr] = g.materialize()
        if hooks is not None and nr in hooks:
            g = slots[nr] = _call_hooks(hooks[nr], g)
        if wanted is not None:
            i = wanted.get((node, nr))
            if i is not None:
                found[i] = g


def _materialize(node, slots):
    """Zeros for outputs that received no gradient (PyTorch's materialize_grads)."""
    shapes = getattr(node, "_out_meta", None)
    if shapes is None:
        return slots
    return [_make(np.zeros(s, d)) if g is None else g for g, (s, d) in zip(slots, shapes)]


def _call_hooks(hooks, g):
    for hook in list(hooks):
        new = hook(g)
        if new is not None:
            g = new
    return g


def _reach_leaf(leaf, g, wanted, found, accumulate, handed):
    if leaf._hooks:
        g = _call_hooks(leaf._hooks, g)
    if wanted is not None:
        i = wanted.get((leaf, 0))
        if i is None:
            return
        found[i] = g
    if not accumulate:
        return
    old = leaf._grad
    if GradMode.enabled:  # create_graph: the gradient stays in the graph
        leaf._grad = g if old is None else old + g
    elif old is None:
        leaf._grad = _make(_owned(g._data, handed))
    else:
        into = old._data
        if into.dtype is g._data.dtype:
            into += g._data
        else:
            np.add(into, g._data, out=into, casting="unsafe")


def _owned(arr, handed):
    """``arr`` if no other ``.grad`` or view can see it, else a copy.

    Optimizers update ``.grad`` in place, so two leaves must never share one array;
    a gradient passed through ``add`` or a reshape reaches several leaves unchanged.
    """
    if arr.base is not None or id(arr) in handed or not arr.flags.writeable:
        arr = arr.copy()
    handed.add(id(arr))
    return arr


def _check_nan(node, grads_in):
    for i, g in enumerate(grads_in):
        if g is not None and g._data.dtype.kind == "f" and np.isnan(g._data).any():
            where = getattr(node, "_created_at", None) or "an unknown line"
            raise runtime_error(
                "detect_anomaly",
                f"Function '{node.name()}' returned nan values in its {i}th output; "
                f"the forward op '{type(node).__name__.lower()}' was called at {where}",
            )
