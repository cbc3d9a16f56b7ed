"""A static schedule for a captured training step: forward and backward on arrays.

``ember.compile(train_step)`` captures forward ops, ``loss.backward()``,
``optimizer.zero_grad()`` and ``optimizer.step()`` as one graph (``compile.py``). The
interpreter replays it through ``Op.apply`` and the autograd engine, which rebuild the
backward graph every step: a Tensor per value, a node per op, a heap ordering them, a dict
of pending gradients. All of that is known once the step is captured, so a ``TrainPlan``
decides it once:

- forward runs each op's ``forward`` on arrays (no Tensor, no recorded node);
- backward visits, in the fixed reverse order, only the nodes that lead from the loss to
  a parameter needing a gradient, and skips the gradients nobody uses (an integer input,
  the first layer's input); gradients reaching a value twice are summed, broadcast ones
  summed back, as the engine does;
- an op with an array-level rule (``array_backward.py``) runs it on arrays; any other op
  runs its own ``backward`` on its arrays wrapped as Tensors, and a ``@traceable`` function
  without a rule (``embedding``) runs with the engine on its own small graph;
- what only a whole captured step allows: graph passes (``TRAINING_PASSES``: an LSTM's
  input projection folded into its embedding's table), node rewrites (``plan_rewrites.py``:
  a ReLU moved after its max-pool, ``Linear`` and ``Relu`` as one node with the bias and
  the ReLU in one pass, ``array_linear.py``), forward work kept for backward (a conv's
  columns, ``array_conv.py``), cross-entropy's usual call in a few NumPy calls
  (``array_loss.py``), the optimizer's updates in groups on ember's threads
  (``plan_optimizer.py``), a bias gradient summed beside its layer's two products
  (``array_linear.py``), layer norm's backward in pieces of rows (``array_norm.py``), and
  a layer's weight gradients computed on the worker while backward goes on (``LATER``
  rules, ``array_linear.py``, ``array_conv.py``; joined before the leaves' ``.grad`` are
  set).

The arithmetic is eager code's, op by op in the same order, and the parameters come out
bitwise equal (``tests/jit/test_train_plan.py``, ``test_plan_fusion.py``), except where
a conv's weight gradient comes from the kept columns or the LSTM's projection is folded
(float tolerance). Measured on the benchmark workloads (median ratio of interleaved runs
in one process, CPU time at one thread, busy machine), the step ran 1.04-1.06x (mlp),
1.09x (lenet), 1.16x (lstm) and 0.99-1.02x (transformer) as fast as eager; at two
threads (wall time, another process holding about one core) 1.07-1.15x (mlp) and
1.00-1.03x (transformer). Before the Linear/ReLU node, the short cross-entropy and the
threaded optimizer (same conditions): mlp 1.00x at one thread, 0.96-1.06x at two. The
transformer's step is four fifths BLAS products that the plan runs exactly as eager
does; with the bias sums beside the products, the layer-norm pieces and the direct
GELU/attention rules it ran 1.01x eager's at one thread (CPU time) and 1.04-1.05x at two
(idle machine, wall time; 1.01x without the bias sums, in the same runs).

A buffer updated in place (batch norm's running statistics, ``assign`` nodes) is written
where the graph writes it, as the interpreter does. Graphs the plan cannot run (control
flow, several ``backward`` calls, ops after ``backward``) keep the interpreter: ``build_plan`` returns None. So does
a call with tensor hooks, changed ``requires_grad``, the profiler or anomaly mode on
(``TrainPlan.usable``). The loss a plan returns has a grad_fn of eager's class (``repr``
shows ``grad_fn=<CrossEntropyBackward0>``), already spent as after eager's ``backward``:
a second ``loss.backward()`` raises eager's error. It costs one small object a step.
"""

import inspect

import numpy as np

from ember.autograd.broadcast import sum_to_shape
from ember.autograd.engine import grad as autograd_grad
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Anomaly, Observers
from ember.backend.threads import join_background
from ember.jit.array_backward import FORWARDS, FUNCTIONS, LATER, OPS, RULES
from ember.jit.interpreter import fill_args, rebuild
from ember.jit.ops import is_function, lookup
from ember.jit.plan_optimizer import optimizer_step
from ember.jit.plan_rewrites import rewrite
from ember.tensor import Tensor

try:  # the LSTM's input projection folded into its embedding's table
    from ember.jit.passes.embedding_projection import project_embeddings
    TRAINING_PASSES = (project_embeddings,)
except ImportError:
    TRAINING_PASSES = ()

__all__ = ["ENABLED", "TRAINING_PASSES", "TrainPlan", "build_plan"]

# Off: every captured step replays through the interpreter (to compare the two).
ENABLED = True

_new = object.__new__
_make = Tensor._make
_EFFECTS = ("zero_grad", "optimizer_step")


class Unsupported(Exception):
    """The graph has something the plan does not run; the interpreter runs it instead."""


def build_plan(graph, captured, inputs):
    """A ``TrainPlan`` for ``graph`` (a captured step), or None when it cannot run it.

    The graph first goes through ``TRAINING_PASSES``: rewrites of a training graph that
    return a graph of ordinary call nodes computing the same values.
    """
    if not any(n.kind == "call" and n.target == "backward" for n in graph.nodes):
        return None  # not a training step: nothing for a plan to do
    for rewrite_graph in TRAINING_PASSES:
        graph = rewrite_graph(graph)
    try:
        return TrainPlan(graph, captured, inputs)
    except Unsupported:
        return None


class TrainPlan:
    """The step as fixed lists: forward nodes, backward nodes, leaves and effects."""

    def __init__(self, graph, captured, inputs):
        self.graph = graph
        self.slot = {}  # Value -> index into the run's list of arrays
        self.leaves = []  # (slot, input position or None, Tensor) whose .grad backward fills
        self.feeds = []  # (slot, input position or None, captured Tensor, requires grad)
        self.steps = []  # forward nodes and effects, in graph order
        self._analyse(graph, captured, inputs)

    # ---- building ------------------------------------------------------------------

    def _analyse(self, graph, captured, inputs):
        needs = set()  # values that carry a gradient in eager code
        backward_at, calls, n_inputs = None, [], 0
        for node in rewrite(graph.nodes):
            if backward_at is not None and node.kind == "call" and node.target != "backward" \
                    and node.target not in _EFFECTS:
                raise Unsupported("a call after backward")
            if node.kind == "input":
                t = inputs[n_inputs]
                self._feed(node.outputs[0], n_inputs, t, needs)
                n_inputs += 1
            elif node.kind == "parameter":
                self._feed(node.outputs[0], None, captured[node.target], needs)
            elif node.kind == "constant":
                self._constant(node.outputs[0], node.params["value"])
            elif node.kind == "output":
                self.out_slots = [self._slot(v) for v in node.inputs]
            elif node.target == "backward":
                if backward_at is not None:
                    raise Unsupported("two backward calls")
                backward_at = len(self.steps)
                self.loss = node.inputs[0]
                self.steps.append(("backward", None))
            elif node.target in _EFFECTS:
                self.steps.append((node.target, node.params))
            elif node.target == "assign":  # a buffer's update (batch norm's running stats)
                self.steps.append(("assign", (self._slot(node.inputs[0]),
                                              captured[node.params["name"]])))
            else:
                calls.append(self._forward_node(node, needs))
        if backward_at is None or self.loss not in needs:
            raise Unsupported("no backward from a tensor needing gradients")
        self.backward_nodes = self._backward_schedule(calls, needs)
        self.n_slots = len(self.slot)
        fed = {slot: (position, tensor) for slot, position, tensor, _ in self.feeds}
        made = {slot: (entry, nr) for entry in calls for nr, slot in enumerate(entry.outs)}
        needs_slots = {self.slot[v] for v in needs}
        self.out_slots = [(slot, fed.get(slot), _grad_fn_spec(*made[slot])
                           if slot in made and slot in needs_slots else None)
                          for slot in self.out_slots]

    def _slot(self, value):
        found = self.slot.get(value)
        if found is None:
            found = self.slot[value] = len(self.slot)
        return found

    def _feed(self, value, position, tensor, needs):
        if not isinstance(tensor, Tensor):
            raise Unsupported("a captured value that is not a tensor")
        if tensor._requires_grad:
            if tensor.grad_fn is not None:
                raise Unsupported("a captured tensor with history")
            needs.add(value)
        # An input is read from each call's arguments: the first call's is not kept.
        kept = tensor if position is None else None
        self.feeds.append((self._slot(value), position, kept, tensor._requires_grad))

    def _constant(self, value, array):
        self.feeds.append((self._slot(value), None, _make(array), False))

    def _forward_node(self, node, needs):
        if is_function(node.target):
            fn, kind = lookup(node.target), "function"
        else:
            if node.target in ("cond", "while_loop", "assign", "set_grad_enabled"):
                raise Unsupported(f"a {node.target} node")
            fn, kind = OPS.get(node.target) or lookup(node.target), "op"
        ins = [self._slot(v) for v in node.inputs]
        outs = [self._slot(v) for v in node.outputs]
        differentiable = kind == "function" or fn.differentiable
        grad_in = [v in needs for v in node.inputs] if differentiable else []
        if any(grad_in):
            for v in node.outputs:
                if v.dtype.kind == "f":
                    needs.add(v)
        entry = _ForwardNode(node, kind, fn, ins, outs, grad_in)
        if kind == "function" and node.target in FUNCTIONS:
            entry.array_rule = _function_rule(fn, node)
        self.steps.append(("call", entry))
        return entry

    def _backward_schedule(self, calls, needs):
        """The nodes backward runs, newest first, each with the inputs to send grads to."""
        reached = {self.loss}
        schedule = []
        for entry in reversed(calls):
            outs = entry.node.outputs
            if not any(v in reached for v in outs):
                continue
            send = [v in needs for v in entry.node.inputs]
            if not any(send):
                continue
            entry.send = send
            entry.in_meta = [(v.shape, v.dtype) for v in entry.node.inputs]
            if entry.kind == "op":
                entry.rule = RULES.get(entry.node.target)
                entry.array_forward = FORWARDS.get(entry.node.target) if entry.rule else None
            reached.update(v for v, s in zip(entry.node.inputs, send) if s)
            entry.keep = True
            schedule.append(entry)
        reached_slots = {self.slot[v] for v in reached}
        self.leaves = [(slot, position, tensor) for slot, position, tensor, grad
                       in self.feeds if grad and slot in reached_slots]
        _defer_leaf_grads(schedule, {slot for slot, _, _ in self.leaves})
        return schedule

    # ---- running -------------------------------------------------------------------

    def usable(self, inputs):
        """Whether this call can run the plan (else the interpreter runs the graph)."""
        if Observers.active or Anomaly.enabled or not GradMode.enabled:
            return False
        for slot, position, tensor, grad in self.feeds:
            t = tensor if position is None else inputs[position]
            if t._requires_grad != grad or (grad and (t._hooks or t.grad_fn is not None)):
                return False
        return True

    def run(self, inputs):
        """One step: the graph's outputs, with every effect eager code has."""
        env = [None] * self.n_slots
        for slot, position, tensor, _ in self.feeds:
            env[slot] = (tensor if position is None else inputs[position])._data
        records = {}
        for kind, entry in self.steps:
            if kind == "call":
                entry.forward(env, records)
            elif kind == "backward":
                self._backward(env, records, inputs)
            elif kind == "assign":  # as the interpreter's ``assign``
                slot, tensor = entry
                tensor._data[...] = env[slot]
                tensor._vbox[0] += 1
            elif kind == "zero_grad":
                entry["optimizer"].zero_grad(**entry["kwargs"])
            else:
                optimizer_step(entry["optimizer"], entry["kwargs"])
        # A returned input or parameter is that tensor itself; a computed value is a new
        # Tensor, with a spent grad_fn where eager's has one (its backward already ran).
        outs = []
        for slot, fed, spec in self.out_slots:
            if fed is None:
                outs.append(_make(env[slot]) if spec is None
                            else _make(env[slot], True, _spent(*spec[:2]), spec[2]))
            else:
                outs.append(fed[1] if fed[0] is None else inputs[fed[0]])
        return rebuild(self.graph.out_spec, outs)

    def _backward(self, env, records, inputs):
        grads = [None] * self.n_slots
        loss = env[self.slot[self.loss]]
        grads[self.slot[self.loss]] = np.ones(loss.shape, loss.dtype)
        prev = GradMode.enabled
        GradMode.enabled = False
        try:
            for entry in self.backward_nodes:
                entry.backward(env, grads, records.pop(id(entry), None))
        finally:
            try:
                join_background()  # the gradients ``LATER`` rules left to the worker
            finally:
                GradMode.enabled = prev
        handed = set()
        for slot, position, tensor in self.leaves:
            g = grads[slot]
            if g is not None:
                _accumulate(tensor if position is None else inputs[position], g, handed)


def _defer_leaf_grads(schedule, leaves):
    """Give a node its ``LATER`` rule where every input after the first that it sends a
    gradient to is a leaf (its gradient read only after backward) that no other node
    sends a gradient to (nothing adds to it before the join)."""
    senders = {}
    for entry in schedule:
        for slot, send in zip(entry.ins, entry.send):
            if send:
                senders[slot] = senders.get(slot, 0) + 1
    for entry in schedule:
        later = LATER.get(entry.node.target) if entry.rule is not None else None
        rest = [slot for slot, send in zip(entry.ins[1:], entry.send[1:]) if send]
        if later is not None and rest and all(s in leaves and senders[s] == 1 for s in rest):
            entry.rule = later


def _grad_fn_spec(entry, nr):
    """``(class of eager's grad_fn, its output count, output_nr)`` for output ``nr`` of
    ``entry``, or None where the plan cannot name it (a function run with the engine)."""
    if entry.kind == "op":  # a rewritten node names the op eager code ran last
        node_class = lookup(getattr(entry.node, "eager", entry.node.target))
    else:
        node_class = getattr(entry.array_rule[0], "node_class", None) if entry.array_rule \
            else None
    return None if node_class is None else (node_class, len(entry.outs), nr)


def _spent(node_class, n_out):
    """A node of ``node_class`` whose backward already ran: its backward raises what a
    second ``backward`` through an eager graph raises (``Node._check_alive``)."""
    node = _new(node_class)
    node.next_edges, node._n_out, node._seq = (), n_out, 0
    node._released = True
    return node


def _function_rule(fn, node):
    """The array-level ``(forward, backward)`` of a function node, or None."""
    try:
        bound = inspect.signature(fn).bind(*node.params["args"], **node.params["kwargs"])
    except TypeError:
        return None
    bound.apply_defaults()
    return FUNCTIONS[node.target](bound.arguments, node.inputs)


class _ForwardNode:
    """One call node: how to run it forward on arrays and backward on gradients."""

    keep = False  # whether backward visits it (then forward keeps what backward needs)
    rule = None  # an array-level backward rule of an op
    array_rule = None  # a function's array-level (forward, backward)
    array_forward = None  # an op's forward that keeps more for its array-level rule

    def __init__(self, node, kind, fn, ins, outs, grad_in):
        self.node, self.kind, self.fn = node, kind, fn
        self.ins, self.outs, self.grad_in = ins, outs, grad_in
        self.params = node.params

    def forward(self, env, records):
        arrays = [env[i] for i in self.ins]
        if self.kind == "function":
            if self.array_rule is None:
                self._forward_function(env, records, arrays)
                return
            outs, record = self.array_rule[0](arrays)
            for slot, o in zip(self.outs, outs):
                env[slot] = o
            if self.keep:
                records[id(self)] = record
            return
        op = _new(self.fn)
        if self.array_forward is not None:
            out = self.array_forward(op, *arrays, **self.params)
        else:
            out = op.forward(*arrays, **self.params) if self.params else op.forward(*arrays)
        if type(out) is tuple:
            for slot, o in zip(self.outs, out):
                env[slot] = o if type(o) is np.ndarray else np.asarray(o)
        else:
            env[self.outs[0]] = out if type(out) is np.ndarray else np.asarray(out)
        if self.keep:
            records[id(self)] = op

    def _forward_function(self, env, records, arrays):
        tensors = [_make(a, True) if g and self.keep else _make(a)
                   for a, g in zip(arrays, self.grad_in or [False] * len(arrays))]
        pos, kw = fill_args(self.params, tensors)
        result = self.fn(*pos, **kw)
        outs = result if isinstance(result, tuple) else (result,)
        for slot, t in zip(self.outs, outs):
            env[slot] = t._data
        if self.keep:
            records[id(self)] = (tensors, outs)

    def backward(self, env, grads, record):
        outs = [grads[s] for s in self.outs]
        for s in self.outs:
            grads[s] = None  # consumed: free it as early as eager code does
        if all(g is None for g in outs):
            return  # a rule upstream sent no gradient after all (as the engine skips it)
        if self.array_rule is not None:
            found = self.array_rule[1](record, [env[i] for i in self.ins], outs, self.send)
        elif self.kind == "function":
            found = self._backward_function(record, outs)
        elif self.rule is not None:
            found = self.rule(record, [env[i] for i in self.ins], [env[s] for s in self.outs],
                              outs, self.send)
        else:
            found = self._backward_op(record, env, outs)
        for slot, send, g, (shape, dtype) in zip(self.ins, self.send, found, self.in_meta):
            if not send or g is None:
                continue
            if g.shape != shape:
                g = sum_to_shape(g, shape)
            if g.dtype != dtype:
                g = g.astype(dtype)
            old = grads[slot]
            grads[slot] = g if old is None else old + g

    def _backward_op(self, op, env, outs):
        """The op's own Tensor-level backward, on arrays wrapped as Tensors."""
        op.next_edges = tuple(True if s else None for s in self.send)
        op._n_out = len(self.outs)
        if op._save_in:
            op._saved_in = [(_make(env[self.ins[i]]), 0) for i in op._save_in]
        if op._save_out:
            op._saved_out = [(env[self.outs[i]], i, [0], 0) for i in op._save_out]
        if len(outs) == 1:
            result = op.backward(_make(outs[0]))
        else:
            meta = getattr(op, "_out_meta", None)
            wrapped = [None if g is None else _make(g) for g in outs]
            if meta is not None:
                wrapped = [_make(np.zeros(s, d)) if g is None else g
                           for g, (s, d) in zip(wrapped, meta)]
            result = op.backward(*wrapped)
        if type(result) is not tuple:
            result = (result,)
        return [None if g is None else g._data for g in result]

    def _backward_function(self, record, outs):
        """A traceable function's gradients, through the engine on its own small graph."""
        tensors, results = record
        wanted = [t for t, s in zip(tensors, self.send) if s]
        pairs = [(t, g) for t, g in zip(results, outs) if g is not None and t._requires_grad]
        if not pairs:
            return [None] * len(tensors)
        found = iter(autograd_grad([t for t, _ in pairs], wanted, [_make(g) for _, g in pairs],
                                   allow_unused=True))
        grads = []
        for send in self.send:
            g = next(found) if send else None
            grads.append(None if g is None else g._data)
        return grads


def _accumulate(leaf, g, handed):
    """``g`` into ``leaf.grad`` as the engine does (``engine._reach_leaf``)."""
    old = leaf._grad
    if old is None:
        if g.base is not None or id(g) in handed or not g.flags.writeable:
            g = g.copy()
        handed.add(id(g))
        leaf._grad = _make(g)
        return
    into = old._data
    if into.dtype is g.dtype:
        into += g
    else:
        np.add(into, g, out=into, casting="unsafe")
