"""ONNX shape, indexing and constant operators as ember ops.

Shapes computed by these ops (Shape, Gather on a shape, Concat of shapes, Range) stay
NumPy int64 arrays as long as they do not depend on data, so a Reshape target or a Slice
bound is a plain constant by the time the op that needs it runs.
"""

import numpy as np

import ember
from ember._errors import value_error
from ember.onnx._import_values import as_array, as_tensor, int_list, scalar

__all__ = ["OPS"]


def _shape_tuple(x):
    return tuple(int(s) for s in x.shape)


# ---- constants -----------------------------------------------------------------------


def _constant(node):
    """The array a Constant node holds (one of its ``value*`` attributes)."""
    attrs = node.attrs
    if "value" in attrs:
        return np.array(attrs["value"])
    if "value_float" in attrs:
        return np.array(attrs["value_float"], dtype=np.float32)
    if "value_floats" in attrs:
        return np.array(attrs["value_floats"], dtype=np.float32)
    if "value_int" in attrs:
        return np.array(attrs["value_int"], dtype=np.int64)
    if "value_ints" in attrs:
        return np.array(attrs["value_ints"], dtype=np.int64)
    raise value_error(node.label, f"no supported value attribute among {sorted(attrs)}")


def _constant_of_shape(node, shape):
    value = node.attr("value")
    fill = np.zeros(1, np.float32) if value is None else np.asarray(value)
    return np.full(int_list(shape, node, "input"), fill.reshape(-1)[0], dtype=fill.dtype)


def _shape(node, x):
    dims = _shape_tuple(x)
    start, end = node.attr("start", 0), node.attr("end", None)
    return np.array(dims[start:end], dtype=np.int64)


def _size(node, x):
    return np.array(int(np.prod(_shape_tuple(x))), dtype=np.int64)


def _range(node, start, limit, delta):
    start_a = as_array(start, node, "start")
    values = [scalar(v, node, n) for v, n in ((start, "start"), (limit, "limit"),
                                               (delta, "delta"))]
    return np.arange(*values, dtype=start_a.dtype)


# ---- reshaping -----------------------------------------------------------------------


def _reshape(node, x, shape):
    x = as_tensor(x)
    target = int_list(shape, node, "shape")
    if not node.attr("allowzero", 0):
        # A 0 copies the input's size at that position (unless allowzero is set).
        target = [x.shape[i] if s == 0 else s for i, s in enumerate(target)]
    return x.reshape(target)


def _flatten(node, x):
    x = as_tensor(x)
    axis = node.attr("axis", 1)
    axis = axis + x.ndim if axis < 0 else axis
    outer = int(np.prod(x.shape[:axis], dtype=np.int64))
    return x.reshape(outer, int(np.prod(x.shape[axis:], dtype=np.int64)))


def _transpose(node, x):
    x = as_tensor(x)
    perm = node.attr("perm") or list(range(x.ndim))[::-1]
    return x.permute(*perm)


def _axes_arg(node, axes, inputs_from=13):
    """Axes given as an attribute before opset ``inputs_from``, as an input since."""
    if node.opset < inputs_from:
        return node.attr("axes")
    return None if axes is None else int_list(axes, node, "axes")


def _squeeze(node, x, axes=None):
    x = as_tensor(x)
    axes = _axes_arg(node, axes)
    if axes is None:
        keep = [s for s in x.shape if s != 1]
    else:
        drop = {a % x.ndim for a in axes}
        bad = [a for a in drop if x.shape[a] != 1]
        if bad:
            raise value_error(node.label, f"cannot squeeze axis {bad[0]} of size "
                                          f"{x.shape[bad[0]]} (input shape {tuple(x.shape)})")
        keep = [s for i, s in enumerate(x.shape) if i not in drop]
    return x.reshape(keep)


def _unsqueeze(node, x, axes=None):
    x = as_tensor(x)
    axes = _axes_arg(node, axes)
    rank = x.ndim + len(axes)
    inserted = {a % rank for a in axes}
    sizes = iter(x.shape)
    return x.reshape([1 if i in inserted else next(sizes) for i in range(rank)])


def _expand(node, x, shape):
    x = as_tensor(x)
    # ONNX's Expand broadcasts both ways: a 1 in the target keeps the input's size.
    target = np.broadcast_shapes(tuple(x.shape), tuple(int_list(shape, node, "shape")))
    return x.expand(*target) if target != tuple(x.shape) else x


def _tile(node, x, repeats):
    return ember.tile(as_tensor(x), tuple(int_list(repeats, node, "repeats")))


def _concat(node, *values):
    return ember.cat([as_tensor(v) for v in values], dim=node.attr("axis"))


def _split(node, x, split=None):
    x = as_tensor(x)
    axis = node.attr("axis", 0) % x.ndim
    sizes = node.attr("split") if node.opset < 13 else (
        None if split is None else int_list(split, node, "split"))
    if not sizes:
        n, length = node.num_outputs, x.shape[axis]
        # Opset 18's num_outputs splits into ceil-sized pieces, the last one smaller.
        step = -(-length // n)
        sizes = [min(step, length - i * step) for i in range(n)]
    return tuple(ember.split(x, sizes, dim=axis))


# ---- slicing and indexing ------------------------------------------------------------


def _slice_args(node, starts, ends, axes, steps):
    if node.opset < 10:
        return node.attr("starts"), node.attr("ends"), node.attr("axes"), None
    return (int_list(starts, node, "starts"), int_list(ends, node, "ends"),
            None if axes is None else int_list(axes, node, "axes"),
            None if steps is None else int_list(steps, node, "steps"))


def _slice(node, x, starts=None, ends=None, axes=None, steps=None):
    x = as_tensor(x)
    starts, ends, axes, steps = _slice_args(node, starts, ends, axes, steps)
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * x.ndim
    flips = []
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis %= x.ndim
        n = x.shape[axis]
        # Python's slice clamps out-of-range bounds the way ONNX specifies.
        first, stop, step = slice(start, end, step).indices(n)
        if step < 0:
            # ember slices forward only: read the flipped axis, where index i is n-1-i.
            flips.append(axis)
            first, stop, step = n - 1 - first, n - 1 - stop, -step
        index[axis] = slice(first, max(stop, first), step)
    if flips:
        x = x.flip(*flips)
    return x[tuple(index)]


def _indices(node, indices, size):
    """Gather indices as an int64 array with negative ones counted from the end."""
    idx = as_array(indices, node, "indices").astype(np.int64)
    if idx.size and (idx.max() >= size or idx.min() < -size):
        raise value_error(node.label, f"an index is out of range for an axis of size {size}")
    return np.where(idx < 0, idx + size, idx)


def _gather(node, data, indices):
    data = as_tensor(data)
    axis = node.attr("axis", 0) % data.ndim
    idx = _indices(node, indices, data.shape[axis])
    key = idx.item() if idx.ndim == 0 else idx
    return data[(slice(None),) * axis + (key,)]


def _gather_elements(node, data, indices):
    data = as_tensor(data)
    axis = node.attr("axis", 0) % data.ndim
    idx = _indices(node, indices, data.shape[axis])
    return ember.gather(data, axis, ember.tensor(idx))


def _gather_nd(node, data, indices):
    if node.attr("batch_dims", 0):
        raise value_error(node.label, "batch_dims other than 0 are not supported")
    data = as_tensor(data)
    idx = as_array(indices, node, "indices").astype(np.int64)
    depth = idx.shape[-1]
    dims = np.array(data.shape[:depth])
    idx = np.where(idx < 0, idx + dims, idx)
    return data[tuple(idx[..., i] for i in range(depth))]


def _trilu(node, x, k=None):
    x = as_tensor(x)
    diagonal = 0 if k is None else int(scalar(k, node, "k"))
    return ember.triu(x, diagonal) if node.attr("upper", 1) else ember.tril(x, diagonal)


def _top_k(node, x, k=None):
    x = as_tensor(x)
    count = node.attr("k") if node.opset < 10 else int(scalar(k, node, "K"))
    values, indices = ember.topk(x, count, dim=node.attr("axis", -1),
                                 largest=bool(node.attr("largest", 1)),
                                 sorted=bool(node.attr("sorted", 1)))
    return values, indices.to(ember.int64)


OPS = {
    "TopK": _top_k,
    "Constant": _constant, "ConstantOfShape": _constant_of_shape, "Shape": _shape,
    "Size": _size, "Range": _range,
    "Reshape": _reshape, "Flatten": _flatten, "Transpose": _transpose,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Expand": _expand, "Tile": _tile,
    "Concat": _concat, "Split": _split,
    "Slice": _slice, "Gather": _gather, "GatherElements": _gather_elements,
    "GatherND": _gather_nd, "Trilu": _trilu,
}
