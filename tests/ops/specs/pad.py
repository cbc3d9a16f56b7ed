"""Op specifications: ``F.pad`` in every mode, and ``torch.constant_pad_nd``.

Each case is ``[input, pad, keyword arguments]``; negative pads crop. The pads are
lists because the table reads a tuple of ints as the shape of a random tensor.
"""

from tests.ops.harness import F, Spec


def _pad(mode):
    return lambda m, x, pad, kw: m.nn.functional.pad(x, pad, mode, **kw)


ONE = [[(2, 3, 5), [1, 2], {}], [(3, 5), [2, 0], {}], [(1, 2, 5), [-1, 3], {}],
       [(1, 2, 6), [2, -2], {}], [F((2, 2, 4), noncontig=True), [3, 1], {}]]
TWO = [[(1, 2, 3, 4), [1, 2, 2, 1], {}], [(2, 3, 4), [0, 1, 2, 0], {}],
       [(1, 1, 4, 5), [-1, 2, 1, -2], {}], [F((1, 2, 3, 3), noncontig=True), [1, 1, 1, 1], {}]]
THREE = [[(1, 1, 2, 3, 4), [1, 1, 1, 0, 0, 1], {}], [(1, 3, 3, 3), [1, 0, 0, 1, 1, 1], {}]]

SPECS = [
    Spec("pad_constant", _pad("constant"), [
        [(2, 3), [1, 2], {}],
        [(2, 3, 4), [1, 0, 2, 1], {"value": 1.5}],
        [(2, 3, 4), [-1, 1, 0, 2, 1, 0], {}],
        [(2, 3, 4), [2, -2, -1, -1], {"value": -3}],
        [(4,), [3, 3], {}],
        [(1, 2, 2, 2), [1, 1, 1, 1, 1, 1, 1, 1], {"value": 2.0}],
        [F((3, 4), noncontig=True), [1, 1], {}],
        [(2, 3), [], {}],
    ]),
    Spec("pad_reflect", _pad("reflect"),
         ONE + TWO + THREE + [[(1, 2, 3), [2, 2], {}], [(1, 3, 3), [2, 2, 2, 2], {}]]),
    Spec("pad_replicate", _pad("replicate"),
         ONE + TWO + THREE + [[(1, 2, 3), [4, 5], {}]]),
    Spec("pad_circular", _pad("circular"),
         ONE + TWO + THREE + [[(1, 2, 3), [3, 3], {}], [(1, 1, 2, 3), [-1, 2, 2, 0], {}]]),
    Spec("torch.constant_pad_nd", lambda m, x: m.constant_pad_nd(x, [1, 2, -1, 0], 0.5),
         [[(2, 3, 4)]]),
]
