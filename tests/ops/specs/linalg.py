"""Op specifications: linear algebra."""

from tests.ops.harness import F, Spec

SPECS = [
    Spec("matmul", lambda m, a, b: m.matmul(a, b),
         [[(3, 4), (4, 5)], [(4,), (4,)], [(4,), (4, 2)], [(3, 4), (4,)], [(2, 3, 4), (4, 2)],
          [(2, 1, 3, 4), (3, 4, 2)], [(4,), (2, 4, 3)], [F((4, 3), noncontig=True), (3, 2)]],
         rtol32=1e-4, atol32=1e-5),
    Spec("mm", lambda m, a, b: m.mm(a, b), [[(2, 3), (3, 4)]]),
    Spec("bmm", lambda m, a, b: m.bmm(a, b), [[(2, 2, 3), (2, 3, 4)]]),
]
