"""Exporters of elementwise math: unary functions, arithmetic, comparisons and logic.

Each exporter writes the ember op's formula with ONNX operators of the output's dtype;
where ONNX has no operator (``atan2``, ``expm1``, ``sinc``...) it is composed, following
the same special cases as the ember op (see each op's docstring in ``ember/ops``).
"""

import math

import numpy as np

from ember.onnx._export_errors import unsupported_form

__all__ = ["EXPORTERS"]


def out_dtype(node, k=0):
    return node.outputs[k].dtype


def as_out(ctx, node, names):
    """The inputs cast to the output's dtype (ember ops compute in it)."""
    return [ctx.cast(n, v.dtype, out_dtype(node)) for n, v in zip(names, node.inputs)]


def as_common(ctx, node, names):
    """The inputs cast to their common dtype (comparisons take mixed inputs)."""
    common = np.result_type(*[v.dtype for v in node.inputs])
    return [ctx.cast(n, v.dtype, common) for n, v in zip(names, node.inputs)], common


def num(ctx, node, value):
    """A 0-d constant of the output's dtype."""
    return ctx.scalar(value, out_dtype(node))


# ---- unary --------------------------------------------------------------------------------

_DIRECT_UNARY = {
    "Abs": "Abs", "Acos": "Acos", "Acosh": "Acosh", "Asin": "Asin", "Asinh": "Asinh",
    "Atan": "Atan", "Atanh": "Atanh", "Ceil": "Ceil", "Cos": "Cos", "Cosh": "Cosh",
    "Erf": "Erf", "Exp": "Exp", "Floor": "Floor", "Log": "Log", "Neg": "Neg",
    "Sigmoid": "Sigmoid", "Sign": "Sign", "Sin": "Sin", "Sinh": "Sinh", "Sqrt": "Sqrt",
    "Tan": "Tan", "Tanh": "Tanh", "Relu": "Relu", "Softsign": "Softsign",
}


def _direct_unary(onnx_op):
    def export(ctx, node, x):
        kind = out_dtype(node).kind
        if onnx_op in ("Ceil", "Floor") and kind in "iub":
            return ctx.op("Identity", [x])
        (x,) = as_out(ctx, node, [x])
        return ctx.op(onnx_op, [x])
    return export


def _trunc(ctx, node, x):
    if out_dtype(node).kind in "iub":
        return ctx.op("Identity", [x])
    return ctx.op("Mul", [ctx.op("Sign", [x]), ctx.op("Floor", [ctx.op("Abs", [x])])])


def _frac(ctx, node, x):
    return ctx.op("Sub", [x, _trunc(ctx, node, x)])


def _round(ctx, node, x, decimals=0):
    if decimals == 0 or out_dtype(node).kind in "iu":
        return ctx.op("Round", [x]) if out_dtype(node).kind == "f" else ctx.op("Identity", [x])
    scale = num(ctx, node, 10.0 ** decimals)
    return ctx.op("Div", [ctx.op("Round", [ctx.op("Mul", [x, scale])]), scale])


def _log_base(base):
    def export(ctx, node, x):
        (x,) = as_out(ctx, node, [x])
        return ctx.op("Div", [ctx.op("Log", [x]), num(ctx, node, math.log(base))])
    return export


def _expm1(ctx, node, x):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("Sub", [ctx.op("Exp", [x]), num(ctx, node, 1)])


def _log1p(ctx, node, x):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("Log", [ctx.op("Add", [x, num(ctx, node, 1)])])


def _exp2(ctx, node, x):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("Pow", [num(ctx, node, 2), x])


def _rsqrt(ctx, node, x):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("Reciprocal", [ctx.op("Sqrt", [x])])


def _scaled(factor):
    def export(ctx, node, x):
        (x,) = as_out(ctx, node, [x])
        return ctx.op("Mul", [x, num(ctx, node, factor)])
    return export


def _erfc(ctx, node, x):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("Sub", [num(ctx, node, 1), ctx.op("Erf", [x])])


def _sinc(ctx, node, x):
    (x,) = as_out(ctx, node, [x])
    pix = ctx.op("Mul", [x, num(ctx, node, math.pi)])
    ratio = ctx.op("Div", [ctx.op("Sin", [pix]), pix])
    zero = ctx.op("Equal", [x, num(ctx, node, 0)])
    return ctx.op("Where", [zero, num(ctx, node, 1), ratio])


def _logit(ctx, node, x, eps=None):
    (x,) = as_out(ctx, node, [x])
    if eps is not None:
        x = ctx.op("Clip", [x, num(ctx, node, eps), num(ctx, node, 1 - eps)])
    return ctx.op("Log", [ctx.op("Div", [x, ctx.op("Sub", [num(ctx, node, 1), x])])])


def _nan_to_num(ctx, node, x, nan, posinf, neginf):
    if out_dtype(node).kind != "f":
        return ctx.op("Identity", [x])
    info = np.finfo(out_dtype(node))
    x = ctx.op("Where", [ctx.op("IsNaN", [x]), num(ctx, node, nan), x])
    high = info.max if posinf is None else posinf
    low = info.min if neginf is None else neginf
    x = ctx.op("Where", [ctx.op("IsInf", [x], detect_negative=0), num(ctx, node, high), x])
    return ctx.op("Where", [ctx.op("IsInf", [x], detect_positive=0), num(ctx, node, low), x])


# ---- binary arithmetic ---------------------------------------------------------------------

def _binary(onnx_op):
    def export(ctx, node, a, b):
        return ctx.op(onnx_op, as_out(ctx, node, [a, b]))
    return export


def _floor_divide(ctx, node, a, b):
    a, b = as_out(ctx, node, [a, b])
    if out_dtype(node).kind in "iu":
        # Exact for integers: subtract the (floor) remainder, then divide.
        rem = ctx.op("Mod", [a, b], fmod=0)
        return ctx.op("Div", [ctx.op("Sub", [a, rem]), b])
    return ctx.op("Floor", [ctx.op("Div", [a, b])])


def _remainder(ctx, node, a, b):
    a, b = as_out(ctx, node, [a, b])
    if out_dtype(node).kind in "iu":
        return ctx.op("Mod", [a, b], fmod=0)
    # ONNX's Mod takes fmod=1 only for floats: a - b * floor(a / b), as in PyTorch.
    floor = ctx.op("Floor", [ctx.op("Div", [a, b])])
    return ctx.op("Sub", [a, ctx.op("Mul", [b, floor])])


def _fmod(ctx, node, a, b):
    return ctx.op("Mod", as_out(ctx, node, [a, b]), fmod=1)


def _pow(ctx, node, a, b):
    a, b = as_out(ctx, node, [a, b])
    return ctx.op("Pow", [a, b])


def _pow_scalar(ctx, node, x, exponent):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("Pow", [x, num(ctx, node, exponent)])


def _rpow_scalar(ctx, node, x, base):
    (x,) = as_out(ctx, node, [x])
    return ctx.op("Pow", [num(ctx, node, base), x])


def _fmax_fmin(onnx_op):
    def export(ctx, node, a, b):
        a, b = as_out(ctx, node, [a, b])
        both = ctx.op(onnx_op, [a, b])
        if out_dtype(node).kind != "f":
            return both
        # NaN only where both are NaN: take the other operand where one is NaN.
        both = ctx.op("Where", [ctx.op("IsNaN", [a]), b, both])
        return ctx.op("Where", [ctx.op("IsNaN", [b]), a, both])
    return export


def _maximum_minimum(onnx_op):
    def export(ctx, node, a, b):
        a, b = as_out(ctx, node, [a, b])
        both = ctx.op(onnx_op, [a, b])
        if out_dtype(node).kind != "f":
            return both
        # NumPy and PyTorch propagate NaN; say so explicitly rather than trust a runtime.
        nan = ctx.op("Or", [ctx.op("IsNaN", [a]), ctx.op("IsNaN", [b])])
        return ctx.op("Where", [nan, ctx.op("Add", [a, b]), both])
    return export


def _atan2(ctx, node, a, b):
    a, b = as_out(ctx, node, [a, b])
    pi, zero = num(ctx, node, math.pi), num(ctx, node, 0)
    base = ctx.op("Atan", [ctx.op("Div", [a, b])])
    a_neg = ctx.op("Less", [a, zero])
    shift = ctx.op("Where", [a_neg, ctx.op("Neg", [pi]), pi])
    left = ctx.op("Add", [base, shift])
    out = ctx.op("Where", [ctx.op("Less", [b, zero]), left, base])
    # b == 0: +-pi/2 by the sign of a, and 0 when a is 0 too.
    half = ctx.op("Mul", [ctx.op("Sign", [a]), num(ctx, node, math.pi / 2)])
    return ctx.op("Where", [ctx.op("Equal", [b, zero]), half, out])


def _hypot(ctx, node, a, b):
    a, b = as_out(ctx, node, [a, b])
    return ctx.op("Sqrt", [ctx.op("Add", [ctx.op("Mul", [a, a]), ctx.op("Mul", [b, b])])])


def _xlogy(ctx, node, a, b):
    a, b = as_out(ctx, node, [a, b])
    prod = ctx.op("Mul", [a, ctx.op("Log", [b])])
    zero = num(ctx, node, 0)
    out = ctx.op("Where", [ctx.op("Equal", [a, zero]), zero, prod])
    return ctx.op("Where", [ctx.op("IsNaN", [b]), b, out])


def _logaddexp(ctx, node, a, b, base):
    a, b = as_out(ctx, node, [a, b])
    two = base != "e"
    if two:
        ln2 = num(ctx, node, math.log(2))
        a, b = ctx.op("Mul", [a, ln2]), ctx.op("Mul", [b, ln2])
    top = ctx.op("Max", [a, b])
    # Equal infinities would give inf - inf: shift by 0 there instead.
    safe = ctx.op("Where", [ctx.op("IsInf", [top]), num(ctx, node, 0), top])
    total = ctx.op("Add", [ctx.op("Exp", [ctx.op("Sub", [a, safe])]),
                           ctx.op("Exp", [ctx.op("Sub", [b, safe])])])
    out = ctx.op("Add", [ctx.op("Log", [total]), safe])
    return ctx.op("Div", [out, ln2]) if two else out


def _lerp(ctx, node, start, end, weight):
    start, end, weight = as_out(ctx, node, [start, end, weight])
    return ctx.op("Add", [start, ctx.op("Mul", [weight, ctx.op("Sub", [end, start])])])


def _addc(onnx_op):
    def export(ctx, node, a, b, c, value):
        a, b, c = as_out(ctx, node, [a, b, c])
        term = ctx.op(onnx_op, [b, c])
        if value != 1:
            term = ctx.op("Mul", [term, num(ctx, node, value)])
        return ctx.op("Add", [a, term])
    return export


# ---- comparisons and logic ------------------------------------------------------------------

def _compare(onnx_op, negate=False):
    def export(ctx, node, a, b):
        (a, b), _ = as_common(ctx, node, [a, b])
        out = ctx.op(onnx_op, [a, b])
        return ctx.op("Not", [out]) if negate else out
    return export


def _logical(onnx_op):
    def export(ctx, node, *xs):
        bools = [ctx.cast(x, v.dtype, np.bool_) if v.dtype != np.bool_ else x
                 for x, v in zip(xs, node.inputs)]
        out = ctx.op(onnx_op, bools)
        return ctx.cast(out, np.bool_, out_dtype(node))
    return export


def _bitwise(onnx_op, bool_op):
    def export(ctx, node, *xs):
        xs = as_out(ctx, node, list(xs))
        if out_dtype(node) == np.bool_:
            return ctx.op(bool_op, xs)
        if ctx.opset < 18:
            raise unsupported_form(node, "bitwise ops on integers need opset_version >= 18")
        return ctx.op(onnx_op, xs)
    return export


def _is_inf(pos, neg):
    def export(ctx, node, x):
        if node.inputs[0].dtype.kind != "f":
            return ctx.const(np.zeros(node.outputs[0].shape, bool))
        return ctx.op("IsInf", [x], detect_positive=int(pos), detect_negative=int(neg))
    return export


def _is_nan(ctx, node, x):
    if node.inputs[0].dtype.kind != "f":
        return ctx.const(np.zeros(node.outputs[0].shape, bool))
    return ctx.op("IsNaN", [x])


def _is_finite(ctx, node, x):
    if node.inputs[0].dtype.kind != "f":
        return ctx.const(np.ones(node.outputs[0].shape, bool))
    bad = ctx.op("Or", [ctx.op("IsNaN", [x]), ctx.op("IsInf", [x])])
    return ctx.op("Not", [bad])


def _signbit(ctx, node, x):
    zero = ctx.scalar(0, node.inputs[0].dtype)
    if node.inputs[0].dtype.kind != "f":
        return ctx.op("Less", [x, zero])
    # -0.0 has its sign bit set: 1 / -0.0 is -inf.
    return ctx.op("Or", [ctx.op("Less", [x, zero]),
                         ctx.op("Less", [ctx.op("Reciprocal", [x]), zero])])


def _isclose(ctx, node, a, b, rtol, atol, equal_nan):
    (a, b), common = as_common(ctx, node, [a, b])
    if common.kind != "f":
        a, b = ctx.cast(a, common, np.float64), ctx.cast(b, common, np.float64)
        common = np.dtype(np.float64)
    diff = ctx.op("Abs", [ctx.op("Sub", [a, b])])
    tol = ctx.op("Add", [ctx.scalar(atol, common),
                         ctx.op("Mul", [ctx.scalar(rtol, common), ctx.op("Abs", [b])])])
    close = ctx.op("Or", [ctx.op("Equal", [a, b]), ctx.op("LessOrEqual", [diff, tol])])
    if equal_nan:
        both = ctx.op("And", [ctx.op("IsNaN", [a]), ctx.op("IsNaN", [b])])
        close = ctx.op("Or", [close, both])
    return close


def _where(ctx, node, cond, x, y):
    cond = ctx.cast(cond, node.inputs[0].dtype, np.bool_)
    x = ctx.cast(x, node.inputs[1].dtype, out_dtype(node))
    y = ctx.cast(y, node.inputs[2].dtype, out_dtype(node))
    return ctx.op("Where", [cond, x, y])


def _clamp_scalar(ctx, node, x, min, max):
    (x,) = as_out(ctx, node, [x])
    lo = "" if min is None else num(ctx, node, min)
    hi = "" if max is None else num(ctx, node, max)
    if min is not None and max is not None and min > max:
        return ctx.op("Expand", [hi, ctx.op("Shape", [x])])  # PyTorch: max wins
    return ctx.op("Clip", [x, lo, hi])


def _clamp_tensor(ctx, node, x, *bounds, has_min, has_max):
    x, *bounds = as_out(ctx, node, [x, *bounds])
    bounds = iter(bounds)
    if has_min:
        x = ctx.op("Max", [x, next(bounds)])
    if has_max:
        x = ctx.op("Min", [x, next(bounds)])
    return x


EXPORTERS = {name: _direct_unary(op) for name, op in _DIRECT_UNARY.items()}
EXPORTERS.update({
    "Trunc": _trunc, "Frac": _frac, "Round": _round, "Log2": _log_base(2),
    "Log10": _log_base(10), "Expm1": _expm1, "Log1p": _log1p, "Exp2": _exp2,
    "Rsqrt": _rsqrt, "Deg2Rad": _scaled(math.pi / 180), "Rad2Deg": _scaled(180 / math.pi),
    "Erfc": _erfc, "Sinc": _sinc, "Logit": _logit, "NanToNum": _nan_to_num,
    "Add": _binary("Add"), "Sub": _binary("Sub"), "Mul": _binary("Mul"),
    "Div": _binary("Div"), "FloorDivide": _floor_divide, "Remainder": _remainder,
    "Fmod": _fmod, "Pow": _pow, "PowScalar": _pow_scalar, "RPowScalar": _rpow_scalar,
    "Maximum": _maximum_minimum("Max"), "Minimum": _maximum_minimum("Min"),
    "Fmax": _fmax_fmin("Max"), "Fmin": _fmax_fmin("Min"), "Atan2": _atan2,
    "Hypot": _hypot, "Xlogy": _xlogy, "LogAddExp": _logaddexp, "Lerp": _lerp,
    "AddCMul": _addc("Mul"), "AddCDiv": _addc("Div"),
    "Eq": _compare("Equal"), "Ne": _compare("Equal", negate=True),
    "Gt": _compare("Greater"), "Ge": _compare("GreaterOrEqual"), "Lt": _compare("Less"),
    "Le": _compare("LessOrEqual"),
    "LogicalAnd": _logical("And"), "LogicalOr": _logical("Or"),
    "LogicalXor": _logical("Xor"), "LogicalNot": _logical("Not"),
    "BitwiseAnd": _bitwise("BitwiseAnd", "And"), "BitwiseOr": _bitwise("BitwiseOr", "Or"),
    "BitwiseXor": _bitwise("BitwiseXor", "Xor"), "BitwiseNot": _bitwise("BitwiseNot", "Not"),
    "IsNan": _is_nan, "IsInf": _is_inf(True, True), "IsPosInf": _is_inf(True, False),
    "IsNegInf": _is_inf(False, True), "IsFinite": _is_finite, "SignBit": _signbit,
    "IsClose": _isclose, "Where": _where, "ClampScalar": _clamp_scalar,
    "ClampTensor": _clamp_tensor,
})
