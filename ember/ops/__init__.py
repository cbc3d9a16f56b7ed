"""Every differentiable operation, grouped by family, and the Tensor methods they provide.

Each family module defines its ops once and lists:

- ``__all__``: the functions ``ember`` exports at top level (as ``torch`` does);
- ``FUNCTIONAL``: the functions ``ember.nn.functional`` exports;
- ``METHODS``: the ``Tensor`` methods and operators, attached below in one place.
"""

from ember.ops import (
    activation,
    arithmetic,
    assign,
    attention,
    avg_pool,
    binary_loss,
    compare,
    conv,
    conv_transpose,
    distance,
    dropout,
    einsum,
    embedding,
    extrema,
    gather,
    index,
    join,
    linalg,
    logical,
    loss,
    margin_loss,
    moments,
    norm,
    pad,
    pointwise,
    pool,
    rearrange,
    reduce,
    regression_loss,
    resize,
    rounding,
    scan,
    scatter,
    shape,
    softmax,
    sort,
    unary,
    views,
)
from ember.tensor import Tensor

FAMILIES = (
    arithmetic, assign, unary, rounding, pointwise, compare, logical, activation, softmax,
    reduce, moments, extrema, scan, sort, shape, views, rearrange, join, index, gather,
    scatter, linalg, einsum, conv, conv_transpose, pool, avg_pool, pad, norm, loss,
    binary_loss, regression_loss, margin_loss, embedding, dropout, attention, distance, resize,
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
