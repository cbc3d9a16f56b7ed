"""Op specifications: comparisons and selections (``== <``, maximum, where, clamp ...)."""

from tests.ops.harness import B, F, I, Spec

BROADCAST = [[(3, 4), (3, 4)], [(3, 4), (4,)], [(2, 1, 4), (3, 1)], [(), (3,)],
             [F((3, 4), noncontig=True), (4,)]]


def _compare(name, fn):
    cases = BROADCAST + [[I((5,), 0, 3), I((5,), 0, 3)], [I((4,), 0, 3), F((4,), 0.0, 3.0)]]
    return Spec(name, fn, cases, grad=False)


SPECS = [
    _compare("eq", lambda m, a, b: m.eq(a, b)),
    _compare("ne", lambda m, a, b: a != b),
    _compare("lt", lambda m, a, b: a < b),
    _compare("le", lambda m, a, b: m.le(a, b)),
    _compare("gt", lambda m, a, b: a.gt(b)),
    _compare("ge", lambda m, a, b: a >= b),
    _compare("greater", lambda m, a, b: m.greater(a, b)),
    _compare("less_equal", lambda m, a, b: a.less_equal(b)),
    Spec("lt_scalar", lambda m, a: (a < 0.5, 0.5 < a, a == 1, 1 != a, a >= -1, -1 <= a),
         [[(3, 4)], [I((5,), -2, 2)]], grad=False),
    Spec("maximum", lambda m, a, b: m.maximum(a, b), BROADCAST),
    Spec("minimum", lambda m, a, b: m.minimum(a, b), BROADCAST),
    Spec("fmax", lambda m, a, b: m.fmax(a, b), BROADCAST),
    Spec("fmin", lambda m, a, b: m.fmin(a, b), BROADCAST),
    Spec("maximum_int", lambda m, a, b: m.maximum(a, b), [[I((5,), -3, 3), I((5,), -3, 3)]],
         grad=False),
    Spec("where", lambda m, c, a, b: m.where(c, a, b),
         [[B((3, 4)), (3, 4), (3, 4)], [B((3, 1)), (4,), (3, 4)], [B(()), (2,), ()],
          [B((2, 3)), F((2, 3), noncontig=True), (1, 3)]]),
    Spec("where_scalar_other", lambda m, c, a: m.where(c, a, 0.0), [[B((3, 4)), (3, 4)]]),
    Spec("where_scalar_input", lambda m, c, b: m.where(c, -1.5, b), [[B((3, 4)), (4,)]]),
    Spec("where_method", lambda m, c, a, b: a.where(c, b), [[B((3, 4)), (3, 4), (4,)]]),
    Spec("where_from_compare", lambda m, a: m.where(a > 0, a, a * a), [[(4, 3)]]),
    Spec("clamp", lambda m, x: m.clamp(x, -0.5, 0.7), [[(3, 4)], [F((3, 4), noncontig=True)],
                                                       [()]]),
    Spec("clamp_min_only", lambda m, x: m.clamp(x, min=-0.5), [[(3, 4)]]),
    Spec("clamp_max_only", lambda m, x: x.clamp(max=0.5), [[(3, 4)]]),
    Spec("clip", lambda m, x: m.clip(x, -1, 1), [[(3, 4)]]),
    Spec("clamp_tensor", lambda m, x, lo, hi: m.clamp(x, lo, hi),
         [[(3, 4), F((4,), -1.5, 0.0), F((3, 1), 0.0, 1.5)],
          [(5,), F((5,), -1.0, 1.0), F((5,), -1.0, 1.0)]]),
    Spec("clamp_tensor_min", lambda m, x, lo: m.clamp(x, min=lo), [[(3, 4), (4,)]]),
    Spec("clamp_tensor_max", lambda m, x, hi: m.clamp(x, max=hi), [[(3, 4), (3, 1)]]),
    Spec("clamp_min", lambda m, x: m.clamp_min(x, 0.1), [[(3, 4)]]),
    Spec("clamp_max", lambda m, x: x.clamp_max(0.1), [[(3, 4)]]),
    Spec("clamp_min_tensor", lambda m, x, lo: m.clamp_min(x, lo), [[(3, 4), (4,)]]),
    Spec("clamp_max_tensor", lambda m, x, hi: m.clamp_max(x, hi), [[(3, 4), (4,)]]),
    Spec("clamp_int", lambda m, x: m.clamp(x, 0, 2), [[I((6,), -3, 5)]], grad=False),
    Spec("clamp_int_float_bound", lambda m, x: m.clamp(x, min=0.5), [[I((6,), -3, 5)]],
         grad=False),
    Spec("logical", lambda m, a, b: (m.logical_and(a, b), m.logical_or(a, b),
                                     m.logical_xor(a, b), m.logical_not(a)),
         [[B((3, 4)), B((4,))], [(3,), I((3,), 0, 2)]], grad=False),
    Spec("bitwise_bool", lambda m, a, b: (a & b, a | b, a ^ b, ~a, m.bitwise_and(a, b)),
         [[B((3, 4)), B((4,))]], grad=False),
    Spec("bitwise_int", lambda m, a, b: (a & b, a | b, a ^ b, ~a, a & 6, 6 | a, a ^ True),
         [[I((3, 4), -8, 8), I((4,), 0, 8)]], grad=False),
    Spec("isnan_family", lambda m, x: (m.isnan(m.log(x)), m.isinf(m.log(x)),
                                       m.isfinite(m.log(x)), m.isposinf(1 / x),
                                       m.isneginf(m.log(x)), m.signbit(x)),
         [[F((8,), -1.0, 1.0)]], grad=False),
    Spec("isclose", lambda m, a, b: m.isclose(a, a + b * 1e-5, rtol=1e-4, atol=1e-6),
         [[(3, 4), (4,)]], grad=False),
]
