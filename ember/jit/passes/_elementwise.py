"""What the passes and the executor know about elementwise ops.

``FUSABLE`` lists the ops of ``ember/ops/arithmetic.py`` (and ``abs``), ``unary.py`` and
``activation.py`` (with the smooth activations of ``_smooth.py``) whose output element
``i`` depends only on element ``i`` of each (broadcast) input: chains of them can run as
one loop. Random ops (``RreluTrain``) are left out on purpose: see ``is_random``.

Two faster forms of some of these ops, both giving the results of the op's ``forward``:

- ``out_form(target)``: the op written into a given output array (NumPy's ``out=``), so
  the executor can reuse a dead input's buffer instead of allocating;
- ``scalar_form(target, params, args)``: one line of Numba-compilable Python computing
  one element, from which ``FusedElementwise`` builds a single compiled loop.
"""

import math

import numpy as np

__all__ = ["FUSABLE", "FRESH", "RANDOM", "is_random", "out_form", "scalar_form"]

_ARITHMETIC = ("Add", "Sub", "Mul", "Div", "Neg", "Pow", "PowScalar", "RPowScalar",
               "Remainder", "Fmod", "Abs")
_UNARY = ("Exp", "Exp2", "Expm1", "Log", "Log2", "Log10", "Log1p", "Sqrt", "Rsqrt", "Sin",
          "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Tanh", "Asinh", "Acosh",
          "Atanh", "Sigmoid", "Logit", "Erf", "Erfc", "Erfinv", "Deg2Rad", "Rad2Deg", "Sinc",
          "NanToNum")
_ACTIVATION = ("Relu", "Hardtanh", "LeakyRelu", "Hardsigmoid", "Hardshrink", "Softshrink",
               "Threshold", "Prelu", "Elu", "Gelu", "Silu", "Mish", "Hardswish", "Softplus",
               "Logsigmoid", "Tanhshrink", "Softsign")

FUSABLE = frozenset(_ARITHMETIC + _UNARY + _ACTIVATION)

# Ops whose forward always returns newly allocated memory (never a view of an input, a
# constant or a cached array): a buffer they produce may be overwritten once it is dead.
FRESH = FUSABLE | {"FusedElementwise", "Linear", "MatMul", "Conv"}

# Ops that draw from a random generator when they run.
RANDOM = frozenset({"RreluTrain"})


def is_random(node):
    """True when running ``node`` draws random numbers (each run differs, and it advances
    the generator): such nodes are never merged, folded, fused or dropped. A control-flow
    node is random when one of its subgraphs holds a random op."""
    if node.target in RANDOM or "generator" in node.params:
        return True
    return any(is_random(n) for g in _subgraphs(node.params) for n in g.nodes)


def _subgraphs(params):
    for p in params.values():
        for g in p if isinstance(p, (list, tuple)) else (p,):
            if hasattr(g, "nodes") and hasattr(g, "out_spec"):  # a Graph (no import cycle)
                yield g


# ---- NumPy into an output array ------------------------------------------------------------

def _ufunc1(ufunc):
    def run(out, x):
        with np.errstate(all="ignore"):
            return ufunc(x, out=out)
    return run


def _ufunc2(ufunc):
    def run(out, a, b):
        with np.errstate(all="ignore"):
            return ufunc(a, b, out=out)
    return run


def _relu(out, x):
    return np.maximum(x, 0, out=out)


def _sigmoid(out, x):
    np.negative(x, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    return np.reciprocal(out, out=out)


def _pow_scalar(out, x, exponent):
    return np.power(x, exponent, out=out)


_OUT_FORMS = {
    "Add": _ufunc2(np.add), "Sub": _ufunc2(np.subtract), "Mul": _ufunc2(np.multiply),
    "Div": _ufunc2(np.divide), "Neg": _ufunc1(np.negative), "Relu": _relu,
    "Sigmoid": _sigmoid, "PowScalar": _pow_scalar,
    "Exp": _ufunc1(np.exp), "Exp2": _ufunc1(np.exp2), "Expm1": _ufunc1(np.expm1),
    "Log": _ufunc1(np.log), "Log2": _ufunc1(np.log2), "Log10": _ufunc1(np.log10),
    "Log1p": _ufunc1(np.log1p), "Sqrt": _ufunc1(np.sqrt), "Sin": _ufunc1(np.sin),
    "Cos": _ufunc1(np.cos), "Tan": _ufunc1(np.tan), "Tanh": _ufunc1(np.tanh),
    "Sinh": _ufunc1(np.sinh), "Cosh": _ufunc1(np.cosh), "Abs": _ufunc1(np.abs),
}


def out_form(target, dtype):
    """``fn(out, *arrays, **params)`` writing ``target``'s result into ``out``, or None.

    Only for float32/float64: the ops compute half precision in float32 and integers
    follow their own promotion, which ``out=`` would change.
    """
    if np.dtype(dtype) not in (np.float32, np.float64):
        return None
    return _OUT_FORMS.get(target)


# ---- one element, for a compiled loop ------------------------------------------------------

# NOTE [when the compiled loop pays]: a fused chain runs as one Numba loop only when every
# op in it is cheap per element, so that LLVM vectorizes the loop and the one pass over
# memory beats one NumPy pass per op. Measured (one thread on a loaded 2-core machine,
# best of 30, executor with and without the loop) on ``((x + b) * 0.5 - 1).relu() * x + b``:
# (256, 1024)
# float32 0.105 ms compiled vs 0.261 ms NumPy, float64 0.075 vs 0.423 ms; (64, 128) equal.
# Transcendentals are the other way round: NumPy's exp/tanh/sin are SIMD, Numba's calls
# to libm are scalar, so ``((x * 0.5 + 1).tanh() * x).relu().exp() - 1`` took 10.7 ms
# compiled vs 0.41 ms NumPy; such chains keep the NumPy path (into one buffer). The
# exception is erf in float64 (exact GELU): libm's erf beats the ~20 NumPy passes of
# ``ember.ops._special.erf`` (gelu(x + b), (256, 1024): 3.5 ms vs 17.3 ms); in float32
# the Gelu op's own compiled kernel (``ember.backend.gelu_kernels``) is faster still.

_SQRT1_2 = math.sqrt(0.5)
_BINARY = {"Add": "+", "Sub": "-", "Mul": "*", "Div": "/"}
_UNARY_FORMS = {"Neg": "-{0}", "Abs": "abs({0})", "Sqrt": "math.sqrt({0})",
                "Relu": "{0} if ({0} > 0 or {0} != {0}) else 0.0"}
_FLOAT64_FORMS = {"Erf": "math.erf({0})",
                  "Gelu": f"0.5 * {{0}} * (1.0 + math.erf({{0}} * {_SQRT1_2!r}))"}


def scalar_form(target, params, a, dtype):
    """Numba-compilable Python for one element of ``target`` applied to the names ``a``
    (one per input) in ``dtype``, or None when the compiled loop would not pay for it
    (see NOTE [when the compiled loop pays])."""
    if target in _BINARY:
        return f"{a[0]} {_BINARY[target]} {a[1]}"
    if target in _UNARY_FORMS:
        return _UNARY_FORMS[target].format(a[0])
    if (target in _FLOAT64_FORMS and np.dtype(dtype) == np.float64
            and params.get("approximate", "none") == "none"):
        return _FLOAT64_FORMS[target].format(a[0])
    if target == "PowScalar" and type(params["exponent"]) is int:
        return f"{a[0]} ** {params['exponent']!r}"
    if target == "LeakyRelu":
        return f"{a[0]} if {a[0]} > 0 else {a[0]} * {float(params['negative_slope'])!r}"
    if target == "Hardtanh":
        lo, hi = float(params["min_val"]), float(params["max_val"])
        return f"{lo!r} if {a[0]} < {lo!r} else ({hi!r} if {a[0]} > {hi!r} else {a[0]})"
    return None
