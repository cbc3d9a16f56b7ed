"""Op specifications: gather, take, take_along_dim, index_select, masked_select, nonzero.

Index inputs (``I``) are random, so indices repeat and the gradient's accumulation is
checked; a fixed ``Arr`` index makes the repeats certain where it matters.
"""

import numpy as np

from tests.ops.harness import Arr, B, F, I, Spec

_REPEATS = Arr(np.array([[0, 4, 4, 1], [2, 2, 2, 0], [3, 0, 1, 3]]))
_ZEROS = Arr(np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]]))

SPECS = [
    Spec("gather", lambda m, x, i: m.gather(x, 1, i),
         [[(3, 5), _REPEATS], [(3, 5), I((2, 3), 0, 5)], [F((3, 5), noncontig=True), _REPEATS]]),
    Spec("gather_negative_dim", lambda m, x, i: x.gather(-2, i),
         [[(4, 3), I((5, 3), 0, 4)], [(2, 4, 3), I((2, 2, 3), 0, 4)]]),
    Spec("gather_0dim", lambda m, x: m.gather(x, 0, m.tensor(0)), [[()]]),
    Spec("take", lambda m, x: m.take(x, m.tensor([[0, 5, 5], [-1, 2, 0]])),
         [[(3, 4)], [F((3, 4), noncontig=True)]]),
    Spec("take_along_dim", lambda m, x, i: m.take_along_dim(x, i, 1),
         [[(3, 5), _REPEATS], [(3, 5), I((1, 4), 0, 5)]]),
    Spec("take_along_dim_flat", lambda m, x, i: m.take_along_dim(x, i),
         [[(3, 4), I((5,), 0, 12)]]),
    Spec("take_along_dim_negative", lambda m, x, i: x.take_along_dim(i, dim=-1),
         [[(2, 1, 4), I((2, 3, 2), 0, 4)]]),
    Spec("index_select", lambda m, x, i: m.index_select(x, 0, i),
         [[(3, 4), Arr(np.array([2, 0, 2, 2]))], [(4,), Arr(np.array([3, 3]))],
          [F((3, 4), noncontig=True), I((5,), 0, 3)]]),
    Spec("index_select_negative_dim", lambda m, x, i: x.index_select(-1, i),
         [[(2, 3, 4), Arr(np.array([1, 3, 1]))], [(2, 3), Arr(np.array(1))]]),
    Spec("masked_select", lambda m, x, mask: m.masked_select(x, mask),
         [[(3, 4), B((3, 4))], [(3, 4), B((4,))], [(4,), B((3, 4))],
          [F((3, 4), noncontig=True), B((3, 1))]]),
    Spec("nonzero", lambda m, x: m.nonzero(x), [[_ZEROS], [Arr(np.array([0, 3, 0, 1]))]],
         grad=False),
    Spec("nonzero_as_tuple", lambda m, x: x.nonzero(as_tuple=True), [[_ZEROS]], grad=False),
    Spec("argwhere", lambda m, x: m.argwhere(x), [[_ZEROS], [Arr(np.array(2.0))]], grad=False),
]
