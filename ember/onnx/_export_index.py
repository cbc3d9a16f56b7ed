"""Exporters of lookups by index: ``x[...]``, ``gather``, ``take``, ``embedding``, one-hot.

These are mostly ``@traceable`` functions (``ember/ops/gather.py``, ``index.py``,
``embedding.py``): the exporter receives the function's own arguments, with each tensor
replaced by its ONNX name (a ``str``; no index argument is a Python string otherwise).
"""

import numpy as np

from ember.jit.ops import lookup
from ember.onnx._export_context import same_params
from ember.onnx._export_errors import unsupported_form
from ember.onnx._export_math import out_dtype
from ember.onnx._export_tensor import basic_index, by_index_map, gather_by_index_map, is_basic_index
from ember.tensor import Tensor

__all__ = ["EXPORTERS"]


def _value_of(ctx, node, name):
    """The ember Value behind an ONNX input name of ``node``."""
    for v in node.inputs:
        if ctx.name(v) == name:
            return v
    raise KeyError(name)


def _getitem(ctx, node, x, index):
    ndim = len(node.inputs[0].shape)
    if is_basic_index(index):
        twin = ctx.twin(node).params["args"][1]
        return basic_index(ctx, x, ndim, index, twin, f"x[...] at {node.where}")
    if not same_params(node.params, ctx.twin(node).params):
        raise ValueError(f"ember.onnx.export: the index at {node.where} depends on the size "
                         "of a dynamic axis; export without that dynamic axis")
    items = index if isinstance(index, tuple) else (index,)
    tensors = [i for i in items if isinstance(i, str)]
    if not tensors:  # lists and arrays of ints or bools: fixed positions
        shape = node.inputs[0].shape
        positions = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
        # ember's own indexing (PyTorch's rules, not NumPy's) applied to the positions.
        picked = lookup("getitem")(Tensor._make(positions), index)
        return gather_by_index_map(ctx, x, shape, picked._data)
    if len(tensors) == 1 and all(is_basic_index(i) for i in items if not isinstance(i, str)):
        return _one_tensor_index(ctx, node, x, items, tensors[0])
    return _many_index(ctx, node, x, items)


def _one_tensor_index(ctx, node, x, items, name):
    """``x[items]`` where one item is a tensor and the others are basic: the basic part
    first (the tensor's dims kept whole), then the tensor along the axis it lands on."""
    value = _value_of(ctx, node, name)
    width = len(value.shape) if value.dtype == np.bool_ else 1
    ndim = len(node.inputs[0].shape)
    at = items.index(name)
    used = sum(1 for i in items if i is not None and i is not Ellipsis and i != name) + width
    expanded = []
    for i, item in enumerate(items):
        if item is Ellipsis:
            expanded += [slice(None)] * (ndim - used)
        elif i == at:
            expanded += [name] * width
        else:
            expanded.append(item)
    axis = sum(1 for i in expanded[:expanded.index(name)] if i is None or isinstance(i, slice))
    basic = tuple(slice(None) if i == name else i for i in expanded)
    x = basic_index(ctx, x, ndim, basic)
    if value.dtype != np.bool_:
        return ctx.op("Gather", [x, ctx.cast(name, value.dtype, np.int64)], axis=axis)
    # A mask over ``width`` dims: merge them into one, keep the entries where it is True.
    merged = ctx.op("Reshape", [x, ctx.ints([0] * axis + [-1] + _after(node, width, axis))])
    flat_mask = ctx.op("Reshape", [name, ctx.ints([-1])])
    return ctx.op("Compress", [merged, flat_mask], axis=axis)


def _after(node, width, axis):
    """The output's sizes after the masked dims (the mask's single dim in the output)."""
    return list(node.outputs[0].shape[axis + 1:])


def _many_index(ctx, node, x, items):
    """``x[i, j]`` with several integer index tensors (or lists): the basic part first,
    then one Gather on the indexed axes flattened, at ``sum(i_k * stride_k)``."""
    names, ranks = [], []
    for item in items:
        if is_basic_index((item,)):
            continue
        given = _value_of(ctx, node, item) if isinstance(item, str) else None
        array = None if given is not None else np.asarray(item)
        dtype = given.dtype if given is not None else array.dtype
        if dtype == np.bool_:
            raise unsupported_form(node, "a boolean mask beside other index tensors")
        names.append(ctx.cast(item, dtype, np.int64) if given is not None else
                     ctx.const(array.astype(np.int64)))
        ranks.append(len(given.shape) if given is not None else array.ndim)
    ndim = len(node.inputs[0].shape)
    used = sum(1 for i in items if i is not None and i is not Ellipsis)
    expanded = []
    for item in items:
        expanded += [slice(None)] * (ndim - used) if item is Ellipsis else [item]
    marks = [k for k, i in enumerate(expanded) if not is_basic_index((i,))]
    # Where each indexed axis lands after the basic part (ints drop axes, None adds).
    keeps = [i is None or isinstance(i, slice) or k in marks for k, i in enumerate(expanded)]
    axes = [sum(keeps[:k]) for k in marks]
    x = basic_index(ctx, x, ndim, tuple(slice(None) if k in marks else i
                                        for k, i in enumerate(expanded)))
    out = _gather_flat(ctx, x, len(node.outputs[0].shape) - max(ranks) + len(axes), axes,
                       names)
    if marks != list(range(marks[0], marks[0] + len(marks))) or axes[0] == 0:
        return out  # separated indices put their dims first (PyTorch's rule)
    k, total = max(ranks), len(node.outputs[0].shape)
    perm = list(range(k, k + axes[0])) + list(range(k)) + list(range(k + axes[0], total))
    return ctx.op("Transpose", [out], perm=perm)


def _gather_flat(ctx, x, rank, axes, names):
    """``x`` (of ``rank`` dims) gathered over ``axes`` at the index tensors ``names``
    (broadcast together); their dims come first in the result."""
    rest = [a for a in range(rank) if a not in axes]
    moved = ctx.op("Transpose", [x], perm=axes + rest)
    sizes = ctx.op("Shape", [moved], start=0, end=len(axes))
    flat = None
    for k, name in enumerate(names):
        size = ctx.op("Gather", [sizes, ctx.scalar(k, np.int64)], axis=0)
        index = ctx.op("Where", [ctx.op("Less", [name, ctx.scalar(0, np.int64)]),
                                 ctx.op("Add", [name, size]), name])
        flat = index if flat is None else ctx.op("Add", [ctx.op("Mul", [flat, size]), index])
    tail = ctx.op("Shape", [moved], start=len(axes))
    merged = ctx.op("Reshape", [moved, ctx.op("Concat", [ctx.ints([-1]), tail], axis=0)])
    return ctx.op("Gather", [merged, flat], axis=0)


def _gather(ctx, node, input, dim, index, *, sparse_grad=False, out=None):
    if not node.inputs[0].shape:
        return ctx.op("Identity", [input])
    return ctx.op("GatherElements", [input, index], axis=dim)


def _index_select(ctx, node, input, dim, index, *, out=None):
    if not node.inputs[0].shape:
        return ctx.op("Identity", [input])
    index = ctx.op("Reshape", [index, ctx.ints([-1])])
    return ctx.op("Gather", [input, index], axis=dim)


def _take(ctx, node, input, index):
    flat = ctx.op("Reshape", [input, ctx.ints([-1])])
    return ctx.op("Gather", [flat, index], axis=0)


def _take_along_dim(ctx, node, input, indices, dim=None, *, out=None):
    if dim is None:
        flat = ctx.op("Reshape", [input, ctx.ints([-1])])
        return ctx.op("GatherElements", [flat, ctx.op("Reshape", [indices, ctx.ints([-1])])],
                      axis=0)
    # Both broadcast against each other except along dim (PyTorch's rule).
    shape_x, shape_i = node.inputs[0].shape, node.inputs[1].shape
    out_shape = node.outputs[0].shape
    rank = len(out_shape)
    dim = dim % rank
    want_x = [out_shape[d] if d != dim else shape_x[dim - rank + len(shape_x)]
              for d in range(rank)]
    want_i = [out_shape[d] for d in range(rank)]
    x = ctx.op("Expand", [input, ctx.ints(want_x)]) if list(shape_x) != want_x else input
    i = ctx.op("Expand", [indices, ctx.ints(want_i)]) if list(shape_i) != want_i else indices
    return ctx.op("GatherElements", [x, i], axis=dim)


def _embedding(ctx, node, input, weight, padding_idx=None, max_norm=None,
               norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    if max_norm is not None:
        raise unsupported_form(node, "max_norm renormalizes the weight in place while "
                               "looking up; export a model whose weight is already renormed")
    return ctx.op("Gather", [weight, input], axis=0)


def _embedding_bag(ctx, node, input, weight, offsets=None, max_norm=None,
                   norm_type=2, scale_grad_by_freq=False, mode="mean", sparse=False,
                   per_sample_weights=None, include_last_offset=False, padding_idx=None):
    if max_norm is not None:
        raise unsupported_form(node, "max_norm renormalizes the weight in place while "
                               "looking up; export a model whose weight is already renormed")
    dtype = out_dtype(node)
    rows = ctx.op("Gather", [weight, input], axis=0)  # (B, N, D), or (N, D) with offsets
    if per_sample_weights is not None:
        rows = ctx.op("Mul", [rows, ctx.unsqueeze(per_sample_weights, [-1])])
    member = _bag_members(ctx, node, input, offsets, include_last_offset, padding_idx)
    if offsets is not None:
        rows = ctx.unsqueeze(rows, [0])
    if member is None:
        member = ctx.const(np.ones(node.inputs[0].shape, bool))
    inside = ctx.unsqueeze(member, [-1])
    if mode == "max":
        low = ctx.scalar(-np.inf, dtype)
        top = ctx.reduce("ReduceMax", ctx.op("Where", [inside, rows, low]), [1], False)
        # An empty bag gives zeros, as in PyTorch.
        return ctx.op("Where", [ctx.op("Equal", [top, low]), ctx.scalar(0, dtype), top])
    zero = ctx.scalar(0, dtype)
    total = ctx.reduce("ReduceSum", ctx.op("Where", [inside, rows, zero]), [1], False)
    if mode == "sum":
        return total
    count = ctx.reduce("ReduceSum", ctx.cast(inside, np.bool_, dtype), [1], False)
    return ctx.op("Div", [total, ctx.op("Max", [count, ctx.scalar(1, dtype)])])


def _bag_members(ctx, node, input, offsets, include_last_offset, padding_idx):
    """``(bags, N)`` bool: which entries belong to each bag (None: all of a 2-D input)."""
    keep = None
    if padding_idx is not None:
        pad = ctx.scalar(padding_idx, node.inputs[0].dtype)
        keep = ctx.op("Not", [ctx.op("Equal", [input, pad])])
    if offsets is None:
        return keep
    n = node.inputs[0].shape[0]
    given = _value_of(ctx, node, offsets)
    starts = ctx.cast(offsets, given.dtype, np.int64)
    ends = ctx.op("Concat", [ctx.op("Slice", [starts, ctx.ints([1]), ctx.ints([2 ** 62])]),
                             ctx.ints([n])], axis=0)
    if include_last_offset:
        count = given.shape[0] - 1
        starts = ctx.op("Slice", [starts, ctx.ints([0]), ctx.ints([count])])
        ends = ctx.op("Slice", [ends, ctx.ints([0]), ctx.ints([count])])
    positions = ctx.const(np.arange(n, dtype=np.int64).reshape(1, n))
    after = ctx.op("GreaterOrEqual", [positions, ctx.unsqueeze(starts, [1])])
    member = ctx.op("And", [after, ctx.op("Less", [positions, ctx.unsqueeze(ends, [1])])])
    return member if keep is None else ctx.op("And", [member, ctx.unsqueeze(keep, [0])])


def _take_rows(ctx, node, weight, index, scale=None, grad_scale=None):
    rows = ctx.op("Gather", [weight, ctx.const(np.asarray(index, np.int64))], axis=0)
    if scale is None:
        return rows
    return ctx.op("Mul", [rows, ctx.const(np.asarray(scale, node.outputs[0].dtype))])


def _one_hot(ctx, node, t, num_classes):
    values = ctx.const(np.array([0, 1], np.int64))
    depth = ctx.scalar(num_classes, np.int64)
    return ctx.op("OneHot", [t, depth, values], axis=-1)


def _pick_along(ctx, node, x, index, axis, scale):
    shape = node.inputs[0].shape
    positions = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
    positions = np.take_along_axis(positions, np.expand_dims(index, axis), axis).squeeze(axis)
    picked = gather_by_index_map(ctx, x, shape, positions)
    return ctx.op("Mul", [picked, ctx.const(np.asarray(scale, out_dtype(node)))])


# ---- writes at fixed positions: ScatterElements on the flattened tensor -------------

def _scatter(reduction):
    def export(ctx, node, base, src, ix, **_):
        if reduction in ("max", "min") and ctx.opset < 18:
            raise unsupported_form(node, "a scatter with max/min needs opset_version >= 18")
        shape = node.inputs[0].shape
        positions = np.arange(int(np.prod(shape)), dtype=np.int64).reshape(shape)
        src = ctx.cast(src, node.inputs[1].dtype, out_dtype(node))
        if ix.where:  # a boolean mask of the view: src spreads over the view, then masked
            view = ix.view(positions)
            mask = np.broadcast_to(ix.adv[0], view.shape).reshape(-1)
            spread = ctx.op("Expand", [src, ctx.ints(view.shape)])
            flat = ctx.op("Reshape", [spread, ctx.ints([-1])])
            updates = ctx.op("Compress", [flat, ctx.const(mask)], axis=0)
            positions = view.reshape(-1)[mask]
        else:
            positions = ix.take(positions)
            spread = ctx.op("Expand", [src, ctx.ints(positions.shape)])
            updates = ctx.op("Reshape", [spread, ctx.ints([-1])])
        flat_base = ctx.op("Reshape", [base, ctx.ints([-1])])
        attrs = {} if reduction == "none" else {"reduction": reduction}
        out = ctx.op("ScatterElements", [flat_base, ctx.const(positions.reshape(-1)), updates],
                     axis=0, **attrs)
        return ctx.op("Reshape", [out, ctx.ints(shape)])
    return export


def _scatter_extreme(ctx, node, x, src, ix, largest):
    return _scatter("max" if largest else "min")(ctx, node, x, src, ix)


def _put_along(ctx, node, src, index, axis, shape, unique):
    host = tuple(shape) or (1,)
    zeros = ctx.const(np.zeros(host, out_dtype(node)))
    updates = ctx.op("Reshape", [src, ctx.ints(index.shape)])
    attrs = {} if unique else {"reduction": "add"}
    out = ctx.op("ScatterElements", [zeros, ctx.const(np.asarray(index, np.int64)), updates],
                 axis=axis, **attrs)
    return ctx.op("Reshape", [out, ctx.ints(shape)])


def _max_unpool(ctx, node, x, index, shape, nd):
    planes = int(np.prod(shape[:len(shape) - nd]))
    plane = int(np.prod(shape[len(shape) - nd:]))
    zeros = ctx.const(np.zeros((planes, plane), out_dtype(node)))
    rows = ctx.op("Reshape", [x, ctx.ints([planes, -1])])
    where = ctx.op("Reshape", [ctx.cast(index, node.inputs[1].dtype, np.int64),
                               ctx.ints([planes, -1])])
    out = ctx.op("ScatterElements", [zeros, where, rows], axis=1)
    return ctx.op("Reshape", [out, ctx.ints(shape)])


def _copy_from(ctx, node, x, src):
    src = ctx.cast(src, node.inputs[1].dtype, out_dtype(node))
    return ctx.op("Expand", [src, ctx.op("Shape", [x])])


def _fill_with(ctx, node, x, value):
    value = ctx.cast(value, node.inputs[1].dtype, out_dtype(node))
    return ctx.op("Expand", [value, ctx.op("Shape", [x])])


EXPORTERS = {
    "getitem": _getitem, "gather": _gather, "index_select": _index_select, "take": _take,
    "take_along_dim": _take_along_dim, "embedding": _embedding,
    "embedding_bag": _embedding_bag, "TakeRows": _take_rows,
    "OneHot": _one_hot, "Take": by_index_map, "TakeAlong": by_index_map,
    "PlaneGather": by_index_map, "PickAlong": _pick_along, "Put": _scatter("none"),
    "AddAt": _scatter("add"), "ScatterProd": _scatter("mul"),
    "ScatterExtreme": _scatter_extreme, "MaxUnpool": _max_unpool, "PutAlong": _put_along,
    "CopyFrom": _copy_from, "FillWith": _fill_with,
}
