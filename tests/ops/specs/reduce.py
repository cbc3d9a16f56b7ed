"""Op specifications: reductions (sum, mean, prod, nansum, logsumexp, norm, all/any)."""

import numpy as np

from tests.ops.harness import Arr, B, F, I, Spec

INF = float("inf")
# NaN at a few places (0 elsewhere), added to a random input to test the nan-reductions.
NANS = Arr(np.where(np.arange(12).reshape(3, 4) % 5 == 1, np.nan, 0.0))

SPECS = [
    Spec("sum", lambda m, a: m.sum(a), [[(3, 4)], [()], [F((3, 4), noncontig=True)]]),
    Spec("sum_dim", lambda m, a: a.sum(1), [[(3, 4)], [(2, 3, 4)], [(3, 1)]]),
    Spec("sum_dims_keepdim", lambda m, a: a.sum((0, 2), keepdim=True), [[(2, 3, 4)]]),
    Spec("sum_neg_dims", lambda m, a: m.sum(a, [-1, -2]),
         [[(2, 3, 4)], [F((3, 4), noncontig=True)]]),
    Spec("sum_scalar_dim", lambda m, a: a.sum(-1, keepdim=True), [[()]]),
    Spec("sum_dtype", lambda m, a: m.sum(a, 0, dtype=m.float64), [[(3, 4)]]),
    Spec("sum_int", lambda m, a: a.sum(1), [[I((3, 4), -5, 5)], [B((3, 4))]], grad=False),
    Spec("mean", lambda m, a: a.mean(), [[(3, 4)], [()], [F((3, 4), noncontig=True)]]),
    Spec("mean_dim", lambda m, a: m.mean(a, -1, keepdim=True), [[(3, 4)], [(2, 3, 4)]]),
    Spec("mean_dims", lambda m, a: a.mean((0, -1)), [[(2, 3, 4)]]),
    Spec("nansum", lambda m, a, n: m.nansum(a + n, 1), [[(3, 4), NANS]]),
    Spec("nansum_all", lambda m, a, n: (a + n).nansum(), [[(3, 4), NANS]]),
    Spec("nanmean", lambda m, a, n: m.nanmean(a + n, 0, keepdim=True), [[(3, 4), NANS]]),
    Spec("nanmean_all", lambda m, a, n: (a + n).nanmean(), [[(3, 4), NANS]]),
    Spec("prod", lambda m, a: m.prod(a), [[(2, 3)], [()], [F((2, 3), noncontig=True)]]),
    Spec("prod_dim", lambda m, a: a.prod(1), [[(3, 4)], [(2, 3, 4)], [(4, 1)]]),
    Spec("prod_neg_dim_keepdim", lambda m, a: m.prod(a, -1, keepdim=True),
         [[(3, 4)], [F((3, 4), noncontig=True)]]),
    Spec("prod_int", lambda m, a: a.prod(0), [[I((3, 4), -3, 3)], [B((3, 4))]], grad=False),
    Spec("logsumexp", lambda m, a: m.logsumexp(a, -1),
         [[(3, 4)], [F((3, 4), noncontig=True)], [(5,)], [()]]),
    Spec("logsumexp_dims_keepdim", lambda m, a: m.logsumexp(a, (0, -1), keepdim=True),
         [[(2, 3, 4)]]),
    Spec("logsumexp_large", lambda m, a: (a * 500).logsumexp(-1), [[(3, 4)]]),
    Spec("logsumexp_int", lambda m, a: m.logsumexp(a, 0), [[I((3, 4), -5, 5)]], grad=False),
    Spec("norm", lambda m, a: a.norm(), [[(3, 4)], [F((3, 4), noncontig=True)], [()]]),
    Spec("norm_dim_keepdim", lambda m, a: m.norm(a, dim=-1, keepdim=True), [[(3, 4)]]),
    Spec("norm_p1", lambda m, a: m.norm(a, 1, dim=1), [[(3, 4)], [F((2, 3), noncontig=True)]]),
    Spec("norm_p3", lambda m, a: m.norm(a, 3, dim=(0, 2)), [[(2, 3, 4)]]),
    Spec("norm_p1_5", lambda m, a: a.norm(1.5), [[(3, 4)]]),
    Spec("norm_p_half", lambda m, a: m.norm(a, 0.5, -1, keepdim=True), [[(3, 4)]]),
    Spec("norm_p_neg", lambda m, a: m.norm(a, -2, 0), [[F((3, 4), 0.5, 2.0)]]),
    Spec("norm_inf", lambda m, a: m.norm(a, INF, -1), [[(3, 4)], [(5,)]]),
    Spec("norm_neg_inf", lambda m, a: a.norm(-INF), [[(3, 4)]]),
    Spec("norm_p0", lambda m, a: m.norm(a, 0, 0), [[(3, 4)]]),
    Spec("norm_fro_dims", lambda m, a: m.norm(a, "fro", (0, 1)), [[(2, 3, 4)]]),
    Spec("all", lambda m, a: m.all(a), [[B((3, 4))], [I((3, 4), 0, 2)], [(3,)]], grad=False),
    Spec("all_dim", lambda m, a: a.all(1, keepdim=True), [[B((3, 4))], [I((2, 3), 0, 2)]],
         grad=False),
    Spec("any", lambda m, a: m.any(a), [[B((3, 4))], [I((3, 4), 0, 2)]], grad=False),
    Spec("any_dims", lambda m, a: a.any((0, -1)), [[B((2, 3, 4))]], grad=False),
    Spec("count_nonzero", lambda m, a: m.count_nonzero(a, 1),
         [[I((3, 4), 0, 2)], [B((3, 4))], [(3, 4)]], grad=False),
    Spec("count_nonzero_all", lambda m, a: a.count_nonzero(), [[I((3, 4), 0, 2)]], grad=False),
]
