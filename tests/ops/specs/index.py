"""Op specifications: indexing, ``x[idx]`` and ``x[idx] = value``.

Repeated indices appear in the advanced cases, so the gradient's accumulation is
checked; setitem runs on a clone (a non-leaf), as user code does.
"""

import numpy as np

from tests.ops.harness import B, F, Spec


def _setitem(index):
    def fn(m, x, v):
        y = x.clone()
        y[index] = v
        return y

    return fn


def _setitem_mask(m, x, mask, v):
    y = x.clone()
    y[mask] = v
    return y


def _setitem_number(m, x):
    y = x * 2
    y[1:, ::2] = 0.5
    return y


SPECS = [
    Spec("getitem_int", lambda m, x: x[1], [[(3, 4)], [(2, 3, 4)], [F((3, 4), noncontig=True)]]),
    Spec("getitem_negative_int", lambda m, x: x[-1, -2], [[(3, 4)], [(2, 3, 4)]]),
    Spec("getitem_slice", lambda m, x: x[1:, ::2], [[(3, 4)], [F((4, 5), noncontig=True)]]),
    Spec("getitem_slice_step", lambda m, x: x[::2, 1:5:3], [[(5, 6)]]),
    Spec("getitem_none_ellipsis", lambda m, x: x[None, ..., 0, None], [[(2, 3, 4)], [(3,)]]),
    Spec("getitem_scalar_tensor", lambda m, x: x[m.tensor(1)], [[(3, 4)]]),
    Spec("getitem_list_repeats", lambda m, x: x[[0, 0, 2, -1]], [[(3, 4)], [(3,)]]),
    Spec("getitem_two_lists", lambda m, x: x[[0, 2, 0], [1, 1, 3]],
         [[(3, 4)], [F((3, 4), noncontig=True)]]),
    Spec("getitem_broadcast_lists", lambda m, x: x[[[0], [2]], [1, 1, 3]], [[(3, 4)]]),
    Spec("getitem_slice_and_list", lambda m, x: x[1:, [0, 0, 3]], [[(3, 4)], [(3, 4, 2)]]),
    Spec("getitem_int_slice_list", lambda m, x: x[1, :, [0, 1, 1]], [[(2, 3, 4)]]),
    Spec("getitem_separated_lists", lambda m, x: x[[0, 1, 1], :, [2, 0, 2]], [[(2, 3, 4)]]),
    Spec("getitem_index_tensor", lambda m, x: x[:, m.tensor([[3, 0], [3, 3]])], [[(2, 4)]]),
    Spec("getitem_mask", lambda m, x, mask: x[mask], [[(3, 4), B((3, 4))], [(3, 4), B((3,))]]),
    Spec("getitem_mask_and_list", lambda m, x: x[m.tensor([True, False, True]), 1:],
         [[(3, 4)]]),
    Spec("getitem_bool", lambda m, x: x[True, 0], [[(3, 4)]]),
    Spec("setitem_row", _setitem(0), [[(3, 4), (4,)], [F((3, 4), noncontig=True), (1, 4)]]),
    Spec("setitem_column_broadcast", _setitem((slice(None), 1)), [[(3, 4), (1,)], [(3, 4), ()]]),
    Spec("setitem_list", _setitem(([0, 2],)), [[(3, 4), (4,)], [(3, 4), (2, 4)]]),
    Spec("setitem_mixed", _setitem((slice(1, None), [0, 3])), [[(3, 4), (2, 2)], [(3, 4), (2,)]]),
    Spec("setitem_int_slice_list", _setitem((1, slice(None), [0, 2])), [[(2, 3, 4), (3, 2)]]),
    Spec("setitem_ellipsis", _setitem((Ellipsis, slice(0, 4, 3))), [[(2, 3, 4), (3, 1)]]),
    Spec("setitem_mask", _setitem_mask, [[(3, 4), B((3, 4)), ()],
                                         [(3, 4), B((3,)), (4,)]]),
    Spec("setitem_number", _setitem_number, [[(3, 4)]]),
    Spec("setitem_index_array", _setitem((np.array([2, 0]),)), [[(3, 2), (2, 2)]]),
]
