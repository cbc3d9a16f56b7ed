"""What the profiler recorded: one ``FunctionEvent`` per op call or range, and averages.

Times are kept in integer nanoseconds (``time.perf_counter_ns``) and shown in
microseconds, PyTorch's unit: ``cpu_time_total`` is the event's wall time,
``self_cpu_time_total`` that time minus its children's (ops run inside an op's backward,
ops inside a ``record_function`` range). Memory is the bytes of the arrays an op creates
(its outputs; views create none); ``cpu_memory_usage`` includes the children's,
``self_cpu_memory_usage`` does not.
"""

from collections import namedtuple

from ember.profiler.table import build_table
from ember.profiler.trace import export_chrome_trace

__all__ = ["FunctionEvent", "FunctionEventAvg", "EventList", "Interval"]



class Interval(namedtuple("Interval", ["start", "end"])):
    """A time range in microseconds."""

    __slots__ = ()

    def elapsed_us(self):
        return self.end - self.start


class FunctionEvent:
    """One call of an op, a backward function or a ``record_function`` range.

    Attributes:
        name: the op's name (``"mul"``), the backward node's (``"MulBackward0"``) or the
            range's.
        category: ``"cpu_op"`` or ``"user_annotation"`` (the Chrome trace's ``cat``).
        input_shapes: one shape (a list) per input, ``[]`` for non-tensors; empty unless
            ``record_shapes``.
        stack: ``"file.py(line): function"`` frames outside ember, innermost first
            (``with_stack``).
        cpu_parent, cpu_children: the enclosing event (or None) and the nested ones.
    """

    __slots__ = ("id", "name", "category", "thread", "start_ns", "end_ns", "input_shapes",
                 "stack", "self_bytes", "cpu_parent", "cpu_children", "__weakref__")

    def __init__(self, name, category, thread, input_shapes=None, stack=()):
        self.name, self.category, self.thread = name, category, thread
        self.input_shapes, self.stack = input_shapes or [], stack
        self.id = self.start_ns = self.end_ns = 0
        self.self_bytes = 0
        self.cpu_parent = None
        self.cpu_children = []

    key = property(lambda self: self.name)
    count = property(lambda self: 1)
    is_user_annotation = property(lambda self: self.category == "user_annotation")

    @property
    def time_range(self):
        """``Interval(start, end)`` in microseconds since the profiler started."""
        return Interval(self.start_ns / 1000, self.end_ns / 1000)

    @property
    def cpu_time_total(self):
        return (self.end_ns - self.start_ns) / 1000

    cpu_time = cpu_time_total

    @property
    def self_cpu_time_total(self):
        children = sum(c.end_ns - c.start_ns for c in self.cpu_children)
        return (self.end_ns - self.start_ns - children) / 1000

    @property
    def cpu_memory_usage(self):
        return self.self_bytes + sum(c.cpu_memory_usage for c in self.cpu_children)

    @property
    def self_cpu_memory_usage(self):
        return self.self_bytes

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} cpu_time="
                f"{self.cpu_time_total:.3f}us self_cpu_time={self.self_cpu_time_total:.3f}us "
                f"input_shapes={self.input_shapes} cpu_memory_usage={self.cpu_memory_usage}>")


class FunctionEventAvg:
    """The events of one name (and input shapes, or stack, when grouped by them), summed."""

    def __init__(self, key, input_shapes=None, stack=None):
        self.key, self.input_shapes, self.stack = key, input_shapes, stack
        self.count = 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0
        self.is_user_annotation = False
        self.cpu_parent = None  # the first event's, as in PyTorch (top_level_events_only)

    def add(self, event):
        if not self.count:
            self.cpu_parent = getattr(event, "cpu_parent", None)
        self.count += event.count
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total
        self.cpu_memory_usage += event.cpu_memory_usage
        self.self_cpu_memory_usage += event.self_cpu_memory_usage
        self.is_user_annotation = event.is_user_annotation
        return self

    name = property(lambda self: self.key)

    @property
    def cpu_time(self):
        """The average wall time of one call, in microseconds."""
        return self.cpu_time_total / self.count if self.count else 0.0

    @property
    def self_cpu_time(self):
        return self.self_cpu_time_total / self.count if self.count else 0.0

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total:.3f}"
                f"us cpu_time={self.cpu_time_total:.3f}us count={self.count} "
                f"input_shapes={self.input_shapes} cpu_memory_usage={self.cpu_memory_usage}>")


class EventList(list):
    """A list of events (or of averages) that prints itself as a table.

    ``with_memory`` says whether the memory columns are shown (the profiler's
    ``profile_memory``).
    """

    def __init__(self, events=(), with_memory=False, with_shapes=False, with_stack=False):
        super().__init__(events)
        self.with_memory, self.with_shapes, self.with_stack = with_memory, with_shapes, with_stack

    @property
    def self_cpu_time_total(self):
        """The sum of every event's self time: the time measured, counted once."""
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0):
        """One ``FunctionEventAvg`` per name (per name and input shapes, per stack top)."""
        groups = {}
        for e in self:
            key = [e.key]
            if group_by_input_shape:
                key.append(str(e.input_shapes))
            if group_by_stack_n > 0:
                key.append(tuple(e.stack[:group_by_stack_n]))
            key = tuple(key)
            avg = groups.get(key)
            if avg is None:
                avg = groups[key] = FunctionEventAvg(
                    e.key, e.input_shapes if group_by_input_shape else None,
                    list(e.stack[:group_by_stack_n]) if group_by_stack_n > 0 else None)
            avg.add(e)
        return EventList(groups.values(), self.with_memory,
                         with_shapes=group_by_input_shape, with_stack=group_by_stack_n > 0)

    def total_average(self):
        """Every event summed into one ``FunctionEventAvg`` named ``"Total"``."""
        total = FunctionEventAvg("Total")
        for e in self:
            total.add(e)
        return total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        """PyTorch's profiler table: one row per event or average, ``sort_by`` descending.

        Args:
            sort_by: ``"self_cpu_time_total"``, ``"cpu_time_total"``, ``"cpu_time"``,
                ``"count"``, ``"cpu_memory_usage"`` or ``"self_cpu_memory_usage"``;
                None keeps the list's order.
            row_limit: the number of rows shown.
            header: a line printed above the table.
            top_level_events_only: only the events that no other event encloses.
            time_unit: ``"s"``, ``"ms"`` or ``"us"`` for every time; None picks per value.
        """
        return build_table(self, sort_by=sort_by, row_limit=row_limit,
                           max_name_column_width=max_name_column_width,
                           max_shapes_column_width=max_shapes_column_width,
                           max_src_column_width=max_src_column_width, header=header,
                           top_level_events_only=top_level_events_only, time_unit=time_unit)

    def export_chrome_trace(self, path):
        """Write the events as a Chrome Trace Event Format JSON file (Perfetto opens it)."""
        export_chrome_trace(self, path)

    def __str__(self):
        return self.table()
