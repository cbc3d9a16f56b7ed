"""Op specifications: sort, argsort, topk, kthvalue, median.

Random floats make ties improbable, so indices and gradients have one right answer.
"""

from tests.ops.harness import F, I, Spec

SPECS = [
    Spec("sort", lambda m, a: m.sort(a), [[(3, 4)], [(2, 3, 4)], [F((3, 4), noncontig=True)]]),
    Spec("sort_dim", lambda m, a: a.sort(0), [[(3, 4)], [()]]),
    Spec("sort_descending", lambda m, a: m.sort(a, -2, descending=True), [[(3, 4)]]),
    Spec("sort_stable", lambda m, a: m.sort(a, stable=True, dim=1), [[(3, 4)]]),
    Spec("sort_int_stable", lambda m, a: m.sort(a, dim=1, descending=True, stable=True),
         [[I((3, 8), 0, 3)]], grad=False),
    Spec("argsort", lambda m, a: m.argsort(a), [[(3, 4)], [(2, 3, 4)]], grad=False),
    Spec("argsort_descending", lambda m, a: a.argsort(0, descending=True), [[(3, 4)]],
         grad=False),
    Spec("topk", lambda m, a: m.topk(a, 2), [[(3, 4)], [(2, 3, 4)], [F((3, 4), noncontig=True)]]),
    Spec("topk_smallest", lambda m, a: a.topk(3, dim=0, largest=False), [[(5, 3)]]),
    Spec("topk_few_of_many", lambda m, a: m.topk(a, 2, -1), [[(2, 20)]]),
    Spec("topk_few_of_many_smallest", lambda m, a: m.topk(a, 3, 1, False), [[(2, 20)]]),
    Spec("topk_all", lambda m, a: m.topk(a, 4), [[(4,)]]),
    Spec("topk_scalar", lambda m, a: m.topk(a, 1), [[()]]),
    Spec("kthvalue", lambda m, a: m.kthvalue(a, 2), [[(3, 4)], [(2, 3, 4)]]),
    Spec("kthvalue_dim_keepdim", lambda m, a: a.kthvalue(3, 0, keepdim=True), [[(4, 3)]]),
    Spec("median", lambda m, a: m.median(a), [[(3, 4)], [(5,)], [()]]),
    Spec("median_dim", lambda m, a: m.median(a, 1), [[(3, 4)], [(3, 5)]]),
    Spec("median_dim_keepdim", lambda m, a: a.median(-2, keepdim=True),
         [[(4, 3)], [F((4, 3), noncontig=True)]]),
]
