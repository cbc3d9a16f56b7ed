"""Op specifications: joining (cat, stack, ...) and splitting (split, chunk, unbind, ...)."""

import numpy as np

from tests.ops.harness import Arr, F, I, Spec

NC = F((4, 3), noncontig=True)  # a non-contiguous (transposed) (4, 3) input

JOIN = [
    Spec("cat", lambda m, a, b: m.cat([a, b]), [[(2, 3), (1, 3)], [NC, (2, 3)], [(3,), (2,)]]),
    Spec("cat_dim", lambda m, a, b, c: m.cat((a, b, c), dim=-1),
         [[(2, 3), (2, 1), (2, 2)], [(2, 1, 2), (2, 1, 1), F((2, 1, 3))]]),
    Spec("cat_one", lambda m, a: m.cat([a], 1), [[(2, 3)]]),
    Spec("cat_mixed_dtype", lambda m, a, b: m.cat([a, b], 1), [[(2, 2), I((2, 3), -3, 3)]]),
    Spec("cat_legacy_empty", lambda m, a, b: m.cat([a, b, a]),
         [[(2, 3), Arr(np.zeros(0))]]),
    Spec("concat", lambda m, a, b: m.concat([a, b], dim=1), [[(2, 3), F((2, 4))]]),
    Spec("concatenate", lambda m, a, b: m.concatenate([a, b], axis=-2), [[(2, 3), (1, 3)]]),
    Spec("stack", lambda m, a, b: m.stack([a, b]), [[(2, 3), (2, 3)], [NC, (4, 3)], [(), ()]]),
    Spec("stack_dim", lambda m, a, b, c: m.stack((a, b, c), -1), [[(2, 3), (2, 3), (2, 3)]]),
    Spec("stack_mid", lambda m, a, b: m.stack([a, b], dim=1), [[(2, 3), F((2, 3))]]),
    Spec("stack_mixed_dtype", lambda m, a, b: m.stack([a, b]), [[(3,), I((3,), 0, 5)]]),
    Spec("hstack", lambda m, a, b: m.hstack([a, b]), [[(2,), (3,)], [(2, 3), (2, 1)], [(), (2,)]]),
    Spec("vstack", lambda m, a, b: m.vstack((a, b)), [[(3,), (2, 3)], [(), ()], [NC, (1, 3)]]),
    Spec("dstack", lambda m, a, b: m.dstack([a, b]), [[(3,), (3,)], [(2, 3), (2, 3, 2)]]),
    Spec("column_stack", lambda m, a, b, c: m.column_stack([a, b, c]),
         [[(3,), (3, 2), (3,)], [(2,), F((2, 2)), (2,)], [(), (1, 2), ()]]),
    Spec("block_diag", lambda m, a, b, c: m.block_diag(a, b, c),
         [[(2, 3), (3,), ()], [NC, (1, 2), (2,)]]),
    Spec("block_diag_mixed", lambda m, a, b: m.block_diag(a, b), [[(2, 2), I((1, 2), 0, 5)]]),
    Spec("meshgrid_ij", lambda m, a, b, c: m.meshgrid(a, b, c, indexing="ij"),
         [[(2,), (3,), (2,)], [(), (3,), (1,)]]),
    Spec("meshgrid_xy", lambda m, a, b: m.meshgrid([a, b], indexing="xy"), [[(2,), (3,)]]),
    Spec("meshgrid_xy3", lambda m, a, b, c: m.meshgrid(a, b, c, indexing="xy"),
         [[(2,), (3,), (2,)]]),
]

SPLIT = [
    Spec("split", lambda m, a: m.split(a, 2), [[(5, 2)], [NC], [(4,)]]),
    Spec("split_sizes", lambda m, a: a.split([1, 3, 0, 1], dim=-1), [[(2, 5)], [(3, 5)]]),
    Spec("split_large", lambda m, a: a.split(10, 1), [[(2, 3)]]),
    Spec("split_some_outputs", lambda m, a: a.split(2), [[(5, 2)]], outputs=(1,)),
    Spec("chunk", lambda m, a: a.chunk(3), [[(5, 2)], [(6,)], [NC]]),
    Spec("chunk_fewer", lambda m, a: m.chunk(a, 4, dim=-1), [[(2, 5)], [(2, 6)]]),
    Spec("tensor_split", lambda m, a: m.tensor_split(a, 3), [[(7,)], [(2, 5)], [NC]]),
    Spec("tensor_split_indices", lambda m, a: a.tensor_split([1, 4], dim=1), [[(2, 6)], [NC]]),
    Spec("tensor_split_clamped", lambda m, a: m.tensor_split(a, [-2, 9, 3]), [[(5, 2)]]),
    Spec("tensor_split_decreasing", lambda m, a: m.tensor_split(a, [3, 1]), [[(5,)]]),
    Spec("unbind", lambda m, a: a.unbind(), [[(3, 2)], [NC], [(3,)]]),
    Spec("unbind_dim", lambda m, a: m.unbind(a, -1), [[(2, 3, 2)]]),
    Spec("unbind_some_outputs", lambda m, a: m.unbind(a, 1), [[(2, 3)]], outputs=(0, 2)),
    Spec("iter", lambda m, a: tuple(a), [[(3, 2)], [(2,)]]),
    Spec("hsplit", lambda m, a: m.hsplit(a, 2), [[(2, 4)], [(6,)]]),
    Spec("hsplit_indices", lambda m, a: a.hsplit([1, 2]), [[(2, 4)]]),
    Spec("vsplit", lambda m, a: m.vsplit(a, [1]), [[(3, 2)], [NC]]),
    Spec("dsplit", lambda m, a: a.dsplit(2), [[(1, 2, 4)]]),
]

SPECS = JOIN + SPLIT
