"""Op specifications: transposed convolution.

Each case is ``[input, weight, bias or None, keyword arguments]``; the weight is
``(in_channels, out_channels / groups, *kernel)``.
"""

from tests.ops.harness import F, Spec


def _conv_transpose(nd):
    return lambda m, x, w, b, kw: getattr(m.nn.functional, f"conv_transpose{nd}d")(x, w, b, **kw)


SPECS = [
    Spec("conv_transpose1d", _conv_transpose(1), [
        [(1, 2, 4), (2, 3, 3), (3,), {}],
        [(1, 2, 4), (2, 2, 3), None, {"stride": 3, "padding": 1, "output_padding": 2}],
        [(1, 4, 3), (4, 1, 2), (2,), {"groups": 2, "dilation": 2}],
        [(2, 4), (2, 1, 3), None, {"stride": 2}],
        [(1, 3, 4), (3, 1, 3), (1,), {"padding": 1}],
    ]),
    Spec("conv_transpose2d", _conv_transpose(2), [
        [(1, 2, 3, 3), (2, 3, 3, 3), (3,), {}],
        [(1, 2, 3, 3), (2, 2, 3, 3), None, {"stride": 2}],
        [(1, 2, 3, 3), (2, 2, 3, 3), (2,), {"stride": 2, "padding": 1, "output_padding": 1}],
        [(1, 4, 2, 3), (4, 1, 2, 2), None, {"groups": 2, "stride": (2, 1)}],
        [(1, 2, 3, 3), (2, 2, 2, 2), None, {"dilation": 2, "padding": 1}],
        [(1, 2, 2, 2), (2, 1, 3, 3), None, {"dilation": 2, "output_padding": 1}],
        [(1, 4, 3, 3), (4, 1, 3, 3), (1,), {"padding": 1}],
        [(2, 3, 3), (2, 2, 2, 2), (2,), {"stride": 2}],
        [F((1, 2, 3, 3), noncontig=True), (2, 3, 2, 2), None, {"output_padding": (0, 1),
                                                               "stride": (1, 2)}],
    ]),
    Spec("conv_transpose3d", _conv_transpose(3), [
        [(1, 2, 2, 2, 2), (2, 1, 2, 2, 2), (1,), {"stride": 2}],
    ]),
]
