"""``profile``: time every op of forward and backward, as PyTorch's ``torch.profiler``.

While a profiler runs, each op application (``Op.apply``), each backward function the
engine runs (``MulBackward0``) and each custom ``Function`` becomes a ``FunctionEvent``
with its input shapes, its wall time and its self time (without the events nested in
it), and with ``profile_memory`` the bytes its outputs take. When no profiler runs, an op
pays one attribute test (``Observers.active``) for it.

Example:
    >>> import ember
    >>> from ember.profiler import profile, record_function
    >>> x = ember.ones(4, 3, requires_grad=True)
    >>> with profile(record_shapes=True) as prof:
    ...     with record_function("step"):
    ...         (x * 2).sum().backward()
    >>> sorted({e.name for e in prof.events()})
    ['MulBackward0', 'SumBackward0', 'expand', 'mul', 'reshape', 'step', 'sum']
    >>> table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=5)
"""

import enum

from ember._errors import runtime_error, value_error
from ember.autograd.node import Observers
from ember.profiler.collector import Collector
from ember.profiler.events import EventList

__all__ = ["profile", "ProfilerActivity"]


class ProfilerActivity(enum.Enum):
    """What to profile; ember runs on the CPU, so ``CPU`` is the one activity it has."""

    CPU = "CPU"
    CUDA = "CUDA"


def _check_activities(activities):
    for activity in activities or ():
        if activity not in (ProfilerActivity.CPU, "cpu", "CPU"):
            raise value_error("profile", f"cannot profile {activity}: ember runs on the CPU "
                                         "only (use activities=[ProfilerActivity.CPU])")


class profile:
    """Context manager that records every op run inside it.

    Args:
        activities: ``[ProfilerActivity.CPU]`` or None (the same).
        record_shapes: record each op's input shapes (``Input Shapes``,
            ``key_averages(group_by_input_shape=True)``, the trace's ``Input Dims``).
        profile_memory: record the bytes each op's outputs take (``CPU Mem`` columns).
        with_stack: record the Python stack of each op (``key_averages(group_by_stack_n=)``).
        on_trace_ready: called with the profiler once it stops.

    Raises:
        RuntimeError: on entering while another profiler runs (profilers do not nest).
    """

    def __init__(self, activities=None, *, record_shapes=False, profile_memory=False,
                 with_stack=False, on_trace_ready=None):
        _check_activities(activities)
        self.record_shapes, self.profile_memory = record_shapes, profile_memory
        self.with_stack, self.on_trace_ready = with_stack, on_trace_ready
        self._collector = None
        self._events = None

    def start(self):
        """Start recording (``__enter__`` does it)."""
        if Collector.current is not None:
            raise runtime_error("profile", "a profiler is already running; ember's profilers "
                                           "do not nest, stop the outer one first")
        self._collector = Collector(self.record_shapes, self.profile_memory, self.with_stack)
        self._events = None
        Collector.current = self._collector
        Observers.add(self._collector)

    def stop(self):
        """Stop recording and gather the events (``__exit__`` does it)."""
        collector = self._collector
        if collector is None or Collector.current is not collector:
            return
        Observers.remove(collector)
        Collector.current = None
        self._events = EventList(collector.finish(), self.profile_memory,
                                 with_shapes=self.record_shapes, with_stack=self.with_stack)
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def events(self):
        """Every recorded event (an ``EventList``), in order of start time per thread."""
        if self._events is None:
            raise runtime_error("profile", "the events exist once the profiler has stopped "
                                           "(after its with block)")
        return self._events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        """The events summed by name (and input shapes, or top stack frames).

        Returns:
            An ``EventList`` of ``FunctionEventAvg``; ``.table(sort_by=...)`` prints it.
        """
        if group_by_input_shape and not self.record_shapes:
            raise value_error("key_averages", "group_by_input_shape=True needs the shapes: "
                                              "profile with record_shapes=True")
        if group_by_stack_n > 0 and not self.with_stack:
            raise value_error("key_averages", "group_by_stack_n needs the stacks: profile "
                                              "with with_stack=True")
        return self.events().key_averages(group_by_input_shape, group_by_stack_n)

    @property
    def self_cpu_time_total(self):
        """The time measured, in microseconds: the sum of every event's self time."""
        return self.events().self_cpu_time_total

    def export_chrome_trace(self, path):
        """Write a Chrome Trace Event Format JSON file that Perfetto and chrome://tracing open."""
        self.events().export_chrome_trace(path)
