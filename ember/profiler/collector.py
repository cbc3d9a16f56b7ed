"""The profiler's recorder: an observer of every op, backward function and range.

It is registered in ``ember.autograd.node.Observers`` while a profiler runs, so ops pay
for it only then. Each thread keeps a stack of open events; an event closing becomes a
child of the event below it, which is how self time excludes nested ops.

NOTE [events left open]: an op whose ``forward`` raises never reports its end. The next
event to close below it on the stack pops it: such an event is dropped (its duration is
unknown) and its finished children move up to the event below.
"""

import os
import sys
from threading import get_native_id
from time import perf_counter_ns

from ember.profiler.events import FunctionEvent
from ember.profiler.labels import op_label
from ember.tensor import Tensor

__all__ = ["Collector"]

_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _shapes(values):
    return [list(v._data.shape) if isinstance(v, Tensor) else [] for v in values]


def _python_stack():
    """``"path/file.py(12): forward"`` for each frame outside ember, innermost first."""
    frames, frame = [], sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if not name.startswith(_EMBER_DIR) and not name.startswith("<frozen"):
            frames.append(f"{name}({frame.f_lineno}): {frame.f_code.co_name}")
        frame = frame.f_back
    return frames


class Collector:
    """Records ``FunctionEvent``s; ``Collector.current`` is the running one, if any."""

    current = None

    def __init__(self, record_shapes=False, profile_memory=False, with_stack=False):
        self.record_shapes, self.profile_memory = record_shapes, profile_memory
        self.with_stack = with_stack
        self.events = []
        self._stacks = {}
        self.origin = perf_counter_ns()

    # ---- events ------------------------------------------------------------------------

    def open(self, name, category, shapes=None):
        """Start an event on this thread's stack; returns it, to be passed to ``close``."""
        thread = get_native_id()
        stack = self._stacks.get(thread)
        if stack is None:
            stack = self._stacks.setdefault(thread, [])
        event = FunctionEvent(name, category, thread, shapes,
                              _python_stack() if self.with_stack else ())
        stack.append(event)
        event.start_ns = perf_counter_ns() - self.origin
        return event

    def close(self, event):
        """End ``event`` now and attach it to its parent; False if it was dropped meanwhile."""
        end = perf_counter_ns() - self.origin
        stack = self._stacks.get(event.thread)
        if not stack or (stack[-1] is not event and event not in stack):
            return False
        while stack[-1] is not event:  # NOTE [events left open]
            _drop(stack)
        stack.pop()
        event.end_ns = end
        if stack:
            event.cpu_parent = stack[-1]
            stack[-1].cpu_children.append(event)
        self.events.append(event)
        return True

    def finish(self):
        """Drop the events still open; number the others by start time and return them."""
        for stack in self._stacks.values():
            while stack:
                _drop(stack)
        self._stacks = {}
        events = sorted(self.events, key=lambda e: (e.thread, e.start_ns, -e.end_ns))
        for i, event in enumerate(events):
            event.id = i
        return events

    # ---- the Observers interface (ember.autograd.node) -----------------------------------

    def op_begin(self, cls, inputs, params):
        shapes = _shapes(inputs) if self.record_shapes else []
        return self.open(op_label(cls, params), "cpu_op", shapes), cls

    def op_end(self, token, outs):
        event, cls = token
        if self.close(event) and self.profile_memory and not cls.is_view:
            if type(outs) is tuple:
                event.self_bytes = sum(o._data.nbytes for o in outs)
            else:
                event.self_bytes = outs._data.nbytes

    def backward_begin(self, node, grad_outputs):
        shapes = _shapes(grad_outputs) if self.record_shapes else []
        return self.open(node.name(), "cpu_op", shapes)

    def backward_end(self, token, grad_inputs):
        self.close(token)

    def function_begin(self, fn_cls, args, kwargs):
        shapes = _shapes(args) if self.record_shapes else []
        return self.open(fn_cls.__name__, "cpu_op", shapes)

    def function_end(self, token, outputs):
        self.close(token)


def _drop(stack):
    """Pop an event that never ended; its finished children go to the event below."""
    lost = stack.pop()
    parent = stack[-1] if stack else None
    for child in lost.cpu_children:
        child.cpu_parent = parent
        if parent is not None:
            parent.cpu_children.append(child)
