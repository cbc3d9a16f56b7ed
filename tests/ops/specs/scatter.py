"""Op specifications: scatter, scatter_add, scatter_reduce, index_add/copy/fill, index_put,
masked_fill, masked_scatter.

Ops that accumulate get repeated indices; ops that overwrite get unique ones (where
indices repeat, which write wins is unspecified in PyTorch).
"""

import numpy as np

from tests.ops.harness import Arr, B, F, I, Spec

# For dim=1 of a (3, 5) tensor: unique within each row, as overwriting needs.
_UNIQUE = Arr(np.array([[0, 3], [4, 1], [2, 0]]))
_REPEATS = Arr(np.array([[0, 4, 4, 1], [2, 2, 2, 0], [3, 0, 1, 3]]))


def _reduce(reduce, include_self=True):
    return lambda m, x, i, s: m.scatter_reduce(x, 1, i, s, reduce, include_self=include_self)


_REDUCE_CASES = [[(3, 5), _REPEATS, (3, 4)],
                 [F((3, 5), noncontig=True), _REPEATS, F((3, 4), noncontig=True)]]
_POSITIVE = [[F((3, 5), 0.5, 2.0), _REPEATS, F((3, 4), 0.5, 2.0)],
             [F((3, 5), -2.0, -0.5), _REPEATS, F((3, 4), 0.5, 2.0)]]

SPECS = [
    Spec("scatter", lambda m, x, i, s: m.scatter(x, 1, i, s),
         [[(3, 5), _UNIQUE, (3, 2)], [F((3, 5), noncontig=True), _UNIQUE, (3, 2)]]),
    # PyTorch's backward fails for a src larger than index (it returns index's shape);
    # test_scatter.py checks ember's gradient for it numerically.
    Spec("scatter_large_src", lambda m, x, i, s: m.scatter(x, 1, i, s),
         [[(3, 5), _UNIQUE, (4, 3)]], grad=False),
    Spec("scatter_value", lambda m, x, i: x.scatter(1, i, 2.5), [[(3, 5), _REPEATS]]),
    Spec("scatter_negative_dim", lambda m, x, s: x.scatter(-2, m.tensor([[1, 0, 2]]), s),
         [[(3, 3), (1, 3)]]),
    Spec("scatter_add", lambda m, x, i, s: m.scatter_add(x, 1, i, s),
         [[(3, 5), _REPEATS, (3, 4)], [(3, 5), I((2, 3), 0, 5), (2, 3)],
          [F((3, 5), noncontig=True), _REPEATS, F((3, 4), noncontig=True)]]),
    Spec("scatter_add_negative_dim", lambda m, x, i, s: x.scatter_add(-2, i, s),
         [[(3, 4), I((5, 4), 0, 3), (5, 4)]]),
    Spec("scatter_reduce_sum", _reduce("sum"), _REDUCE_CASES),
    Spec("scatter_reduce_sum_exclude", _reduce("sum", False), _REDUCE_CASES),
    Spec("scatter_reduce_mean", _reduce("mean"), _REDUCE_CASES),
    Spec("scatter_reduce_mean_exclude", _reduce("mean", False), _REDUCE_CASES),
    Spec("scatter_reduce_amax", _reduce("amax"), _REDUCE_CASES),
    Spec("scatter_reduce_amax_exclude", _reduce("amax", False), _REDUCE_CASES),
    Spec("scatter_reduce_amin", _reduce("amin"), _REDUCE_CASES),
    Spec("scatter_reduce_amin_exclude", _reduce("amin", False), _REDUCE_CASES),
    Spec("scatter_reduce_prod", _reduce("prod"), _POSITIVE),
    Spec("scatter_reduce_prod_exclude", _reduce("prod", False), _POSITIVE),
    Spec("index_add", lambda m, x, s: m.index_add(x, 0, m.tensor([2, 0, 2, 2]), s),
         [[(3, 4), (4, 4)], [F((3, 4), noncontig=True), F((4, 4), noncontig=True)]]),
    Spec("index_add_alpha", lambda m, x, s: x.index_add(-1, m.tensor([1, 1, 0]), s, alpha=-1.5),
         [[(2, 3), (2, 3)]]),
    Spec("index_copy", lambda m, x, s: m.index_copy(x, 1, m.tensor([3, 0]), s),
         [[(3, 4), (3, 2)], [F((3, 4), noncontig=True), (3, 2)]]),
    Spec("index_fill", lambda m, x: x.index_fill(1, m.tensor([3, 0, 3]), -1.0), [[(3, 4)]]),
    Spec("index_fill_tensor", lambda m, x, v: m.index_fill(x, -2, m.tensor([2, 0, 2]), v),
         [[(3, 4), ()], [(4, 3, 2), ()]]),
    Spec("index_put", lambda m, x, v: m.index_put(x, (m.tensor([2, 0]),), v),
         [[(3, 4), (4,)], [(3, 4), (2, 4)]]),
    Spec("index_put_accumulate",
         lambda m, x, v: x.index_put((m.tensor([2, 0, 2]), m.tensor([1, 1, 1])), v, True),
         [[(3, 4), (3,)], [(3, 4), ()], [F((3, 4), noncontig=True), (1,)]]),
    Spec("masked_fill", lambda m, x, mask: m.masked_fill(x, mask, 0.5),
         [[(3, 4), B((3, 4))], [(3, 4), B((4,))], [(4,), B((3, 4))],
          [F((3, 4), noncontig=True), B((3, 1))]]),
    Spec("masked_fill_tensor", lambda m, x, mask, v: x.masked_fill(mask, v),
         [[(3, 4), B((3, 4)), ()], [(3, 1), B((3, 4)), ()]]),
    Spec("masked_scatter", lambda m, x, mask, s: x.masked_scatter(mask, s),
         [[(3, 4), B((3, 4)), (3, 4)], [(3, 4), B((4,)), (15,)], [(4,), B((2, 4)), (2, 5)]]),
]
