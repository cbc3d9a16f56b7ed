"""Transposed convolution (``conv_transpose1d/2d/3d``): the adjoint of ``conv`` in its input.

It scatters every input position through the kernel into a larger output (the
"fractionally strided" convolution that upsamples in decoders and GANs). The Op is
``ember.ops.conv.ConvTranspose``, the same one that computes a convolution's input
gradient, so its own gradients are ``Conv`` and ``ConvWeight``.
"""

from ember._errors import fmt_shape, shape_error, type_error
from ember.ops.conv import (
    ConvTranspose,
    Geometry,
    check_bias,
    check_geometry,
    check_groups,
    check_operands,
    expand_arg,
    run_batched,
)

__all__ = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]


def _output_size(op, input, weight, geom, output_padding):
    """``(I - 1) * stride - 2 * padding + dilation * (K - 1) + output_padding + 1`` per dim."""
    for o, s, d in zip(output_padding, geom.stride, geom.dilation):
        if o < 0 or (o >= s and o >= d):
            raise shape_error(op, f"output padding must be smaller than either stride or "
                                  f"dilation, but got output_padding={output_padding}, "
                                  f"stride={geom.stride}, dilation={geom.dilation}")
    spatial = input.shape[-len(geom.stride):]
    size = tuple((i - 1) * s - lo - hi + d * (k - 1) + o + 1 for i, s, (lo, hi), d, k, o in
                 zip(spatial, geom.stride, geom.pads, geom.dilation, weight.shape[2:],
                     output_padding))
    if any(s <= 0 for s in size):
        raise shape_error(op, f"the output size {fmt_shape(size)} is too small (input shape "
                              f"{fmt_shape(input.shape)}, weight shape {fmt_shape(weight.shape)}, "
                              f"padding {tuple(lo for lo, _ in geom.pads)})")
    return size


def _conv_transpose(nd, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):
    op = f"conv_transpose{nd}d"
    check_operands(op, nd, input, weight, bias, "in_channels, out_channels/groups")
    if isinstance(padding, str):
        raise type_error(op, f"padding must be an int or a tuple of ints, not {padding!r}")
    stride = expand_arg(stride, nd, "stride", op)
    padding = expand_arg(padding, nd, "padding", op)
    dilation = expand_arg(dilation, nd, "dilation", op)
    output_padding = expand_arg(output_padding, nd, "output_padding", op)
    check_geometry(op, stride, padding, dilation, groups)
    check_groups(op, groups, weight)
    geom = Geometry(stride, tuple((p, p) for p in padding), dilation, groups)
    check_bias(op, bias, weight.shape[1] * groups, weight)

    c_in = input.shape[-nd - 1]
    if c_in != weight.shape[0]:
        raise shape_error(op, f"input has {c_in} channels (shape {fmt_shape(input.shape)}) "
                              f"but weight expects {weight.shape[0]} (shape "
                              f"{fmt_shape(weight.shape)}): a transposed conv's weight is "
                              "(in_channels, out_channels/groups, *kernel_size)")
    size = _output_size(op, input, weight, geom, output_padding)

    def batched(x):
        if bias is None:
            return ConvTranspose.apply(x, weight, geom=geom, size=size)
        return ConvTranspose.apply(x, weight, bias, geom=geom, size=size)

    return run_batched(batched, input, nd)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """1-D transposed convolution ("deconvolution"), the gradient of ``conv1d`` in its input.

    ``out[n, o, i * stride + k * dilation - padding] += x[n, c, i] * weight[c, o', k]`` over
    the channels ``c`` of ``o``'s group, plus ``bias[o]``.

    Args:
        input: ``(N, C_in, L)``, or ``(C_in, L)`` unbatched.
        weight: ``(C_in, C_out / groups, kL)``.
        bias: optional ``(C_out,)``.
        stride, padding, dilation: an int or a 1-tuple; ``padding`` removes
            ``dilation * (kL - 1) - padding`` zeros of implicit padding at both ends.
        output_padding: extra length added at the end of the output (less than stride or
            dilation), to pick among the input lengths a strided conv maps to one size.
        groups: channel groups.

    Returns:
        ``(N, C_out, L_out)``, ``L_out = (L - 1) stride - 2 padding + dilation (kL - 1)
        + output_padding + 1``.
    """
    return _conv_transpose(1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """2-D transposed convolution (``F.conv_transpose2d``), the gradient of ``conv2d``.

    Args:
        input: ``(N, C_in, H, W)``, or ``(C_in, H, W)`` unbatched.
        weight: ``(C_in, C_out / groups, kH, kW)``.
        bias: optional ``(C_out,)``.
        stride, padding, output_padding, dilation: an int or a pair.
        groups: channel groups.

    Returns:
        ``(N, C_out, H_out, W_out)``, ``H_out = (H - 1) sH - 2 padH + dH (kH - 1)
        + output_padH + 1``.

    Example:
        >>> import ember
        >>> x, w = ember.ones(1, 2, 3, 3), ember.ones(2, 4, 2, 2)
        >>> ember.nn.functional.conv_transpose2d(x, w, stride=2).shape
        ember.Size([1, 4, 6, 6])
    """
    return _conv_transpose(2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """3-D transposed convolution: ``conv_transpose2d`` with a depth dim.

    Args:
        input: ``(N, C_in, D, H, W)``, or ``(C_in, D, H, W)`` unbatched.
        weight: ``(C_in, C_out / groups, kD, kH, kW)``.
        bias, stride, padding, output_padding, groups, dilation: as in ``conv_transpose2d``.

    Returns:
        ``(N, C_out, D_out, H_out, W_out)``.
    """
    return _conv_transpose(3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


FUNCTIONAL = ["conv_transpose1d", "conv_transpose2d", "conv_transpose3d"]

METHODS = {}
