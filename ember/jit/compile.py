"""``ember.compile``: capture a model or a whole training step once, then replay the graph.

``ember.compile(model)`` returns a module that traces ``model`` on its first call with
each new input signature (and train/eval mode) and afterwards runs the captured graph.

``ember.compile(train_step)`` does the same for a function. The function may be a whole
training step: its forward ops, ``loss.backward()``, ``optimizer.zero_grad()`` and
``optimizer.step()`` become nodes of one graph (``backward``, ``zero_grad`` and
``optimizer_step`` nodes), which later calls replay without the Python code between the
ops (module calls, argument checks, hooks)::

    @ember.compile
    def train_step(x, y):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

The first call runs the function eagerly while capturing it, so it returns what eager
code returns. Tensors the function reads besides its arguments (parameters, buffers,
optimizer state) are captured by reference, so replays see their current values.

A captured training step is then run by a ``TrainPlan`` (``train_plan.py``): forward and
backward on arrays in a fixed order, without the autograd engine, plus rewrites only a
whole captured step allows (a ReLU moved after its max-pool, a Linear's bias and ReLU in
one pass, a conv's columns kept for its weight gradient, an LSTM's input projection folded
into its embedding, the optimizer's updates on threads). The loss it returns has eager's
grad_fn class, already spent (its backward ran inside the step). Steps it does not cover
(control flow, buffers updated in place such as BatchNorm's, hooks, the profiler, anomaly
mode) are replayed by the interpreter, op by op, as before.

NOTE [what a captured step may do]: the tensors a step touches must flow through ember's
ops, ``backward`` and the optimizer. Reading ``.grad`` (e.g. gradient clipping) or
changing tensors with NumPy between those calls is not captured; values read in Python
(``loss.item()`` inside the step) raise ``TraceError`` while capturing. Return the loss and
read it outside.
"""

import numpy as np

from ember.autograd.node import Observers
from ember.jit import train_plan
from ember.jit.errors import TraceError, graph_input_error
from ember.jit.executor import compile_graph
from ember.jit.interpreter import rebuild, run
from ember.jit.passes import optimize
from ember.jit.traced import TracedModule, _as_tuple, _signature
from ember.jit.tracer import Tracer, capture
from ember.nn.module import Module
from ember.optim.optimizer import Optimizer
from ember.tensor import Tensor

__all__ = ["compile", "CompiledModule", "CompiledFunction"]


def compile(fn=None, *, dynamic=True):
    """Capture ``fn`` (a Module or a function) as a graph on first call; replay it after.

    Args:
        fn: an ``nn.Module`` (inference or training forward) or a function of tensors,
            such as a whole training step. Used bare or as ``@ember.compile``.
        dynamic: trace again for each new input shape/dtype (True, the default) or
            raise ``GraphInputError`` when the shapes change (False).

    Returns:
        A ``CompiledModule`` for a module, a ``CompiledFunction`` for a function.
    """
    if fn is None:
        return lambda f: compile(f, dynamic=dynamic)
    if isinstance(fn, Module):
        return CompiledModule(fn, dynamic=dynamic)
    if not callable(fn):
        raise TypeError(f"ember.compile: expected a Module or a function, got "
                        f"{type(fn).__name__}")
    return CompiledFunction(fn, dynamic=dynamic)


class CompiledModule(Module):
    """``model`` run through graphs captured per input signature and train/eval mode.

    The model is kept as ``_orig_mod`` (PyTorch's name), so parameters, ``state_dict``
    keys (prefixed ``_orig_mod.``) and optimizers all see the same tensors.
    """

    def __init__(self, model, dynamic=True):
        super().__init__()
        self._orig_mod = model
        self._dynamic = dynamic
        self._traced = {}

    def forward(self, *inputs):
        inputs = _as_tuple(inputs)
        key = (_signature(inputs, type(self._orig_mod).__name__), self._orig_mod.training)
        traced = self._traced.get(key)
        if traced is None:
            if self._traced and not self._dynamic:
                any_traced = next(iter(self._traced.values()))
                return any_traced(*inputs)  # raises GraphInputError naming the mismatch
            traced = self._traced[key] = TracedModule(self._orig_mod, inputs, check=False)
        return traced(*inputs)

    def train(self, mode=True):
        self._orig_mod.train(mode)
        self.training = mode
        return self


class CompiledFunction:
    """A function captured on its first call per input signature, then replayed."""

    def __init__(self, fn, dynamic=True):
        self.fn = fn
        self.dynamic = dynamic
        # signature -> (graph, {name: tensor}, executor or None, TrainPlan or None)
        self._captured = {}
        self.__name__ = getattr(fn, "__name__", "function")
        self.__doc__ = getattr(fn, "__doc__", None)

    @property
    def graph(self):
        """The graph of the most recent capture."""
        if not self._captured:
            raise RuntimeError(f"{self.__name__} has not been called yet: it is captured on "
                               "its first call")
        return next(reversed(self._captured.values()))[0]

    def __call__(self, *inputs):
        inputs = _as_tuple(inputs, f"{self.__name__}: input {{}}")
        key = _signature(inputs, self.__name__)
        found = self._captured.get(key)
        if found is None:
            if self._captured and not self.dynamic:
                raise graph_input_error(
                    f"{self.__name__} was captured for inputs of shapes and dtypes "
                    f"{_shown(next(iter(self._captured)))}, but got {_shown(key)}; "
                    "compile it with dynamic=True to capture one graph per signature")
            graph, captured, result = _capture_step(self.fn, inputs)
            compiled = _executor_for(graph)
            plan = None if compiled is not None else train_plan.build_plan(graph, captured,
                                                                           inputs)
            self._captured[key] = (graph, captured, compiled, plan)
            return result
        graph, captured, compiled, plan = found
        if plan is not None and train_plan.ENABLED and plan.usable(inputs):
            return plan.run(inputs)
        if compiled is not None and not Observers.active:
            outs = compiled([x._data for x in inputs], {k: t._data for k, t in captured.items()})
            return rebuild(graph.out_spec, [Tensor._make(a) for a in outs])
        return run(graph, inputs, captured, effects=_EFFECTS)


def _shown(signature):
    return ", ".join(f"{list(shape)} {np.dtype(dtype).name}" for shape, dtype in signature)


def _executor_for(graph):
    """The compiled executor for a graph that runs entirely without gradients (it starts
    with ``set_grad_enabled(False)``, as ``with ember.no_grad():`` around the whole body
    records, and has no other effects); None for the others, which the interpreter runs."""
    calls = graph.of_kind("call")
    if not calls or calls[0].target != "set_grad_enabled" or calls[0].params["enabled"]:
        return None
    if any(not n.outputs and n.target != "assign" for n in calls[1:]):
        return None  # another mode switch, backward or an optimizer step
    return compile_graph(optimize(graph))


# ---- capturing a step ------------------------------------------------------------------

def _capture_step(fn, inputs):
    """Run ``fn`` once eagerly while recording it; returns (graph, captured, result)."""
    tracer = Tracer((), live=True)
    box = {}

    def recorded(*args):
        box["result"] = fn(*args)
        return box["result"]

    names = [f"x{i}" for i in range(len(inputs))]
    with _Effects(tracer):
        graph = capture(recorded, inputs, (), names, tracer=tracer)
    return graph, dict(tracer.captured), box["result"]


class _Effects:
    """While capturing a step, record ``backward``, ``zero_grad`` and ``step`` as nodes."""

    def __init__(self, tracer):
        self.tracer = tracer
        self.saved = []

    def __enter__(self):
        tracer = self.tracer
        self._patch(Tensor, "backward", lambda original: _recording_backward(tracer, original))
        self._patch(Optimizer, "step", lambda original: _recording_effect(
            tracer, original, "optimizer_step"))
        self._patch(Optimizer, "zero_grad", lambda original: _recording_effect(
            tracer, original, "zero_grad"))
        return self

    def _patch(self, owner, name, make):
        original = owner.__dict__[name]
        self.saved.append((owner, name, original))
        setattr(owner, name, make(original))

    def __exit__(self, *exc):
        for owner, name, original in reversed(self.saved):
            setattr(owner, name, original)


def _recording_backward(tracer, original):
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        if gradient is not None or create_graph or inputs is not None or retain_graph:
            raise TraceError("ember.compile: a captured step supports loss.backward() with "
                             "no arguments; call the other forms outside the compiled step")
        tracer.add_effect("backward", [tracer.value_of(self)], {})
        with tracer.paused():  # the ops backward runs belong to the backward node
            return original(self)
    return backward


def _recording_effect(tracer, original, target):
    def effect(optimizer, *args, **kwargs):
        if args or kwargs.get("closure") is not None:
            raise TraceError(f"ember.compile: {target} with arguments (a closure) cannot "
                             "be captured; call it without arguments")
        tracer.add_effect(target, [], {"optimizer": optimizer, "kwargs": kwargs})
        with tracer.paused():
            return original(optimizer, **kwargs)
    return effect


_EFFECTS = {
    "backward": lambda node, args: args[0].backward(),
    "optimizer_step": lambda node, args: node.params["optimizer"].step(),
    "zero_grad": lambda node, args: node.params["optimizer"].zero_grad(
        **node.params["kwargs"]),
}
