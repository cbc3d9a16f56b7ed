"""Exporters of shape ops: reshape, permute, broadcast, join and split, slicing, casts.

Ops that only move elements to fixed places (flip, roll, rot90, repeat, padding by
reflection, diagonals, sliding windows) are exported by their *index map*: the op is
run once on ``arange(n)`` of the input's shape, and the ONNX graph gathers the
flattened input at those positions (``gather_by_index_map``). That is exact for any
parameters, and specialized to the traced shape, like the ember graph itself.
"""

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.jit.ops import lookup
from ember.onnx._export_context import INT64_MAX
from ember.onnx._export_math import as_out, out_dtype
from ember.tensor import Tensor

__all__ = ["EXPORTERS", "basic_index", "by_index_map", "gather_by_index_map", "is_basic_index"]


def gather_by_index_map(ctx, x, shape, positions):
    """``x`` (of ``shape``) flattened and gathered at ``positions`` (int array)."""
    flat = ctx.op("Reshape", [x, ctx.ints([-1])])
    index = ctx.const(np.asarray(positions, dtype=np.int64), "index_map")
    return ctx.op("Gather", [flat, index], axis=0)


def by_index_map(ctx, node, x, *rest, **params):
    """An op that only moves elements, exported by its index map (module docstring)."""
    shape = node.inputs[0].shape
    cls = lookup(node.target)
    with no_grad():
        out = cls.apply(Tensor._make(np.arange(int(np.prod(shape)), dtype=np.int64)
                                     .reshape(shape)), **params)
    outs = out if isinstance(out, tuple) else (out,)
    return tuple(gather_by_index_map(ctx, x, shape, o._data) for o in outs)


# ---- reshapes, permutes, broadcasts -----------------------------------------------------

def _reshape(ctx, node, x, shape):
    twin = ctx.twin(node).params["shape"]
    target = ctx.shape_tensor(shape, twin, f"Reshape at {node.where}", allow_infer=True)
    return ctx.op("Reshape", [x, target], allowzero=int(0 in shape))


def _permute(ctx, node, x, dims):
    return ctx.op("Transpose", [x], perm=[d % max(len(dims), 1) for d in dims])


def _expand(ctx, node, x, shape):
    in_shape = node.inputs[0].shape
    full = tuple(in_shape[i - len(shape) + len(in_shape)] if s == -1 else s
                 for i, s in enumerate(shape))
    twin = ctx.twin(node)
    twin_in = twin.inputs[0].shape
    twin_full = tuple(twin_in[i - len(shape) + len(twin_in)] if s == -1 else s
                      for i, s in enumerate(twin.params["shape"]))
    return ctx.op("Expand", [x, ctx.shape_tensor(full, twin_full, f"Expand at {node.where}")])


def _sum_to_size(ctx, node, x, shape):
    in_shape = node.inputs[0].shape
    lead = len(in_shape) - len(shape)
    axes = list(range(lead)) + [lead + i for i, s in enumerate(shape)
                                if s == 1 and in_shape[lead + i] != 1]
    if not axes:
        return ctx.op("Identity", [x])
    summed = ctx.reduce("ReduceSum", x, axes, keepdims=True)
    if not lead:
        return summed
    twin = ctx.twin(node).params["shape"]
    return ctx.op("Reshape", [summed, ctx.shape_tensor(shape, twin, "SumToSize")])


def _cast(ctx, node, x, dtype):
    return ctx.cast(x, node.inputs[0].dtype, dtype) if node.inputs[0].dtype != dtype else \
        ctx.op("Identity", [x])


def _identity(ctx, node, x, **_):
    return ctx.op("Identity", [x])


def _flip(ctx, node, x, axes):
    if not axes or not node.inputs[0].shape:
        return ctx.op("Identity", [x])
    count = len(axes)
    low = -INT64_MAX - 1
    return ctx.op("Slice", [x, ctx.ints([-1] * count), ctx.ints([low] * count),
                            ctx.ints(list(axes)), ctx.ints([-1] * count)])


def _repeat(ctx, node, x, sizes):
    extra = len(sizes) - len(node.inputs[0].shape)
    if extra:
        x = ctx.unsqueeze(x, list(range(extra)))
    return ctx.op("Tile", [x, ctx.ints(sizes)])


def _triangle(ctx, node, x, diagonal, upper):
    return ctx.op("Trilu", [x, ctx.scalar(diagonal, np.int64)], upper=int(upper))


# ---- join and split ------------------------------------------------------------------

def _cat(ctx, node, *xs, axis, dtype):
    rank = len(node.outputs[0].shape)
    # PyTorch's cat skips 1-D empty tensors next to tensors of another rank.
    kept = [(x, v) for x, v in zip(xs, node.inputs) if len(v.shape) == rank]
    names = [ctx.cast(x, v.dtype, out_dtype(node)) for x, v in kept]
    return ctx.op("Concat", names, axis=axis)


def _stack(ctx, node, *xs, axis, dtype):
    names = [ctx.unsqueeze(x, [axis]) for x in as_out(ctx, node, list(xs))]
    return ctx.op("Concat", names, axis=axis)


def _split(ctx, node, x, sizes, axis):
    return tuple(ctx.split(x, list(sizes), axis))


def _unbind(ctx, node, x, axis):
    count = node.inputs[0].shape[axis]
    return tuple(ctx.squeeze(p, [axis]) for p in ctx.split(x, [1] * count, axis))


# ---- indexing ------------------------------------------------------------------------

def basic_index(ctx, x, ndim, index, twin_index=None, what="an index"):
    """``x[index]`` for ints, slices, None and Ellipsis.

    Slices keep Python's meaning for any size (ONNX's Slice clamps the same way), so the
    result stays right along dynamic axes; bounds that differ in the twin trace
    (``x[:n]`` with ``n`` a dynamic size) are computed at run time.
    """
    starts, ends, axes, steps, drop, new = _parse_basic(index, ndim)
    if twin_index is not None and twin_index is not index:
        t_starts, t_ends, *rest = _parse_basic(twin_index, ndim)
        if rest != [axes, steps, drop, new]:
            raise ValueError(f"ember.onnx.export: {what} changes its form with the size of "
                             "a dynamic axis; export without that dynamic axis")
        starts = ctx.shape_tensor(starts, t_starts, what)
        ends = ctx.shape_tensor(ends, t_ends, what)
    elif axes:
        starts, ends = ctx.ints(starts), ctx.ints(ends)
    if axes:
        x = ctx.op("Slice", [x, starts, ends, ctx.ints(axes), ctx.ints(steps)])
    if drop:
        x = ctx.squeeze(x, drop)
    if new:
        x = ctx.unsqueeze(x, new)
    return x if axes or drop or new else ctx.op("Identity", [x])


def _parse_basic(index, ndim):
    """``(starts, ends, axes, steps, dropped axes, new axes)`` of a basic index."""
    index = index if isinstance(index, tuple) else (index,)
    used = sum(1 for i in index if i is not None and i is not Ellipsis)
    if Ellipsis in index:
        at = index.index(Ellipsis)
        index = index[:at] + (slice(None),) * (ndim - used) + index[at + 1:]
    else:
        index = index + (slice(None),) * (ndim - used)
    starts, ends, axes, steps, drop, new = [], [], [], [], [], []
    axis = out = 0
    for item in index:
        if item is None:
            new.append(out)
            out += 1
            continue
        if isinstance(item, slice):
            if item != slice(None):
                _slice_bounds(item, axis, starts, ends, axes, steps)
            out += 1
        else:
            item = int(item)
            stop = INT64_MAX if item == -1 else item + 1
            _slice_bounds(slice(item, stop), axis, starts, ends, axes, steps)
            drop.append(axis)
        axis += 1
    return starts, ends, axes, steps, drop, new


def _slice_bounds(item, axis, starts, ends, axes, steps):
    step = 1 if item.step is None else int(item.step)
    low, high = -INT64_MAX - 1, INT64_MAX
    start = (0 if step > 0 else high) if item.start is None else int(item.start)
    stop = (high if step > 0 else low) if item.stop is None else int(item.stop)
    starts.append(start)
    ends.append(stop)
    axes.append(axis)
    steps.append(step)


def is_basic_index(index):
    """Whether ``index`` holds only ints, slices, None and Ellipsis."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer))
               and not isinstance(i, bool) for i in items)


def _slice(ctx, node, x, index):
    twin = ctx.twin(node).params["index"]
    return basic_index(ctx, x, len(node.inputs[0].shape), index, twin, f"Slice at {node.where}")


EXPORTERS = {
    "Reshape": _reshape, "View": _reshape, "Squeeze": _reshape, "Permute": _permute,
    "Expand": _expand, "SumToSize": _sum_to_size, "Cast": _cast, "Clone": _identity,
    "Triangle": _triangle, "Cat": _cat, "Stack": _stack, "Split": _split,
    "Unbind": _unbind, "Slice": _slice,
    "Flip": _flip, "Roll": by_index_map, "Rot90": by_index_map,
    "Repeat": _repeat, "RepeatInterleave": by_index_map, "RunPad": by_index_map,
    "Diagonal": by_index_map, "Unfold": by_index_map,
}
