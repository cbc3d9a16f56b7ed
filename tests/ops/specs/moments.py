"""Op specifications: var, std, var_mean, std_mean."""

from tests.ops.harness import F, Spec

SPECS = [
    Spec("var", lambda m, a: a.var(), [[(3, 4)], [F((3, 4), noncontig=True)], [(5,)]]),
    Spec("var_dim", lambda m, a: m.var(a, 1), [[(3, 4)], [(2, 3, 4)]]),
    Spec("var_dims_keepdim", lambda m, a: m.var(a, (0, -1), keepdim=True), [[(2, 3, 4)]]),
    Spec("var_correction", lambda m, a: m.var(a, -1, correction=0), [[(3, 4)]]),
    Spec("var_correction_2", lambda m, a: a.var(0, correction=2), [[(4, 3)]]),
    Spec("var_unbiased_false", lambda m, a: m.var(a, 1, False, True), [[(3, 4)]]),
    Spec("var_unbiased_positional", lambda m, a: m.var(a, False), [[(3, 4)]]),
    Spec("std", lambda m, a: a.std(), [[(3, 4)], [F((3, 4), noncontig=True)]]),
    Spec("std_dim", lambda m, a: m.std(a, -1, keepdim=True), [[(3, 4)], [(2, 3, 4)]]),
    Spec("std_correction", lambda m, a: a.std((0, 1), correction=0), [[(2, 3, 4)]]),
    Spec("std_unbiased", lambda m, a: m.std(a, 0, unbiased=False), [[(3, 4)]]),
    Spec("var_mean", lambda m, a: m.var_mean(a, 1), [[(3, 4)], [(2, 3, 4)]]),
    Spec("var_mean_all", lambda m, a: m.var_mean(a, correction=0), [[(3, 4)]]),
    Spec("std_mean", lambda m, a: m.std_mean(a, -1, keepdim=True), [[(3, 4)]]),
    Spec("std_mean_first", lambda m, a: m.std_mean(a, 0)[0], [[(3, 4)]]),
    Spec("std_mean_second", lambda m, a: m.std_mean(a, 0)[1], [[(3, 4)]]),
]
