"""Op specifications: max pooling (``max_pool1d/2d``, ``adaptive_max_pool1d/2d``,
``max_unpool1d/2d``).

Max pooling's gradient goes to each window's argmax, so the inputs have no ties:
each case pools ``Arr(distinct integers) + F(noise in [0, 0.4))``, whose gradient is
the gradient with respect to the pooled input, and whose finite differences never
swap a maximum. Tie behaviour is compared with PyTorch in tests/ops/test_pool.py.
"""

import numpy as np

from tests.ops.harness import Arr, F, Spec


def distinct(*shape, noncontig=False):
    """The inputs ``[permutation, noise]`` of a tie-free tensor of this shape."""
    rng = np.random.default_rng(int(np.prod(shape)) + len(shape))
    perm = rng.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64)
    return [Arr(perm), F(shape, 0.0, 0.4, noncontig)]


def _x(p, e):
    return p.to(e.dtype) + e


def _pool(name):
    return lambda m, p, e, kw: getattr(m.nn.functional, name)(_x(p, e), **kw)


def _transposed(name):
    """Pool a non-contiguous input: the transpose of the last two dimensions."""
    return lambda m, p, e, kw: getattr(m.nn.functional, name)(_x(p, e).transpose(-1, -2), **kw)


def _unpool(nd):
    """Pool, then unpool twice the values; the windows never overlap, so no two values
    share an index (where unpooling keeps one value but backward feeds both)."""

    def fn(m, p, e, kw):
        pool = getattr(m.nn.functional, f"max_pool{nd}d")
        unpool = getattr(m.nn.functional, f"max_unpool{nd}d")
        values, indices = pool(_x(p, e), kw["kernel_size"], kw.get("stride"),
                               kw.get("padding", 0), return_indices=True)
        return unpool(values * 2, indices, **kw)
    return fn


SPECS = [
    Spec("max_pool1d", _pool("max_pool1d"), [
        distinct(2, 3, 7) + [{"kernel_size": 2}],
        distinct(1, 2, 8) + [{"kernel_size": 3, "stride": 2, "padding": 1}],
        distinct(1, 2, 9) + [{"kernel_size": 2, "stride": 2, "dilation": 2, "ceil_mode": True}],
        distinct(1, 2, 7) + [{"kernel_size": 3, "stride": 2, "ceil_mode": True}],
        distinct(3, 8) + [{"kernel_size": 3, "stride": 1, "padding": 1}],
        distinct(2, 3, 6, noncontig=True) + [{"kernel_size": (2,), "stride": (1,)}],
    ]),
    Spec("max_pool2d", _pool("max_pool2d"), [
        distinct(2, 2, 4, 4) + [{"kernel_size": 2}],
        distinct(1, 2, 5, 5) + [{"kernel_size": 3, "stride": 2, "padding": 1}],
        distinct(1, 1, 6, 5) + [{"kernel_size": (2, 3), "stride": (1, 2), "padding": (1, 1)}],
        distinct(1, 1, 6, 6) + [{"kernel_size": 2, "stride": 1, "dilation": 2, "padding": 1}],
        distinct(1, 2, 5, 5) + [{"kernel_size": 2, "ceil_mode": True}],
        distinct(1, 1, 7, 6) + [{"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}],
        distinct(2, 5, 5) + [{"kernel_size": 2, "stride": 1}],
        distinct(1, 2, 4, 4, noncontig=True) + [{"kernel_size": 2}],
        distinct(1, 1, 5, 5) + [{"kernel_size": 5}],
    ]),
    Spec("max_pool2d_transposed", _transposed("max_pool2d"), [
        distinct(1, 2, 5, 4) + [{"kernel_size": 2, "stride": 1}],
    ]),
    Spec("max_pool1d_with_indices", _pool("max_pool1d_with_indices"), [
        distinct(2, 2, 7) + [{"kernel_size": 3, "stride": 2, "padding": 1}],
    ]),
    Spec("max_pool2d_with_indices", _pool("max_pool2d_with_indices"), [
        distinct(1, 2, 5, 5) + [{"kernel_size": 3, "stride": 2, "padding": 1}],
        distinct(1, 1, 5, 6) + [{"kernel_size": 2, "ceil_mode": True}],
        distinct(2, 4, 4) + [{"kernel_size": 2, "dilation": 2, "stride": 1}],
    ]),
    Spec("max_pool2d_return_indices", _pool("max_pool2d"), [
        distinct(1, 2, 4, 4) + [{"kernel_size": 2, "return_indices": True}],
    ]),
    Spec("torch.max_pool1d", lambda m, p, e: m.max_pool1d(_x(p, e), 2, 1), [distinct(1, 2, 6)]),
    Spec("torch.max_pool2d", lambda m, p, e: m.max_pool2d(_x(p, e), 2, (), 1),
         [distinct(1, 2, 4, 4)]),
    Spec("torch.max_pool1d_with_indices",
         lambda m, p, e: m.max_pool1d_with_indices(_x(p, e), 3, 2, 1), [distinct(1, 2, 7)]),
    Spec("adaptive_max_pool1d", _pool("adaptive_max_pool1d"), [
        distinct(2, 2, 7) + [{"output_size": 3}],
        distinct(1, 2, 3) + [{"output_size": 5}],
        distinct(1, 2, 8) + [{"output_size": 4}],
        distinct(3, 5) + [{"output_size": 1}],
        distinct(1, 3, 7) + [{"output_size": 3, "return_indices": True}],
    ]),
    Spec("adaptive_max_pool2d", _pool("adaptive_max_pool2d"), [
        distinct(1, 2, 5, 7) + [{"output_size": (3, 2)}],
        distinct(1, 2, 4, 3) + [{"output_size": (None, 2)}],
        distinct(1, 1, 3, 4) + [{"output_size": (5, 6)}],
        distinct(1, 2, 4, 6) + [{"output_size": 2}],
        distinct(2, 5, 5) + [{"output_size": 3, "return_indices": True}],
        distinct(1, 2, 5, 4, noncontig=True) + [{"output_size": (2, 3)}],
    ]),
    Spec("adaptive_max_pool2d_with_indices", _pool("adaptive_max_pool2d_with_indices"), [
        distinct(1, 2, 5, 6) + [{"output_size": (3, 4)}],
    ]),
    Spec("torch.adaptive_max_pool1d", lambda m, p, e: m.adaptive_max_pool1d(_x(p, e), 3),
         [distinct(1, 2, 7)]),
    Spec("max_unpool1d", _unpool(1), [
        distinct(1, 2, 6) + [{"kernel_size": 2}],
        distinct(1, 2, 7) + [{"kernel_size": 2, "stride": 2, "padding": 1, "output_size": [7]}],
        distinct(2, 7) + [{"kernel_size": 2, "output_size": (7,)}],
    ]),
    Spec("max_unpool2d", _unpool(2), [
        distinct(1, 2, 4, 4) + [{"kernel_size": 2}],
        distinct(1, 1, 5, 5) + [{"kernel_size": 2, "stride": 2, "padding": 1,
                                 "output_size": (5, 5)}],
        distinct(1, 1, 5, 5) + [{"kernel_size": 2, "output_size": (1, 1, 5, 5)}],
        distinct(2, 4, 6) + [{"kernel_size": (2, 3), "stride": (2, 3)}],
    ]),
    Spec("max_unpool2d_direct", lambda m, x, i: m.nn.functional.max_unpool2d(x, i, 2), [
        [(1, 2, 2, 2), Arr(np.array([[[[0, 3], [9, 14]], [[5, 2], [8, 15]]]]))],
    ]),
]
