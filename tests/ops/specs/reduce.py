"""Op specifications: reductions."""

from tests.ops.harness import F, Spec

SPECS = [
    Spec("sum", lambda m, a: m.sum(a), [[(3, 4)], [()], [F((3, 4), noncontig=True)]]),
    Spec("sum_dim", lambda m, a: a.sum(1), [[(3, 4)], [(2, 3, 4)]]),
    Spec("sum_dims_keepdim", lambda m, a: a.sum((0, 2), keepdim=True), [[(2, 3, 4)]]),
    Spec("mean", lambda m, a: a.mean(), [[(3, 4)]]),
    Spec("mean_dim", lambda m, a: m.mean(a, -1, keepdim=True), [[(3, 4)], [(2, 3, 4)]]),
]
