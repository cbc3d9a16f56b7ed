"""Exporters of the neural-network ops: linear algebra, convolution, pooling, resampling,
normalization, attention and padding."""

import numpy as np
from onnx import numpy_helper

from ember.onnx._export_math import as_out, num, out_dtype
from ember.ops._windows import StridedWindows

__all__ = ["EXPORTERS"]


# ---- linear algebra ----------------------------------------------------------------------

def _linear(ctx, node, x, w, b=None):
    x, w, *rest = as_out(ctx, node, [x, w] + ([b] if b is not None else []))
    if len(node.inputs[0].shape) == 2:
        return ctx.op("Gemm", [x, w] + rest, transB=1)
    out = ctx.op("MatMul", [x, ctx.op("Transpose", [w], perm=[1, 0])])
    return ctx.op("Add", [out, rest[0]]) if rest else out


def _matmul(ctx, node, a, b):
    return ctx.op("MatMul", as_out(ctx, node, [a, b]))


def _einsum(ctx, node, *xs, equation):
    return ctx.op("Einsum", as_out(ctx, node, list(xs)), equation=equation.replace(" ", ""))


def _block_diag(ctx, node, *xs, dtype):
    mats = []
    for x, v in zip(as_out(ctx, node, list(xs)), node.inputs):
        rows, cols = (v.shape if len(v.shape) == 2 else (1, int(np.prod(v.shape))))
        mats.append((ctx.op("Reshape", [x, ctx.ints([rows, cols])]), cols))
    total = sum(c for _, c in mats)
    pieces, left = [], 0
    for m, cols in mats:
        pads = ctx.ints([0, left, 0, total - left - cols])
        pieces.append(ctx.op("Pad", [m, pads]))
        left += cols
    return ctx.op("Concat", pieces, axis=0)


# ---- convolution -------------------------------------------------------------------------

def _conv(ctx, node, x, w, b=None, geom=None):
    inputs = as_out(ctx, node, [x, w] + ([b] if b is not None else []))
    return ctx.op("Conv", inputs, strides=list(geom.stride), dilations=list(geom.dilation),
                  group=geom.groups, pads=[p[0] for p in geom.pads] + [p[1] for p in geom.pads])


def _conv_transpose(ctx, node, y, w, b=None, geom=None, size=None):
    y, w = as_out(ctx, node, [y, w])
    kernel = node.inputs[1].shape[2:]
    ins = node.inputs[0].shape[2:]
    begin, end, grow = [], [], []
    for (lo, _), s, d, k, n, want in zip(geom.pads, geom.stride, geom.dilation, kernel, ins,
                                         size):
        hi = (n - 1) * s + d * (k - 1) + 1 - lo - want
        begin.append(lo)
        end.append(max(hi, 0))
        grow.append(max(-hi, 0))
    out = ctx.op("ConvTranspose", [y, w], strides=list(geom.stride),
                 dilations=list(geom.dilation), group=geom.groups, pads=begin + end)
    if any(grow):
        # Outputs past the last window's reach get no kernel term (only the bias); ONNX's
        # output_padding must stay below the stride, so zeros are padded on instead.
        out = ctx.op("Pad", [out, ctx.ints([0] * (len(grow) + 2) + [0, 0] + grow)])
    if b is None:
        return out
    (b,) = [ctx.cast(b, node.inputs[2].dtype, out_dtype(node))]
    bias = ctx.op("Reshape", [b, ctx.ints([-1] + [1] * len(kernel))])
    return ctx.op("Add", [out, bias])


# ---- pooling -----------------------------------------------------------------------------

def _batched(ctx, x, rank, nd):
    """Pooling operators want (N, C, *spatial): add the missing leading axes."""
    missing = nd + 2 - rank
    return (ctx.unsqueeze(x, list(range(missing))), missing) if missing else (x, 0)


def _unbatched(ctx, x, missing):
    return ctx.squeeze(x, list(range(missing))) if missing else x


def _max_pool(ctx, node, x, windows, need_index, return_indices):
    nd = len(windows.in_size)
    x, missing = _batched(ctx, x, len(node.inputs[0].shape), nd)
    if not isinstance(windows, StridedWindows):
        if not return_indices:
            return _unbatched(ctx, _adaptive_max(ctx, x, windows, nd), missing)
        out, index = _adaptive_max(ctx, x, windows, nd, with_index=True,
                                   floating=out_dtype(node).kind == "f")
        return _unbatched(ctx, out, missing), _unbatched(ctx, index, missing)
    pads = list(windows.padding) + list(windows.pad_right)
    attrs = {"kernel_shape": list(windows.kernel), "strides": list(windows.stride),
             "dilations": list(windows.dilation), "pads": pads}
    if not return_indices:
        return _unbatched(ctx, ctx.op("MaxPool", [x], **attrs), missing)
    out, index = ctx.op("MaxPool", [x], outputs=2, **attrs)
    # ONNX counts positions over the whole tensor, PyTorch within each plane.
    plane = int(np.prod(windows.in_size))
    index = ctx.op("Mod", [index, ctx.scalar(plane, np.int64)], fmod=0)
    return _unbatched(ctx, out, missing), _unbatched(ctx, index, missing)


def _adaptive_max(ctx, x, windows, nd, with_index=False, floating=True):
    """The max over each adaptive window: the elementwise max of one gathered tensor per
    window offset; with the per-plane position of the first maximum when asked."""
    candidates = [(x, np.zeros((), np.int64))]
    strides = [int(np.prod(windows.in_size[d + 1:])) for d in range(nd)]
    for dim, coords in enumerate(windows.coords()):
        axis = dim - nd
        shape = (-1,) + (1,) * (nd - 1 - dim)
        candidates = [(ctx.op("Gather", [c, ctx.const(np.asarray(row, np.int64))], axis=axis),
                       where + np.asarray(row, np.int64).reshape(shape) * strides[dim])
                      for c, where in candidates for row in coords]
    if not with_index:
        values = [c for c, _ in candidates]
        return values[0] if len(values) == 1 else ctx.op("Max", values)
    best, index = candidates[0][0], ctx.const(candidates[0][1])
    for value, where in candidates[1:]:
        # Strictly greater (or NaN): the first maximum in window order wins, as in ember.
        better = ctx.op("Greater", [value, best])
        if floating:
            better = ctx.op("Or", [better, ctx.op("IsNaN", [value])])
        best = ctx.op("Where", [better, value, best])
        index = ctx.op("Where", [better, ctx.const(where), index])
    return best, ctx.op("Expand", [index, ctx.op("Shape", [best])])


def _avg_pool(ctx, node, x, windows, divisor):
    nd = len(windows.kernel)
    x, missing = _batched(ctx, x, len(node.inputs[0].shape), nd)
    pads = [0, 0] + list(windows.padding) + [0, 0] + list(windows.pad_right)
    if any(pads):
        x = ctx.op("Pad", [x, ctx.ints(pads)])
    out = ctx.op("AveragePool", [x], kernel_shape=list(windows.kernel),
                 strides=list(windows.stride))
    count = int(np.prod(windows.kernel))
    divisor = np.asarray(divisor)
    if not (divisor.ndim == 0 and divisor == count):
        # Window sums divided by the op's divisor (a number or one per output position).
        factor = (count / divisor.astype(np.float64)).astype(out_dtype(node))
        out = ctx.op("Mul", [out, ctx.const(factor)])
    return _unbatched(ctx, out, missing)


def _empty_pool(ctx, node, x, shape, with_index):
    empty = ctx.const(np.zeros(shape, out_dtype(node)))
    if with_index:
        return empty, ctx.const(np.zeros(shape, np.int64))
    return empty


def _resample(ctx, node, x, maps):
    for m in maps:
        x = _axis_taps(ctx, node, x, m)
    return x if maps else ctx.op("Identity", [x])


def _axis_taps(ctx, node, x, m):
    """``out[i] = sum_t w[t, i] * x[idx[t, i]]`` along ``m.axis`` (``AxisTaps``)."""
    bcast = (-1,) + (1,) * (-m.axis - 1)
    total = None
    for t in range(len(m.idx)):
        tap = ctx.op("Gather", [x, ctx.const(np.asarray(m.idx[t], np.int64))], axis=m.axis)
        if m.w is not None:
            tap = ctx.op("Mul", [tap, ctx.const(m.w[t].astype(out_dtype(node)).reshape(bcast))])
        if m.valid is not None and not m.valid[t].all():
            keep = ctx.const(m.valid[t].reshape(bcast))
            tap = ctx.op("Where", [keep, tap, num(ctx, node, 0)])
        total = tap if total is None else ctx.op("Add", [total, tap])
    return total


# ---- normalization, attention, padding ---------------------------------------------------

def _normalize(ctx, node, x, *affine, layout, stats=None, running=None):
    x, *affine = as_out(ctx, node, [x, *affine])
    xv = x
    if layout.view:  # group norm: its view holds the batch size
        twin = ctx.twin(node).params["layout"].view
        view = ctx.shape_tensor(layout.view, twin, f"group norm at {node.where}", True)
        xv = ctx.op("Reshape", [x, view])
    y = _standardized(ctx, node, xv, layout, stats)
    if layout.view:
        y = ctx.op("Reshape", [y, ctx.op("Shape", [x])])
    affine = iter(affine)
    wshape = ctx.ints(layout.wshape)
    if layout.has_w:
        y = ctx.op("Mul", [y, ctx.op("Reshape", [next(affine), wshape])])
    if layout.has_b:
        y = ctx.op("Add", [y, ctx.op("Reshape", [next(affine), wshape])])
    return y


def _standardized(ctx, node, xv, layout, stats):
    """``(x - mean) * invstd`` with the batch's statistics, or the given ``stats``."""
    if stats is not None:  # eval-mode batch norm: (mean, invstd) arrays
        dtype = out_dtype(node)
        xc = ctx.op("Sub", [xv, ctx.const(np.asarray(stats[0], dtype))]) if layout.center \
            else xv
        return ctx.op("Mul", [xc, ctx.const(np.asarray(stats[1], dtype))])
    axes = list(layout.axes)
    xc = xv
    if layout.center:
        xc = ctx.op("Sub", [xv, ctx.reduce("ReduceMean", xv, axes, keepdims=True)])
    var = ctx.reduce("ReduceMean", ctx.op("Mul", [xc, xc]), axes, keepdims=True)
    std = ctx.op("Sqrt", [ctx.op("Add", [var, num(ctx, node, layout.eps)])])
    return ctx.op("Mul", [xc, ctx.op("Reciprocal", [std])])


def _attention(ctx, node, q, k, v, *bias, scale, keep, causal=False):
    q, k, v, *bias = as_out(ctx, node, [q, k, v, *bias])
    rank = len(node.inputs[1].shape)
    return _attend(ctx, node, q, k, v, bias, rank, scale, keep, causal)


def _packed_attention(ctx, node, qkv, *bias, heads, batch_first, scale, causal):
    """Heads of the packed ``(N, L, 3E)`` projection (``(L, N, 3E)``), attended, merged."""
    qkv, *bias = as_out(ctx, node, [qkv, *bias])
    split = ctx.op("Reshape", [qkv, ctx.ints([0, 0, 3, heads, -1])])
    split = ctx.op("Transpose", [split], perm=[2, 0, 3, 1, 4] if batch_first else [2, 1, 3, 0, 4])
    q, k, v = ctx.split(split, [1, 1, 1], axis=0)
    q, k, v = (ctx.op("Squeeze", [x, ctx.ints([0])]) for x in (q, k, v))
    out = _attend(ctx, node, q, k, v, bias, 4, scale, None, causal)
    out = ctx.op("Transpose", [out], perm=[0, 2, 1, 3] if batch_first else [2, 0, 1, 3])
    return ctx.op("Reshape", [out, ctx.ints([0, 0, -1])])


def _attend(ctx, node, q, k, v, bias, rank, scale, keep, causal):
    """``dropout(softmax(q k^T * scale + bias)) v`` on ONNX names (``bias`` a list)."""
    perm = list(range(rank - 2)) + [rank - 1, rank - 2]
    s = ctx.op("MatMul", [q, ctx.op("Transpose", [k], perm=perm)])
    s = ctx.op("Mul", [s, num(ctx, node, scale)])
    if causal:
        # -inf above the diagonal, built from the run-time sizes (any sequence length).
        rows = ctx.op("Shape", [q], start=-2, end=-1)
        cols = ctx.op("Shape", [k], start=-2, end=-1)
        fill = numpy_helper.from_array(np.array([-np.inf], out_dtype(node)))
        full = ctx.op("ConstantOfShape", [ctx.op("Concat", [rows, cols], axis=0)], value=fill)
        s = ctx.op("Add", [s, ctx.op("Trilu", [full, ctx.scalar(1, np.int64)], upper=1)])
    if bias:
        s = ctx.op("Add", [s, bias[0]])
    probs = ctx.op("Softmax", [s], axis=-1)
    # A row whose every key is masked gets zero weights ("safe softmax"), not NaN.
    top = ctx.reduce("ReduceMax", s, [-1], keepdims=True)
    dead = ctx.op("Equal", [top, num(ctx, node, -np.inf)])
    probs = ctx.op("Where", [dead, num(ctx, node, 0), probs])
    if keep is not None:
        probs = ctx.op("Mul", [probs, ctx.const(np.asarray(keep, out_dtype(node)))])
    return ctx.op("MatMul", [probs, v])


def _constant_pad(ctx, node, x, pads, value):
    lead = len(node.inputs[0].shape) - len(pads)
    begin = [0] * lead + [lo for lo, _ in pads]
    end = [0] * lead + [hi for _, hi in pads]
    fill = ctx.scalar(value, out_dtype(node))
    return ctx.op("Pad", [x, ctx.ints(begin + end), fill], mode="constant")


EXPORTERS = {
    "Linear": _linear, "MatMul": _matmul, "Einsum": _einsum, "BlockDiag": _block_diag,
    "Conv": _conv, "ConvTranspose": _conv_transpose, "MaxPool": _max_pool,
    "AvgPool": _avg_pool, "EmptyPool": _empty_pool, "Resample": _resample,
    "Normalize": _normalize, "Attention": _attention, "PackedAttention": _packed_attention,
    "ConstantPad": _constant_pad,
}
