"""ONNX convolution, pooling, normalization, dropout and padding operators as ember ops.

ONNX gives padding per side (``pads`` = all the begins, then all the ends) and may ask
for "SAME" padding; ember's ops take one symmetric padding per axis, so unequal sides
are padded explicitly first (``_pad_sides``).
"""

import numpy as np

import ember
import ember.nn.functional as F
from ember._errors import value_error
from ember.onnx._import_values import as_array, as_tensor, int_list, scalar

__all__ = ["OPS"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
_MAX_POOL = {1: F.max_pool1d, 2: F.max_pool2d}
_AVG_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d}
_PAD_MODES = ("constant", "reflect", "edge", "wrap")


def _pick(table, rank, node):
    if rank not in table:
        raise value_error(node.label, f"{rank}-D windows are not supported "
                                      f"(supported: {sorted(table)}-D)")
    return table[rank]


def _window(node, kernel):
    n = len(kernel)
    return node.attr("strides") or [1] * n, node.attr("dilations") or [1] * n


def _sides(node, x, kernel, strides, dilations):
    """Padding (begins, ends) per spatial axis, ``auto_pad`` resolved."""
    n = len(kernel)
    auto = node.attr("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations, strict=True):
            total = max(0, (-(-size // s) - 1) * s + (k - 1) * d + 1 - size)
            # SAME_UPPER puts the odd extra element at the end, SAME_LOWER at the start.
            begin = total // 2 if auto == "SAME_UPPER" else total - total // 2
            begins.append(begin)
            ends.append(total - begin)
        return begins, ends
    if auto == "VALID":
        return [0] * n, [0] * n
    pads = node.attr("pads") or [0] * (2 * n)
    return list(pads[:n]), list(pads[n:])


def _torch_pad(begins, ends):
    """ONNX's per-axis sides in the order ``F.pad`` wants: last axis first."""
    pad = []
    for begin, end in zip(reversed(begins), reversed(ends), strict=True):
        pad += [begin, end]
    return pad


def _pad_sides(x, begins, ends, kernel, value=0.0):
    """``(x, padding)``: symmetric padding the op can take itself, else x padded here."""
    if begins == ends and all(2 * p <= k for p, k in zip(begins, kernel, strict=True)):
        return x, begins
    return F.pad(x, _torch_pad(begins, ends), value=value), [0] * len(begins)


def _crop_windows(out, x, begins, strides, ceil):
    """Drop the windows that start in the end padding, as ONNX does in ceil mode.

    Once ``_pad_sides`` has padded the input itself, the op sees the end padding as
    input and, in ceil mode, may start a last window there.
    """
    if not ceil:
        return out
    index = [slice(None)] * 2
    for n, size, begin, stride in zip(out.shape[2:], x.shape[2:], begins, strides,
                                      strict=True):
        index.append(slice(0, n - 1 if (n - 1) * stride >= size + begin else n))
    return out[tuple(index)]


# ---- convolution ---------------------------------------------------------------------


def _conv(node, x, weight, bias=None):
    x, weight, bias = as_tensor(x), as_tensor(weight), as_tensor(bias)
    kernel = list(weight.shape[2:])
    strides, dilations = _window(node, kernel)
    begins, ends = _sides(node, x, [(k - 1) * d + 1 for k, d in zip(kernel, dilations)],
                          strides, [1] * len(kernel))
    if begins == ends:
        padding = begins
    else:
        x, padding = F.pad(x, _torch_pad(begins, ends)), [0] * len(kernel)
    conv = _pick(_CONV, len(kernel), node)
    return conv(x, weight, bias, strides, padding, dilations, node.attr("group", 1))


def _conv_transpose(node, x, weight, bias=None):
    x, weight, bias = as_tensor(x), as_tensor(weight), as_tensor(bias)
    kernel = list(weight.shape[2:])
    strides, dilations = _window(node, kernel)
    pads = node.attr("pads") or [0] * (2 * len(kernel))
    begins, ends = list(pads[:len(kernel)]), list(pads[len(kernel):])
    extra = list(node.attr("output_padding") or [0] * len(kernel))
    # Unequal sides: pad the smaller side only, and let output_padding grow the end.
    padding = [min(b, e) for b, e in zip(begins, ends, strict=True)]
    out = _pick(_CONV_T, len(kernel), node)(x, weight, bias, strides, padding, extra,
                                            node.attr("group", 1), dilations)
    crop = [b - p for b, p in zip(begins, padding, strict=True)]
    cut = [e - p for e, p in zip(ends, padding, strict=True)]
    if any(crop) or any(cut):
        index = (slice(None),) * 2 + tuple(
            slice(c, size - t) for c, t, size in zip(crop, cut, out.shape[2:], strict=True))
        out = out[index]
    return out


# ---- pooling -------------------------------------------------------------------------


def _max_pool(node, x):
    x = as_tensor(x)
    kernel = list(node.attr("kernel_shape"))
    strides, dilations = _window(node, kernel)
    begins, ends = _sides(node, x, kernel, strides, dilations)
    padded, padding = _pad_sides(x, begins, ends, kernel, value=float("-inf"))
    pool = _pick(_MAX_POOL, len(kernel), node)
    ceil = bool(node.attr("ceil_mode", 0))
    out = pool(padded, kernel, strides, padding, dilations, ceil)
    return out if padded is x else _crop_windows(out, x, begins, strides, ceil)


def _average_pool(node, x):
    x = as_tensor(x)
    kernel = list(node.attr("kernel_shape"))
    strides, _ = _window(node, kernel)
    begins, ends = _sides(node, x, kernel, strides, [1] * len(kernel))
    pool = _pick(_AVG_POOL, len(kernel), node)
    ceil, include = bool(node.attr("ceil_mode", 0)), bool(node.attr("count_include_pad", 0))
    padded, padding = _pad_sides(x, begins, ends, kernel)
    if padded is x:
        return pool(padded, kernel, strides, padding, ceil, include)
    out = pool(padded, kernel, strides, 0, ceil, True)
    if not include:
        # Padding that must not count: the mean of the zero-padded input over the mean of
        # a padded mask of ones is the mean over the real elements only.
        ones = F.pad(ember.ones_like(x[:1, :1]), _torch_pad(begins, ends))
        out = out / pool(ones, kernel, strides, 0, ceil, True)
    return _crop_windows(out, x, begins, strides, ceil)


def _global(reduce):
    def run(node, x):
        x = as_tensor(x)
        return reduce(x, tuple(range(2, x.ndim)), True)
    return run


# ---- normalization -------------------------------------------------------------------


def _batch_norm(node, x, scale, bias, mean, var):
    x = as_tensor(x)
    eps = node.attr("epsilon", 1e-5)
    if node.attr("training_mode", 0):
        return F.batch_norm(x, None, None, as_tensor(scale), as_tensor(bias), training=True,
                            eps=eps)
    return F.batch_norm(x, as_tensor(mean), as_tensor(var), as_tensor(scale),
                        as_tensor(bias), training=False, eps=eps)


def _layer_norm(node, x, scale, bias=None):
    x, scale, bias = as_tensor(x), as_tensor(scale), as_tensor(bias)
    shape = tuple(x.shape[node.attr("axis", -1) % x.ndim:])
    # ONNX lets Scale and B broadcast to the normalized shape.
    scale = scale if tuple(scale.shape) == shape else scale.expand(*shape)
    bias = bias if bias is None or tuple(bias.shape) == shape else bias.expand(*shape)
    return F.layer_norm(x, shape, scale, bias, node.attr("epsilon", 1e-5))


def _instance_norm(node, x, scale, bias):
    return F.instance_norm(as_tensor(x), weight=as_tensor(scale), bias=as_tensor(bias),
                           eps=node.attr("epsilon", 1e-5))


# ---- dropout and padding -------------------------------------------------------------


def _dropout(node, x, ratio=None, training_mode=None):
    x = as_tensor(x)
    p = node.attr("ratio", 0.5) if node.opset < 12 else (
        0.5 if ratio is None else scalar(ratio, node, "ratio"))
    # ONNX drops only when told to by training_mode (inference graphs leave it out).
    training = training_mode is not None and bool(scalar(training_mode, node, "training"))
    out = F.dropout(x, p, training=True) if training and p > 0 else x
    if node.num_outputs < 2:
        return out
    mask = out != 0 if training and p > 0 else ember.ones_like(x).bool()
    return out, mask


def _pad(node, x, pads=None, value=None, axes=None):
    x = as_tensor(x)
    if node.opset < 11:
        pads, fill = list(node.attr("pads")), node.attr("value", 0.0)
    else:
        pads = int_list(pads, node, "pads")
        fill = 0.0 if value is None else scalar(value, node, "constant_value")
    axes = list(range(x.ndim)) if axes is None else [a % x.ndim for a in
                                                      int_list(axes, node, "axes")]
    begins, ends = [0] * x.ndim, [0] * x.ndim
    for i, axis in enumerate(axes):
        begins[axis], ends[axis] = pads[i], pads[i + len(axes)]
    mode = node.attr("mode", "constant")
    if mode != "constant":
        return _pad_by_index(x, begins, ends, mode)
    # F.pad takes sides from the last axis back to the first padded one.
    first = next((a for a in range(x.ndim) if begins[a] or ends[a]), x.ndim)
    return F.pad(x, _torch_pad(begins[first:], ends[first:]), value=fill)


def _pad_by_index(x, begins, ends, mode):
    """Reflect, edge or wrap padding on any axes, as a gather of source positions."""
    for axis, (begin, end) in enumerate(zip(begins, ends, strict=True)):
        if not (begin or end):
            continue
        n = x.shape[axis]
        source = np.arange(-begin, n + end)
        if mode == "edge":
            source = np.clip(source, 0, n - 1)
        elif mode == "wrap":
            source = source % n
        else:
            # reflect: mirror about the first and last elements (period 2n - 2).
            period = max(2 * n - 2, 1)
            source = np.abs(source) % period
            source = np.where(source >= n, period - source, source)
        x = x[(slice(None),) * axis + (source,)]
    return x


# ---- resizing ------------------------------------------------------------------------

_LINEAR_MODES = {3: "linear", 4: "bilinear", 5: "trilinear"}


def resize_reason(node):
    """Why F.interpolate cannot compute this Resize, or None (PyTorch's exports can)."""
    mode = node.attr("mode", "nearest")
    transform = node.attr("coordinate_transformation_mode", "half_pixel")
    if node.opset < 11:
        return "the opset-10 form"
    if node.attr("antialias", 0) or node.attr("axes") is not None or node.attr(
            "keep_aspect_ratio_policy", "stretch") != "stretch":
        return "antialias, axes or keep_aspect_ratio_policy"
    if mode == "nearest":
        ok = transform == "asymmetric" and node.attr("nearest_mode") == "floor"
        return None if ok else "nearest modes other than asymmetric with floor"
    if transform not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        return f"coordinate_transformation_mode '{transform}'"
    if mode == "cubic" and (node.attr("cubic_coeff_a", -0.75) != -0.75 or
                            node.attr("exclude_outside", 0)):
        return "cubic_coeff_a other than -0.75 or exclude_outside"
    return None


def _resize(node, x, roi=None, scales=None, sizes=None):
    x = as_tensor(x)
    mode = node.attr("mode", "nearest")
    if sizes is not None and as_array(sizes, node, "sizes").size:
        target = {"size": int_list(sizes, node, "sizes")[2:]}
    else:
        factors = [float(f) for f in as_array(scales, node, "scales").reshape(-1)]
        if factors[:2] != [1.0, 1.0]:
            raise value_error(node.label, f"only spatial axes can be resized, got scales "
                                          f"{factors}")
        target = {"scale_factor": factors[2:]}
    if mode == "nearest":
        return F.interpolate(x, mode="nearest", **target)
    corners = node.attr("coordinate_transformation_mode", "half_pixel") == "align_corners"
    torch_mode = "bicubic" if mode == "cubic" else _pick(_LINEAR_MODES, x.ndim, node)
    return F.interpolate(x, mode=torch_mode, align_corners=corners, **target)


OPS = {
    "Resize": _resize,
    "Conv": _conv, "ConvTranspose": _conv_transpose,
    "MaxPool": _max_pool, "AveragePool": _average_pool,
    "GlobalAveragePool": _global(lambda x, d, k: ember.mean(x, d, k)),
    "GlobalMaxPool": _global(lambda x, d, k: ember.amax(x, d, k)),
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm,
    "InstanceNormalization": _instance_norm, "Dropout": _dropout, "Pad": _pad,
}
