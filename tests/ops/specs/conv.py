"""Op specifications: convolution (``conv1d``, ``conv2d``, ``conv3d``).

Each case is ``[input, weight, bias or None, keyword arguments]``; tensors stay small
because the numerical checks cost O(elements).
"""

from tests.ops.harness import F, Spec


def _conv(nd):
    return lambda m, x, w, b, kw: getattr(m.nn.functional, f"conv{nd}d")(x, w, b, **kw)


SPECS = [
    Spec("conv1d", _conv(1), [
        [(1, 2, 7), (3, 2, 3), (3,), {}],
        [(2, 2, 8), (2, 2, 3), None, {"stride": 2, "padding": 1, "dilation": 2}],
        [(1, 2, 6), (2, 2, 4), None, {"padding": "same"}],
        [(1, 2, 7), (2, 2, 3), (2,), {"padding": "same", "dilation": 2}],
        [(1, 2, 5), (2, 2, 3), None, {"padding": "valid"}],
        [(1, 4, 6), (4, 1, 3), None, {"groups": 4}],
        [(1, 4, 5), (2, 2, 2), (2,), {"groups": 2, "padding": 2, "stride": 3}],
        [(2, 6), (3, 2, 3), (3,), {}],
        [F((1, 2, 6), noncontig=True), (2, 2, 2), None, {"padding": (1,)}],
    ]),
    Spec("conv2d", _conv(2), [
        [(1, 2, 5, 5), (3, 2, 3, 3), (3,), {}],
        [(1, 2, 5, 5), (3, 2, 3, 3), None, {"stride": 2, "padding": 1}],
        [(1, 2, 6, 5), (2, 2, 2, 3), (2,), {"stride": (2, 1), "padding": (1, 0)}],
        [(1, 2, 5, 4), (2, 2, 2, 2), None, {"padding": "same"}],
        [(1, 2, 4, 5), (2, 2, 3, 2), (2,), {"padding": "same", "dilation": (1, 2)}],
        [(1, 2, 6, 6), (2, 2, 3, 3), None, {"dilation": 2}],
        [(1, 4, 4, 4), (4, 2, 3, 3), (4,), {"groups": 2, "padding": 1}],
        [(1, 3, 4, 4), (3, 1, 3, 3), None, {"groups": 3}],
        [(1, 2, 4, 4), (4, 1, 2, 2), (4,), {"groups": 2, "stride": 2}],
        [(2, 4, 4), (3, 2, 3, 3), (3,), {"padding": "valid"}],
        [F((1, 2, 5, 5), noncontig=True), (3, 2, 3, 3), None, {"padding": 1}],
        [(2, 1, 3, 3), (2, 1, 1, 1), (2,), {}],
        [(1, 1, 5, 5), (2, 1, 2, 2), None, {"stride": 3, "padding": 1, "dilation": 2}],
    ]),
    Spec("conv3d", _conv(3), [
        [(1, 2, 3, 4, 3), (2, 2, 2, 2, 2), (2,), {"padding": 1, "stride": (1, 2, 1)}],
        [(1, 2, 3, 3, 3), (2, 1, 2, 2, 2), None, {"groups": 2}],
    ]),
]
