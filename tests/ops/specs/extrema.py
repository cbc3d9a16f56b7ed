"""Op specifications: max, min, amax, amin, argmax, argmin, aminmax.

Random floats make ties improbable, so each gradient has one right answer.
"""

from tests.ops.harness import F, I, Spec

SPECS = [
    Spec("max", lambda m, a: m.max(a), [[(3, 4)], [()], [F((3, 4), noncontig=True)]]),
    Spec("max_dim", lambda m, a: m.max(a, 1), [[(3, 4)], [(2, 3, 4)], [F((3, 4), noncontig=True)]]),
    Spec("max_dim_keepdim", lambda m, a: a.max(dim=-1, keepdim=True), [[(3, 4)], [()]]),
    Spec("max_dim_values", lambda m, a: a.max(0).values, [[(4, 3)]]),
    Spec("max_binary", lambda m, a, b: m.max(a, b), [[(3, 4), (4,)]]),
    Spec("max_int", lambda m, a: m.max(a, 1), [[I((3, 4), -50, 50)]], grad=False),
    Spec("min", lambda m, a: a.min(), [[(3, 4)], [()]]),
    Spec("min_dim", lambda m, a: m.min(a, 0), [[(3, 4)], [(2, 3, 4)]]),
    Spec("min_dim_keepdim", lambda m, a: a.min(-2, True), [[(3, 4)]]),
    Spec("min_binary", lambda m, a, b: a.min(b), [[(3, 4), (3, 4)]]),
    Spec("amax", lambda m, a: m.amax(a), [[(3, 4)], [()]]),
    Spec("amax_dims", lambda m, a: a.amax((0, -1)), [[(2, 3, 4)], [F((3, 4), noncontig=True)]]),
    Spec("amax_dim_keepdim", lambda m, a: m.amax(a, 1, keepdim=True), [[(3, 4)]]),
    Spec("amin", lambda m, a: m.amin(a, -1), [[(3, 4)], [(2, 3, 4)]]),
    Spec("amin_all", lambda m, a: a.amin(), [[(3, 4)]]),
    Spec("argmax", lambda m, a: m.argmax(a), [[(3, 4)], [I((3, 4), -50, 50)]], grad=False),
    Spec("argmax_dim", lambda m, a: a.argmax(1), [[(3, 4)], [(2, 3, 4)]], grad=False),
    Spec("argmax_keepdim", lambda m, a: m.argmax(a, -1, keepdim=True), [[(3, 4)]], grad=False),
    Spec("argmax_none_keepdim", lambda m, a: m.argmax(a, keepdim=True), [[(3, 4)]], grad=False),
    Spec("argmin", lambda m, a: a.argmin(), [[(3, 4)]], grad=False),
    Spec("argmin_dim", lambda m, a: m.argmin(a, 0), [[(3, 4)], [()]], grad=False),
    Spec("aminmax", lambda m, a: m.aminmax(a), [[(3, 4)]]),
    Spec("aminmax_dim", lambda m, a: a.aminmax(dim=1, keepdim=True), [[(3, 4)], [(2, 3, 4)]]),
]
