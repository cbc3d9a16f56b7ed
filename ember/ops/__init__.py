"""Every differentiable operation, grouped by family, and the Tensor methods they provide.

Each family module defines its ops once and lists:

- ``__all__``: the functions ``ember`` exports at top level (as ``torch`` does);
- ``FUNCTIONAL``: the functions ``ember.nn.functional`` exports;
- ``METHODS``: the ``Tensor`` methods and operators, attached below in one place.
"""

from ember.ops import (
    activation, arithmetic, attention, compare, conv, distance, dropout, embedding, index,
    join, linalg, loss, norm, pool, reduce, resize, shape, unary,
)
from ember.tensor import Tensor

FAMILIES = (
    arithmetic, unary, compare, activation, reduce, shape, join, index, linalg, conv, pool,
    norm, loss, embedding, dropout, attention, distance, resize,
)


def _attach_methods():
    seen = {}
    for family in FAMILIES:
        for name, method in family.METHODS.items():
            if name in seen:
                raise RuntimeError(f"Tensor.{name} is defined by both ember.ops."
                                   f"{seen[name]} and ember.ops.{family.__name__}")
            seen[name] = family.__name__.rsplit(".", 1)[-1]
            setattr(Tensor, name, method)


_attach_methods()
