"""Op specifications: average pooling (``avg_pool1d/2d``, ``adaptive_avg_pool1d/2d``).

Each case is ``[input, keyword arguments]``.
"""

from tests.ops.harness import F, Spec


def _pool(name):
    return lambda m, x, kw: getattr(m.nn.functional, name)(x, **kw)


SPECS = [
    Spec("avg_pool1d", _pool("avg_pool1d"), [
        [(2, 3, 7), {"kernel_size": 2}],
        [(1, 2, 8), {"kernel_size": 3, "stride": 2, "padding": 1}],
        [(1, 2, 8), {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}],
        [(1, 2, 7), {"kernel_size": 2, "ceil_mode": True}],
        [(1, 2, 9), {"kernel_size": 4, "stride": 3, "padding": 2, "ceil_mode": True,
                     "count_include_pad": False}],
        [(3, 8), {"kernel_size": 3, "stride": 1, "padding": 1}],
        [F((2, 3, 6), noncontig=True), {"kernel_size": (2,), "stride": (1,)}],
    ]),
    Spec("avg_pool2d", _pool("avg_pool2d"), [
        [(2, 2, 4, 4), {"kernel_size": 2}],
        [(1, 2, 5, 5), {"kernel_size": 3, "stride": 2, "padding": 1}],
        [(1, 2, 5, 5), {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}],
        [(1, 1, 6, 5), {"kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 1)}],
        [(1, 2, 5, 5), {"kernel_size": 2, "ceil_mode": True}],
        [(1, 1, 7, 6), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                        "count_include_pad": False}],
        [(1, 1, 5, 6), {"kernel_size": 3, "padding": 1, "divisor_override": 4}],
        [(2, 5, 5), {"kernel_size": 2, "stride": 1}],
        [F((1, 2, 4, 4), noncontig=True), {"kernel_size": 2}],
        [(1, 1, 5, 5), {"kernel_size": 5}],
    ]),
    Spec("torch.avg_pool1d", lambda m, x: m.avg_pool1d(x, 3, 2, 1, False, False), [[(1, 2, 7)]]),
    Spec("adaptive_avg_pool1d", _pool("adaptive_avg_pool1d"), [
        [(2, 2, 7), {"output_size": 3}],
        [(1, 2, 3), {"output_size": 7}],
        [(1, 2, 8), {"output_size": 4}],
        [(3, 5), {"output_size": 1}],
        [(1, 3, 5), {"output_size": 5}],
    ]),
    Spec("adaptive_avg_pool2d", _pool("adaptive_avg_pool2d"), [
        [(1, 2, 5, 7), {"output_size": (3, 2)}],
        [(1, 2, 4, 3), {"output_size": (None, 2)}],
        [(1, 1, 3, 4), {"output_size": (5, 6)}],
        [(1, 2, 4, 6), {"output_size": 2}],
        [(1, 2, 3, 3), {"output_size": 1}],
        [(2, 5, 5), {"output_size": 3}],
        [F((1, 2, 5, 4), noncontig=True), {"output_size": (2, 3)}],
    ]),
    Spec("torch.adaptive_avg_pool1d", lambda m, x: m.adaptive_avg_pool1d(x, 3), [[(1, 2, 7)]]),
]
