"""Exporters of the ops that write (or add) values at fixed positions of zeros: the adjoints
of the gathering ops (``SliceScatter`` of ``Slice``, ``DiagonalScatter`` of ``Diagonal``,
...). Most are backward ops, but some also serve forward functions (``diag_embed``
builds on ``DiagonalScatter``), so they are exported like any op.

Each is one ``ScatterElements`` into flattened zeros: the positions are the index map
of the gathering op (run on ``arange`` of the output's shape, as in ``_export_tensor.py``),
the updates the flattened input; overlapping positions add up.
"""

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.jit.ops import lookup
from ember.onnx._export_math import out_dtype
from ember.tensor import Tensor

__all__ = ["EXPORTERS"]


def _positions(shape):
    return np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)


def _gathered(name, shape, **params):
    """The positions (in zeros of ``shape``) that the gathering op ``name`` reads."""
    with no_grad():
        return lookup(name).apply(Tensor._make(_positions(shape)), **params)._data


def scatter_at(ctx, node, values, positions, accumulate=True):
    """Zeros of the output's shape with ``values`` (flattened) put at ``positions``."""
    shape = node.outputs[0].shape
    zeros = ctx.const(np.zeros(int(np.prod(shape)), out_dtype(node)), "zeros")
    flat = ctx.op("Reshape", [values, ctx.ints([-1])])
    index = ctx.const(np.ascontiguousarray(positions, dtype=np.int64).reshape(-1), "positions")
    attrs = {"reduction": "add"} if accumulate else {}
    out = ctx.op("ScatterElements", [zeros, index, flat], axis=0, **attrs)
    return ctx.op("Reshape", [out, ctx.ints(shape)])


def _slice_scatter(ctx, node, g, shape, index):
    return scatter_at(ctx, node, g, _positions(shape)[index], accumulate=False)


def _diagonal_scatter(ctx, node, g, shape, args):
    offset, dim1, dim2 = args
    return scatter_at(ctx, node, g, _gathered("Diagonal", shape, offset=offset, dim1=dim1,
                                              dim2=dim2), accumulate=False)


def _unfold_backward(ctx, node, g, shape, args):
    dim, size, step = args
    return scatter_at(ctx, node, g, _gathered("Unfold", shape, dim=dim, size=size, step=step))


def _run_pad_backward(ctx, node, g, runs, in_shape):
    return scatter_at(ctx, node, g, _gathered("RunPad", in_shape, runs=runs))


def _segment_sum(ctx, node, g, repeats, axis):
    where = _gathered("RepeatInterleave", node.outputs[0].shape, repeats=repeats, axis=axis)
    return scatter_at(ctx, node, g, where)


def _plane_scatter(ctx, node, values, index, shape, nd, accumulate):
    planes = int(np.prod(shape[:len(shape) - nd]))
    plane = int(np.prod(shape[len(shape) - nd:]))
    where = np.asarray(index).reshape(planes, -1) + (np.arange(planes) * plane)[:, None]
    return scatter_at(ctx, node, values, where, accumulate)


def _scaled(ctx, node, g, scale, shape):
    if scale is None:
        return g
    return ctx.op("Mul", [g, ctx.const(np.asarray(scale, out_dtype(node)).reshape(shape))])


def _put_rows(ctx, node, g, index, scale, rows):
    index = np.asarray(index)
    tail = node.inputs[0].shape[index.ndim:]
    g = _scaled(ctx, node, g, scale, None if scale is None else
                np.shape(scale) + (1,) * len(tail))
    where = _positions((rows,) + tuple(tail))[index.reshape(-1)]
    return scatter_at(ctx, node, g, where)


def _place_along(ctx, node, g, index, axis, scale, shape):
    g = _scaled(ctx, node, g, scale, np.shape(scale))  # scale broadcasts like g
    where = np.take_along_axis(_positions(shape), np.expand_dims(index, axis), axis)
    return scatter_at(ctx, node, g, where.squeeze(axis), accumulate=False)


EXPORTERS = {
    "SliceScatter": _slice_scatter, "DiagonalScatter": _diagonal_scatter,
    "UnfoldBackward": _unfold_backward, "RunPadBackward": _run_pad_backward,
    "SegmentSum": _segment_sum, "PlaneScatter": _plane_scatter, "PutRows": _put_rows,
    "PlaceAlong": _place_along,
}
