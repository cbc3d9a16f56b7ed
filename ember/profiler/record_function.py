"""``record_function``: a named range in the profile, around a block or a function."""

import contextlib

from ember.profiler.collector import Collector

__all__ = ["record_function"]


class record_function(contextlib.ContextDecorator):
    """Mark a range: a context manager or a decorator (PyTorch's ``record_function``).

    The ops run inside the range are its children: its CPU total includes their time,
    its self time excludes it. Ranges nest. Outside a profiler it does nothing.

    Example:
        >>> import ember
        >>> from ember.profiler import profile, record_function
        >>> with profile() as prof:
        ...     with record_function("double"):
        ...         y = ember.ones(3) * 2
        >>> [e.name for e in prof.events()]
        ['double', 'mul']
    """

    def __init__(self, name):
        self.name = str(name)
        self._open = []  # (collector, event) per entry; a decorated function may recurse

    def __enter__(self):
        collector = Collector.current
        event = None if collector is None else collector.open(self.name, "user_annotation")
        self._open.append((collector, event))
        return self

    def __exit__(self, *exc):
        collector, event = self._open.pop()
        if event is not None:
            collector.close(event)
        return False
