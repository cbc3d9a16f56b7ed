"""Op specifications: arithmetic (``+ - * / ** // %``)."""

from tests.ops.harness import F, I, Spec

BROADCAST = [[(3, 4), (3, 4)], [(3, 4), (4,)], [(2, 1, 4), (3, 1)], [(), (3,)],
             [F((3, 4), noncontig=True), (4,)]]

SPECS = [
    Spec("add", lambda m, a, b: m.add(a, b), BROADCAST),
    Spec("add_alpha", lambda m, a, b: m.add(a, b, alpha=2.5), [[(3, 4), (4,)]]),
    Spec("add_scalar", lambda m, a: a + 2.5, [[(3, 4)]]),
    Spec("radd_scalar", lambda m, a: 2 + a, [[(3,)]]),
    Spec("sub", lambda m, a, b: a - b, BROADCAST),
    Spec("rsub_scalar", lambda m, a: 1.5 - a, [[(3, 2)]]),
    Spec("mul", lambda m, a, b: a * b, BROADCAST),
    Spec("mul_scalar", lambda m, a: a * 3, [[(3, 2)]]),
    Spec("div", lambda m, a, b: a / b, [[(3, 4), F((4,), 0.5, 2.0)],
                                        [(2, 3), F((2, 1), -2.0, -0.5)]]),
    Spec("rdiv_scalar", lambda m, a: 2.0 / a, [[F((3, 2), 0.5, 2.0)]]),
    Spec("neg", lambda m, a: -a, [[(3, 4)], [F((3, 4), noncontig=True)]]),
    Spec("pow_scalar", lambda m, a: a ** 3, [[(3, 4)]]),
    Spec("pow_frac", lambda m, a: m.pow(a, 0.5), [[F((3, 4), 0.5, 2.0)]]),
    Spec("pow_neg", lambda m, a: a ** -2, [[F((5,), 0.5, 2.0)]]),
    Spec("pow_tensor", lambda m, a, b: a ** b, [[F((3, 4), 0.5, 2.0), (4,)]]),
    Spec("rpow_scalar", lambda m, a: 2.0 ** a, [[(3, 4)]]),
    Spec("square", lambda m, a: m.square(a), [[(3,)]]),
    Spec("reciprocal", lambda m, a: m.reciprocal(a), [[F((3,), 0.5, 2.0)]]),
    Spec("remainder", lambda m, a, b: m.remainder(a, b),
         [[F((6,), -5, 5), F((6,), 1.0, 2.0)]], gradgradcheck=False),
    Spec("fmod", lambda m, a, b: m.fmod(a, b), [[F((6,), -5, 5), F((6,), 1.0, 2.0)]],
         gradgradcheck=False),
    Spec("floor_divide", lambda m, a, b: m.floor_divide(a, b), [[I((5,), -9, 9), I((5,), 1, 4)]],
         grad=False, float32=False),
    Spec("div_int", lambda m, a, b: a / b, [[I((5,), -9, 9), I((5,), 1, 4)]], grad=False),
    Spec("mul_int_float", lambda m, a: a * 2.5, [[I((5,), -9, 9)]], grad=False),
    Spec("add_int", lambda m, a, b: a + b, [[I((5,), -9, 9), I((1,), 1, 4)]], grad=False),
]
