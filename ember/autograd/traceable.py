"""``@traceable``: a function that graph capture records as one call, not as its ops.

Most functions need no mark: ``ember.jit.trace`` records the ``Op``s they apply. A few
read the *values* of an integer tensor in Python before they apply their ops
(``embedding`` turns indices into row numbers, ``cross_entropy`` turns targets into
positions and weights, ``x[idx]`` builds a NumPy index): their ops carry those values as
constants, so a graph made of them would replay the example's values. Marked with
``@traceable("name")``, such a function is one ``call`` node of the graph whose target is
``name``; the graph interpreter calls the function itself, with the new tensors.

Outside capture the mark costs one attribute test per call (``Observers.active``).
"""

import functools

from ember.autograd.node import Observers

__all__ = ["traceable", "TRACEABLE"]

# name -> the undecorated function; the graph interpreter calls these by name.
TRACEABLE = {}


def traceable(name):
    """Record calls of the decorated function as one graph node named ``name``."""
    def wrap(fn):
        if name in TRACEABLE:
            raise ValueError(f"traceable: the name {name!r} is taken by {TRACEABLE[name]}")
        TRACEABLE[name] = fn

        @functools.wraps(fn)
        def recorded(*args, **kwargs):
            if not Observers.active:
                return fn(*args, **kwargs)
            tokens = Observers.begin("call", name, args, kwargs)
            out = fn(*args, **kwargs)
            Observers.end("call", tokens, out)
            return out
        return recorded
    return wrap
