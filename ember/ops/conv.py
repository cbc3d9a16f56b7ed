"""Convolution: ``conv1d``/``conv2d``/``conv3d``, and the three Ops every convolution uses.

A convolution is bilinear in its input and weight, so three Ops close under
differentiation, each one's backward made of the others (gradients of any order):

- ``Conv(x, w)``: the cross-correlation;
- ``ConvTranspose(y, w)``: its adjoint in ``x`` (the gradient of the input, and
  ``conv_transpose*d``);
- ``ConvWeight(x, g)``: its adjoint in ``w`` (the gradient of the weight).

The kernels are im2col + BLAS matmuls, channels-last where that helps, a compiled
col2im, and for convs of stride 1 or 2 with few channels one small BLAS product per tap
with no columns (``ember.ops._im2col``). Benchmark, forward + backward in float32 on one
thread (CPU time, median of 21 runs interleaved with PyTorch's), as a multiple of PyTorch
2.13's time: LeNet's conv(6, 16, 5) on 64x6x14x14 1.18x, ResNet-8's 3x3 convs 16->16 on
32x16x32x32 1.08x, 32->32 on 16x16 1.27x, 64->64 on 8x8 1.30x, 16->32 with stride 2
1.06x; LeNet's first conv(1, 6, 5) (no input gradient) 0.88x (a busy machine: 5-10%).
"""

import collections
import numbers
import operator

import numpy as np

from ember._errors import fmt_shape, runtime_error, shape_error, type_error
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.ops import _im2col
from ember.tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d"]

Geometry = collections.namedtuple("Geometry", "stride pads dilation groups")
Geometry.__doc__ = """Where a kernel is applied: per spatial dim ``stride``, ``dilation`` and
``(before, after)`` zero ``pads``; ``groups`` splits the channels."""


def _bias_grad(grad_out, need):
    """The bias's gradient: ``grad_out`` summed over all dims but the channels'.

    Outside ``create_graph`` (no graph to record), a contiguous float gradient is summed
    by one product with a vector of ones and a sum over the batch: NumPy's reduction over
    dims (0, 2, 3) took 56 us on LeNet's (64, 6, 28, 28) gradient, the product 18 us.
    """
    if not need:
        return None
    g = grad_out._data
    if (GradMode.enabled or g.ndim < 3 or g.size == 0 or g.dtype.kind != "f"
            or g.itemsize < 4 or not g.flags.c_contiguous):
        return grad_out.sum((0,) + tuple(range(2, grad_out.ndim)))
    n, c = g.shape[:2]
    per_channel = g.reshape(n * c, -1) @ np.ones(g.size // (n * c), g.dtype)
    return Tensor._make(per_channel.reshape(n, c).sum(0))


def _fitted(geom, size, outs, ksize):
    """``geom`` with the trailing pads set so a conv of ``size`` gives exactly ``outs``."""
    pads = tuple((lo, (o - 1) * s + d * (k - 1) + 1 - lo - n) for (lo, _), o, s, d, k, n in
                 zip(geom.pads, outs, geom.stride, geom.dilation, ksize, size))
    return geom._replace(pads=pads)


class Conv(Op):
    """Cross-correlation of ``x (N, C, *S)`` with ``w (C_out, C/groups, *K)``, plus bias."""

    def forward(self, x, w, b=None, geom=None):
        self.geom = geom
        self.save_inputs(0, 1)
        return _im2col.conv(x, w, *geom, bias=b)

    def backward(self, grad_out):
        x, w = self.saved_inputs
        need = self.needs_input_grad
        grad_x = grad_w = None
        if need[0]:
            grad_x = ConvTranspose.apply(grad_out, w, geom=self.geom, size=x.shape[2:])
        if need[1]:
            grad_w = ConvWeight.apply(x, grad_out, geom=self.geom, ksize=w.shape[2:])
        return (grad_x, grad_w) + ((_bias_grad(grad_out, need[2]),) if len(need) > 2 else ())

    def op_name(self):
        return f"conv{len(self.geom.stride)}d"


class ConvTranspose(Op):
    """Adjoint of ``Conv`` in its input: ``y (N, C, *I)``, ``w (C, C_out/groups, *K)``.

    ``size`` is the spatial size of the output (it fixes ``output_padding``).
    """

    def forward(self, y, w, b=None, geom=None, size=None):
        self.geom = _fitted(geom, size, y.shape[2:], w.shape[2:])
        self.save_inputs(0, 1)
        return _im2col.conv_transpose(y, w, *geom, size=size, bias=b)

    def backward(self, grad_out):
        y, w = self.saved_inputs
        need = self.needs_input_grad
        grad_y = grad_w = None
        if need[0]:
            grad_y = Conv.apply(grad_out, w, geom=self.geom)
        if need[1]:
            grad_w = ConvWeight.apply(grad_out, y, geom=self.geom, ksize=w.shape[2:])
        return (grad_y, grad_w) + ((_bias_grad(grad_out, need[2]),) if len(need) > 2 else ())

    def op_name(self):
        return f"conv_transpose{len(self.geom.stride)}d"


class ConvWeight(Op):
    """Adjoint of ``Conv`` in its weight: correlates ``x (N, C, *S)`` with ``g (N, C_out, *O)``.

    Returns ``(C_out, C/groups, *ksize)``.
    """

    def forward(self, x, g, geom=None, ksize=None):
        self.geom, self.in_size = geom, x.shape[2:]
        self.save_inputs(0, 1)
        return _im2col.conv_weight(x, g, ksize, *geom)

    def backward(self, grad_out):
        x, g = self.saved_inputs
        need = self.needs_input_grad
        grad_x = ConvTranspose.apply(g, grad_out, geom=self.geom, size=self.in_size) \
            if need[0] else None
        grad_g = Conv.apply(x, grad_out, geom=self.geom) if need[1] else None
        return grad_x, grad_g


# --- argument checks shared with conv_transpose ------------------------------------------


def expand_arg(value, nd, what, op):
    """An int or a sequence as a tuple of ``nd`` ints (PyTorch's ``_pair``/``_triple``)."""
    try:
        return (operator.index(value),) * nd
    except TypeError:
        pass
    try:
        values = tuple(operator.index(v) for v in value)
    except TypeError:
        values = ()
    if len(values) in (1, nd):
        return values * (nd // len(values))
    raise shape_error(op, f"expected {what} to be a single integer value or a list of {nd} "
                          f"values to match the convolution dimensions, but got {what}={value!r}")


def check_geometry(op, stride, padding, dilation, groups):
    """PyTorch's checks of the non-shape arguments."""
    if any(s <= 0 for s in stride):
        raise shape_error(op, f"non-positive stride is not supported (stride={stride})")
    if any(p < 0 for p in padding):
        raise shape_error(op, f"negative padding is not supported (padding={padding})")
    if any(d <= 0 for d in dilation):
        raise shape_error(op, f"non-positive dilation is not supported (dilation={dilation})")
    if not isinstance(groups, numbers.Integral) or groups <= 0:
        raise shape_error(op, f"non-positive groups is not supported (groups={groups})")


def check_operands(op, nd, input, weight, bias, in_channels_of_weight):
    """Ranks and dtypes of the operands; ``in_channels_of_weight`` names the weight layout."""
    for name, t in (("input", input), ("weight", weight)) + (("bias", bias),) * (bias is not None):
        if not isinstance(t, Tensor):
            raise type_error(op, f"{name} must be a Tensor, not {type(t).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise shape_error(op, f"expected a {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
                              f"but got shape {fmt_shape(input.shape)}")
    if weight.ndim != nd + 2:
        raise shape_error(op, f"expected a {nd + 2}-D weight ({in_channels_of_weight}, "
                              f"*kernel_size), but got shape {fmt_shape(weight.shape)}")
    if input.dtype == weight.dtype and (bias is None or bias.dtype == input.dtype):
        if input._data.dtype.kind == "b":
            raise type_error(op, "not implemented for bool tensors")
        return
    what = "weight" if input.dtype != weight.dtype else "bias"
    other = weight if what == "weight" else bias
    raise runtime_error(op, f"input type ({input.dtype}) and {what} type ({other.dtype}) "
                            f"should be the same; cast one of them (e.g. input.to({other.dtype}))")


def check_bias(op, bias, channels, weight):
    if bias is not None and tuple(bias.shape) != (channels,):
        raise shape_error(op, f"expected bias to be 1-dimensional with {channels} elements "
                              f"(weight of shape {fmt_shape(weight.shape)}), but got bias of "
                              f"shape {fmt_shape(bias.shape)}")


def check_groups(op, groups, weight):
    if weight.shape[0] == 0 or weight.shape[0] % groups:
        raise shape_error(op, f"with groups={groups}, the weight's dimension 0 must be a "
                              f"positive multiple of {groups}, but the weight has shape "
                              f"{fmt_shape(weight.shape)}")


def run_batched(fn, input, nd):
    """Call ``fn`` on a batch, adding and removing the batch dim of an unbatched input."""
    if input.ndim == nd + 2:
        return fn(input)
    return fn(input.unsqueeze(0)).squeeze(0)


# --- conv ----------------------------------------------------------------------------------


def _pads(op, padding, nd, ksize, stride, dilation):
    """``padding`` (int, tuple, ``'valid'``, ``'same'``) as ``(before, after)`` pairs."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise runtime_error(op, f"invalid padding string {padding!r}; expected 'valid', "
                                    "'same', an int or a tuple of ints")
        if any(s != 1 for s in stride):
            raise runtime_error(op, "padding='same' is not supported for strided convolutions "
                                    f"(stride={stride})")
        # Like PyTorch: an odd total (even kernel) puts the extra zero after.
        totals = [d * (k - 1) for k, d in zip(ksize, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in expand_arg(padding, nd, "padding", op))


def _check_shapes(op, input, weight, geom):
    nd = weight.ndim - 2
    groups, c_in = geom.groups, input.shape[-nd - 1]
    check_groups(op, groups, weight)
    if c_in != weight.shape[1] * groups:
        raise shape_error(op, f"input has {c_in} channels (shape {fmt_shape(input.shape)}) but "
                              f"weight expects {weight.shape[1] * groups} (shape "
                              f"{fmt_shape(weight.shape)}) with groups={groups}")
    ksize, size = weight.shape[2:], input.shape[-nd:]
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(size, geom.pads))
    reach = tuple(d * (k - 1) + 1 for k, d in zip(ksize, geom.dilation))
    if any(r > p for r, p in zip(reach, padded)):
        raise shape_error(op, f"the kernel spans {fmt_shape(reach)} (kernel size "
                              f"{fmt_shape(ksize)}, dilation {fmt_shape(geom.dilation)}), which "
                              f"is larger than the padded input size {fmt_shape(padded)} (input "
                              f"shape {fmt_shape(input.shape)})")


# Checked geometries by call signature: at batch 1 the argument checks cost as much as
# the arithmetic (a third of LeNet's inference call), and a model repeats its calls.
_CHECKED = {}


def _signature(nd, input, weight, bias, stride, padding, dilation, groups):
    """A hashable key for the call, or None (not Tensors, or arguments other than ints).

    Only exact ints (or tuples of them, or a padding string) make a key, since ``1.0 == 1``
    would otherwise let a float reuse the checks an int passed.
    """
    plain = (stride, padding, dilation, groups)
    if not all(type(v) is int or type(v) is str or
               (type(v) is tuple and all(type(e) is int for e in v)) for v in plain):
        return None
    try:
        return (nd, input._data.shape, input._data.dtype, weight._data.shape,
                weight._data.dtype, None if bias is None else (bias._data.shape, bias._data.dtype),
                ) + plain
    except AttributeError:
        return None


def _geometry(nd, input, weight, bias, stride, padding, dilation, groups):
    """The call's ``Geometry`` after PyTorch's argument checks (raising on bad input)."""
    key = _signature(nd, input, weight, bias, stride, padding, dilation, groups)
    geom = _CHECKED.get(key) if key is not None else None
    if geom is not None:
        return geom
    op = f"conv{nd}d"
    check_operands(op, nd, input, weight, bias, "out_channels, in_channels/groups")
    stride = expand_arg(stride, nd, "stride", op)
    dilation = expand_arg(dilation, nd, "dilation", op)
    pads = _pads(op, padding, nd, weight.shape[2:], stride, dilation)
    check_geometry(op, stride, [lo for lo, _ in pads], dilation, groups)
    geom = Geometry(stride, pads, dilation, groups)
    check_bias(op, bias, weight.shape[0], weight)
    _check_shapes(op, input, weight, geom)
    if key is not None and len(_CHECKED) < 1024:
        _CHECKED[key] = geom
    return geom


def _conv(nd, input, weight, bias, stride, padding, dilation, groups):
    geom = _geometry(nd, input, weight, bias, stride, padding, dilation, groups)

    def batched(x):
        if bias is None:
            return Conv.apply(x, weight, geom=geom)
        return Conv.apply(x, weight, bias, geom=geom)

    return run_batched(batched, input, nd)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation over an input of several channels.

    ``out[n, o, l] = bias[o] + sum_{c, k} weight[o, c, k] * x[n, g(o) * C/groups + c,
    l * stride + k * dilation - pad]`` (zero outside the input).

    Args:
        input: ``(N, C_in, L)``, or ``(C_in, L)`` unbatched.
        weight: ``(C_out, C_in / groups, kL)``.
        bias: optional ``(C_out,)``.
        stride, dilation: an int or a 1-tuple.
        padding: an int, a 1-tuple, ``'valid'`` (none) or ``'same'`` (output length equals
            input length; stride 1 only; with an even kernel the extra zero goes right).
        groups: split the channels in ``groups`` independent convolutions; both channel
            counts must be divisible by it (``groups == C_in`` is a depthwise conv).

    Returns:
        ``(N, C_out, L_out)`` with ``L_out = (L + 2 pad - dilation (kL - 1) - 1) // stride + 1``.
    """
    return _conv(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation over an input of several channels (``F.conv2d``).

    ``out[n, o, i, j] = bias[o] + sum_{c, p, q} weight[o, c, p, q] *
    x[n, g(o) * C/groups + c, i * sH + p * dH - padH, j * sW + q * dW - padW]``.

    Args:
        input: ``(N, C_in, H, W)``, or ``(C_in, H, W)`` unbatched.
        weight: ``(C_out, C_in / groups, kH, kW)``.
        bias: optional ``(C_out,)``.
        stride, dilation: an int or a pair.
        padding: an int, a pair, ``'valid'`` or ``'same'`` (stride 1; an even kernel puts
            the extra zero at the bottom/right, as PyTorch does).
        groups: channel groups (``groups == C_in`` is a depthwise conv).

    Returns:
        ``(N, C_out, H_out, W_out)``, ``H_out = (H + 2 padH - dH (kH - 1) - 1) // sH + 1``.

    Example:
        >>> import ember
        >>> x, w = ember.ones(1, 1, 4, 4), ember.ones(2, 1, 3, 3)
        >>> ember.nn.functional.conv2d(x, w, padding=1).shape
        ember.Size([1, 2, 4, 4])
    """
    return _conv(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D cross-correlation: ``conv2d`` with a depth dim.

    Args:
        input: ``(N, C_in, D, H, W)``, or ``(C_in, D, H, W)`` unbatched.
        weight: ``(C_out, C_in / groups, kD, kH, kW)``.
        bias, stride, padding, dilation, groups: as in ``conv2d`` (triples).

    Returns:
        ``(N, C_out, D_out, H_out, W_out)``.
    """
    return _conv(3, input, weight, bias, stride, padding, dilation, groups)


FUNCTIONAL = ["conv1d", "conv2d", "conv3d"]

METHODS = {}
