"""The op-level profiler: ``profile``, ``record_function`` and the events they record."""

from ember.profiler.events import EventList, FunctionEvent, FunctionEventAvg
from ember.profiler.profiler import ProfilerActivity, profile
from ember.profiler.record_function import record_function

__all__ = ["profile", "record_function", "ProfilerActivity", "EventList", "FunctionEvent",
           "FunctionEventAvg"]
