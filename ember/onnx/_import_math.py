"""ONNX arithmetic, comparison, unary, matrix and reduction operators as ember ops.

Each function takes the node (an ``OnnxNode``) and the node's inputs, and returns its
output(s). ``OPS`` maps ONNX op_type -> function.
"""

import ember
from ember.onnx._import_values import as_tensor, ember_dtype, int_list

__all__ = ["OPS"]


# ---- elementwise ---------------------------------------------------------------------


def _div(node, a, b):
    a, b = as_tensor(a), as_tensor(b)
    if not (a.dtype.is_floating_point or b.dtype.is_floating_point):
        # ONNX divides integers with truncation (C); "/" would give floats.
        return ember.div(a, b, rounding_mode="trunc")
    return a / b


def _mod(node, a, b):
    # fmod=0 takes the divisor's sign (Python's %), fmod=1 the dividend's (C's fmod).
    fn = ember.fmod if node.attr("fmod", 0) else ember.remainder
    return fn(as_tensor(a), as_tensor(b))


def _pow(node, base, exponent):
    return ember.pow(as_tensor(base), as_tensor(exponent))


def _binary(fn):
    return lambda node, a, b: fn(as_tensor(a), as_tensor(b))


def _unary(fn):
    return lambda node, x: fn(as_tensor(x))


def _fold(fn):
    """A variadic ONNX op (Max, Min, Sum) as a left fold of a binary ember op."""
    def run(node, *values):
        out = as_tensor(values[0])
        for v in values[1:]:
            out = fn(out, as_tensor(v))
        return out
    return run


def _mean(node, *values):
    return _fold(ember.add)(node, *values) / len(values)


def _where(node, condition, a, b):
    return ember.where(as_tensor(condition).bool(), as_tensor(a), as_tensor(b))


def _cast(node, x):
    return as_tensor(x).to(ember_dtype(node.attr("to"), node.label))


def _cast_like(node, x, like):
    return as_tensor(x).to(as_tensor(like).dtype)


def _identity(node, x):
    return x


# ---- matrices ------------------------------------------------------------------------


def _gemm(node, a, b, c=None):
    """``alpha * A' @ B' + beta * C`` with ``'`` an optional transpose (2-D operands)."""
    a, b = as_tensor(a), as_tensor(b)
    a = a.t() if node.attr("transA", 0) else a
    b = b.t() if node.attr("transB", 0) else b
    alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
    out = a @ b
    out = out if alpha == 1.0 else out * alpha
    if c is None:
        return out
    c = as_tensor(c)
    return out + (c if beta == 1.0 else c * beta)


def _matmul(node, a, b):
    return ember.matmul(as_tensor(a), as_tensor(b))


def _einsum(node, *operands):
    return ember.einsum(node.attr("equation"), *[as_tensor(x) for x in operands])


# ---- reductions ----------------------------------------------------------------------


def _axes(node, x, axes_input, inputs_from):
    """The reduced axes: an attribute before opset ``inputs_from``, an input since."""
    if node.opset < inputs_from:
        axes = node.attr("axes")
    else:
        axes = None if axes_input is None else int_list(axes_input, node, "axes")
    if not axes:
        # An empty list reduces nothing when noop_with_empty_axes is set, else everything.
        return None if node.attr("noop_with_empty_axes", 0) else tuple(range(x.ndim))
    return tuple(a % x.ndim if x.ndim else 0 for a in axes)


def _reduction(reduce, inputs_from=18):
    def run(node, x, axes=None):
        x = as_tensor(x)
        dims = _axes(node, x, axes, inputs_from)
        if dims is None:
            return x
        return reduce(x, dims, bool(node.attr("keepdims", 1)))
    return run


def _prod(x, dims, keepdim):
    for d in sorted(dims, reverse=True):
        x = ember.prod(x, dim=d, keepdim=keepdim)
    return x


def _arg(fn):
    def run(node, x):
        x = as_tensor(x)
        if node.attr("select_last_index", 0):
            # The last of equal extremes is the first one of the reversed axis.
            axis = node.attr("axis", 0) % x.ndim
            first = fn(x.flip(axis), dim=axis, keepdim=bool(node.attr("keepdims", 1)))
            return (x.shape[axis] - 1) - first
        return fn(x, dim=node.attr("axis", 0), keepdim=bool(node.attr("keepdims", 1)))
    return run


def _cumsum(node, x, axis):
    x = as_tensor(x)
    dim = int_list(axis, node, "axis")[0]
    if node.attr("reverse", 0):
        out = ember.cumsum(x.flip(dim), dim).flip(dim)
    else:
        out = ember.cumsum(x, dim)
    # exclusive=1 leaves out each element itself.
    return out - x if node.attr("exclusive", 0) else out


OPS = {
    "Add": _binary(ember.add), "Sub": _binary(ember.sub), "Mul": _binary(ember.mul),
    "Div": _div, "Mod": _mod, "Pow": _pow,
    "Equal": _binary(ember.eq), "Less": _binary(ember.lt), "Greater": _binary(ember.gt),
    "LessOrEqual": _binary(ember.le), "GreaterOrEqual": _binary(ember.ge),
    "And": _binary(ember.logical_and), "Or": _binary(ember.logical_or),
    "Xor": _binary(ember.logical_xor), "Not": _unary(ember.logical_not),
    "Max": _fold(ember.maximum), "Min": _fold(ember.minimum), "Sum": _fold(ember.add),
    "Mean": _mean, "Where": _where,
    "Neg": _unary(ember.neg), "Abs": _unary(ember.abs), "Sqrt": _unary(ember.sqrt),
    "Exp": _unary(ember.exp), "Log": _unary(ember.log), "Tanh": _unary(ember.tanh),
    "Sigmoid": _unary(ember.sigmoid), "Erf": _unary(ember.erf),
    "Reciprocal": _unary(ember.reciprocal), "Floor": _unary(ember.floor),
    "Ceil": _unary(ember.ceil), "Round": _unary(ember.round), "Sign": _unary(ember.sign),
    "Sin": _unary(ember.sin), "Cos": _unary(ember.cos), "Tan": _unary(ember.tan),
    "IsNaN": _unary(ember.isnan), "IsInf": _unary(ember.isinf),
    "Cast": _cast, "CastLike": _cast_like, "Identity": _identity,
    "Gemm": _gemm, "MatMul": _matmul, "Einsum": _einsum,
    "ReduceSum": _reduction(lambda x, d, k: ember.sum(x, d, k), inputs_from=13),
    "ReduceMean": _reduction(lambda x, d, k: ember.mean(x, d, k)),
    "ReduceMax": _reduction(lambda x, d, k: ember.amax(x, d, k)),
    "ReduceMin": _reduction(lambda x, d, k: ember.amin(x, d, k)),
    "ReduceProd": _reduction(_prod),
    "ReduceSumSquare": _reduction(lambda x, d, k: ember.sum(x * x, d, k)),
    "ReduceL2": _reduction(lambda x, d, k: ember.sqrt(ember.sum(x * x, d, k))),
    "ReduceLogSumExp": _reduction(lambda x, d, k: ember.logsumexp(x, d, k)),
    "ArgMax": _arg(ember.argmax), "ArgMin": _arg(ember.argmin), "CumSum": _cumsum,
}
