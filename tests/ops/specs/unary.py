"""Op specifications: elementwise math (``exp log sqrt sin tanh sigmoid erf floor lerp`` ...)."""

from tests.ops.harness import F, I, Spec

# Shapes every unary op runs on: a matrix, a non-contiguous view, a 0-dim tensor, a size-1 dim.
SHAPES = [(3, 4), (), (1, 5)]


def _cases(low=-2.0, high=2.0):
    return [[F(s, low, high)] for s in SHAPES] + [[F((3, 4), low, high, noncontig=True)]]


def _unary(name, low=-2.0, high=2.0, **kw):
    return Spec(name, lambda m, x: getattr(m, name)(x), _cases(low, high), **kw)


def _method(name, low=-2.0, high=2.0, **kw):
    return Spec(f"{name}_method", lambda m, x: getattr(x, name)(), [[F((2, 3), low, high)]],
                **kw)


# Step functions: PyTorch gives them a zero gradient, so there is no second order to check.
FLAT = {"gradgradcheck": False}

SPECS = [
    _unary("exp"), _unary("exp2"), _unary("expm1"),
    _unary("log", 0.1, 3.0), _unary("log2", 0.1, 3.0), _unary("log10", 0.1, 3.0),
    _unary("log1p", -0.5, 2.0), _unary("sqrt", 0.1, 3.0), _unary("rsqrt", 0.2, 3.0),
    _unary("abs"), _unary("absolute"), _unary("sign", **FLAT), _unary("sgn", grad=False),
    _unary("sin"), _unary("cos"), _unary("tan", -1.2, 1.2),
    _unary("asin", -0.9, 0.9), _unary("arcsin", -0.9, 0.9), _unary("acos", -0.9, 0.9),
    _unary("arccos", -0.9, 0.9), _unary("atan"), _unary("arctan"),
    _unary("sinh"), _unary("cosh"), _unary("tanh"), _unary("asinh"), _unary("arcsinh"),
    _unary("acosh", 1.1, 3.0), _unary("arccosh", 1.1, 3.0), _unary("atanh", -0.9, 0.9),
    _unary("arctanh", -0.9, 0.9),
    _unary("sigmoid", -6.0, 6.0), _unary("logit", 0.05, 0.95),
    Spec("logit_eps", lambda m, x: m.logit(x, eps=0.2), [[F((4, 5), 0.0, 1.0)]]),
    Spec("sigmoid_functional", lambda m, x: m.nn.functional.sigmoid(x), [[(3,)]]),
    Spec("tanh_functional", lambda m, x: m.nn.functional.tanh(x), [[(3,)]]),
    _unary("erf", -3.0, 3.0), _unary("erfc", -3.0, 3.0), _unary("erfinv", -0.9, 0.9),
    _unary("floor", -3.0, 3.0, **FLAT), _unary("ceil", -3.0, 3.0, **FLAT),
    _unary("round", -3.0, 3.0, **FLAT), _unary("trunc", -3.0, 3.0, **FLAT),
    _unary("fix", -3.0, 3.0, **FLAT), _unary("frac", -3.0, 3.0),
    Spec("round_decimals", lambda m, x: m.round(x * 100, decimals=1), [[(3, 4)]], **FLAT),
    Spec("round_neg_decimals", lambda m, x: m.round(x * 100, decimals=-1), [[(3, 4)]], **FLAT),
    _unary("deg2rad"), _unary("rad2deg"), _unary("sinc"), _unary("nan_to_num"),
    Spec("nan_to_num_values", lambda m, x: m.nan_to_num(m.log(x), nan=0.5, neginf=-3.0),
         [[F((8,), -1.0, 2.0)]], gradcheck=False),
    _method("exp"), _method("log", 0.1, 2.0), _method("sqrt", 0.1, 2.0), _method("abs"),
    _method("sigmoid"), _method("tanh"), _method("erf"), _method("floor", **FLAT),
    Spec("abs_operator", lambda m, x: abs(x), [[(3, 2)]]),
    # Two-operand functions, with broadcasting and Python numbers.
    Spec("atan2", lambda m, a, b: m.atan2(a, b), [[(3, 4), (4,)], [(2, 1), (3,)],
                                                  [F((3, 4), noncontig=True), ()]]),
    Spec("arctan2", lambda m, a, b: m.arctan2(a, b), [[(3,), (3,)]]),
    Spec("hypot", lambda m, a, b: m.hypot(a, b), [[(3, 4), (4,)], [(), (2, 3)]]),
    Spec("xlogy", lambda m, a, b: m.xlogy(a, b), [[(3, 4), F((4,), 0.2, 2.0)],
                                                  [(2, 1), F((3,), 0.2, 2.0)]]),
    Spec("xlogy_scalar_self", lambda m, b: m.xlogy(2.5, b), [[F((3,), 0.2, 2.0)]]),
    Spec("xlogy_scalar_other", lambda m, a: m.xlogy(a, 3.0), [[(3,)]]),
    Spec("logaddexp", lambda m, a, b: m.logaddexp(a, b), [[(3, 4), (4,)], [(), (2,)]]),
    Spec("logaddexp2", lambda m, a, b: m.logaddexp2(a, b), [[(3, 4), (4,)]]),
    Spec("lerp", lambda m, a, b: m.lerp(a, b, 0.3), [[(3, 4), (4,)]]),
    Spec("lerp_far", lambda m, a, b: m.lerp(a, b, 0.8), [[(3, 4), (3, 4)]]),
    Spec("lerp_tensor", lambda m, a, b, w: m.lerp(a, b, w),
         [[(3, 4), (3, 4), F((4,), -0.5, 1.5)], [(2, 1), (3,), (2, 3)]]),
    Spec("addcmul", lambda m, a, b, c: m.addcmul(a, b, c), [[(3, 4), (3, 4), (4,)]]),
    Spec("addcmul_value", lambda m, a, b, c: m.addcmul(a, b, c, value=-0.5),
         [[(3, 1), (4,), (3, 4)]]),
    Spec("addcdiv", lambda m, a, b, c: m.addcdiv(a, b, c, value=2),
         [[(3, 4), (3, 4), F((4,), 0.5, 2.0)], [(), (3,), F((2, 3), -2.0, -0.5)]]),
    Spec("addcmul_method", lambda m, a, b, c: a.addcmul(b, c, value=3), [[(2,), (2,), (2,)]]),
    # Integer inputs: float functions give the default float dtype, the rest keep ints.
    Spec("exp_int", lambda m, x: m.exp(x), [[I((5,), -3, 3)]], grad=False),
    Spec("sqrt_int", lambda m, x: m.sqrt(x), [[I((5,), 0, 9)]], grad=False),
    Spec("sigmoid_int", lambda m, x: m.sigmoid(x), [[I((5,), -3, 3)]], grad=False),
    Spec("erf_int", lambda m, x: m.erf(x), [[I((5,), -3, 3)]], grad=False),
    Spec("abs_int", lambda m, x: m.abs(x), [[I((5,), -3, 3)]], grad=False),
    Spec("sign_int", lambda m, x: m.sign(x), [[I((5,), -3, 3)]], grad=False),
    Spec("floor_int", lambda m, x: m.floor(x), [[I((5,), -3, 3)]], grad=False),
    Spec("round_int", lambda m, x: m.round(x), [[I((5,), -3, 3)]], grad=False),
    Spec("atan2_int", lambda m, a, b: m.atan2(a, b), [[I((5,), -3, 3), I((5,), 1, 3)]],
         grad=False),
    Spec("xlogy_int", lambda m, a, b: m.xlogy(a, b), [[I((5,), 0, 3), I((5,), 1, 3)]],
         grad=False),
    Spec("deg2rad_int", lambda m, x: m.deg2rad(x), [[I((5,), -90, 90)]], grad=False),
]
