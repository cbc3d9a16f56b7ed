"""Op specifications: cumsum, cumprod, cummax, cummin."""

from tests.ops.harness import B, F, I, Spec

SHAPES = [[(3, 4)], [(2, 3, 4)], [F((3, 4), noncontig=True)]]

SPECS = [
    Spec("cumsum", lambda m, a: m.cumsum(a, 1), SHAPES),
    Spec("cumsum_neg_dim", lambda m, a: a.cumsum(-1), [[(3, 4)], [(5,)], [()]]),
    Spec("cumsum_dim0", lambda m, a: a.cumsum(dim=0), [[(3, 4)]]),
    Spec("cumsum_dtype", lambda m, a: m.cumsum(a, 0, dtype=m.float64), [[(3, 4)]]),
    Spec("cumsum_int", lambda m, a: m.cumsum(a, 1), [[I((3, 4), -5, 5)], [B((3, 4))]],
         grad=False),
    Spec("cumprod", lambda m, a: m.cumprod(a, 1), SHAPES),
    Spec("cumprod_neg_dim", lambda m, a: a.cumprod(-2), [[(3, 4)], [(5, 1)]]),
    Spec("cumprod_scalar", lambda m, a: a.cumprod(0), [[()]]),
    Spec("cummax_scalar", lambda m, a: a.cummax(-1), [[()]]),
    Spec("cumprod_int", lambda m, a: a.cumprod(0), [[I((3, 4), -3, 3)]], grad=False),
    Spec("cummax", lambda m, a: m.cummax(a, 1), SHAPES),
    Spec("cummax_neg_dim", lambda m, a: a.cummax(-2), [[(3, 4)], [(6, 2)]]),
    Spec("cummax_int", lambda m, a: m.cummax(a, 1), [[I((3, 6), 0, 3)]], grad=False),
    Spec("cummin", lambda m, a: m.cummin(a, 0), [[(3, 4)], [(2, 3, 4)]]),
    Spec("cummin_values", lambda m, a: a.cummin(-1).values, [[(7,)]]),
]
