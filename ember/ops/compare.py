"""Comparisons and selections: ``== < >`` and friends, ``maximum``/``minimum``, ``where``
and ``clamp``.

Comparisons promote their operands as PyTorch does (an int tensor compared with ``1.5``
compares as floats) and give bool tensors without gradients. The selecting ops
(``maximum``, ``where``, ``clamp``) route the gradient to the operand that was chosen,
with PyTorch's conventions at ties: ``maximum`` and ``minimum`` split it in half,
``clamp`` passes it through at the bounds.
"""

import numbers

import numpy as np

from ember._dtype import result_type
from ember._errors import runtime_error
from ember.autograd.node import Op
from ember.ops._methods import inplace_all, write_out
from ember.ops._promote import as_tensor, promote, promote_all
from ember.ops.gather import Nonzero
from ember.tensor import Tensor

__all__ = [
    "clamp", "clamp_max", "clamp_min", "clip", "eq", "fmax", "fmin", "ge", "greater",
    "greater_equal", "gt", "le", "less", "less_equal", "lt", "maximum", "minimum", "ne",
    "not_equal", "where",
]

_make = Tensor._make


# ---- comparisons ------------------------------------------------------------------------

class _Compare(Op):
    """A comparison ufunc of two same-dtype arrays; bool result, no gradient."""

    differentiable = False
    ufunc = None

    def forward(self, a, b):
        return self.ufunc(a, b)


class Eq(_Compare):
    ufunc = np.equal


class Ne(_Compare):
    ufunc = np.not_equal


class Lt(_Compare):
    ufunc = np.less


class Le(_Compare):
    ufunc = np.less_equal


class Gt(_Compare):
    ufunc = np.greater


class Ge(_Compare):
    ufunc = np.greater_equal


def _same_dtype(a, b):
    """``(a, b)`` as Tensors of PyTorch's common dtype, outside the graph (no gradient flows)."""
    if isinstance(a, Tensor) and isinstance(b, Tensor) and a._data.dtype == b._data.dtype:
        return a, b
    d = result_type(a, b).np
    return _const(a, d), _const(b, d)


def _const(x, np_dtype):
    if isinstance(x, Tensor):
        return x if x._data.dtype == np_dtype else _make(x._data.astype(np_dtype))
    if not isinstance(x, (numbers.Number, np.generic)):
        raise TypeError(f"expected a Tensor or a number, got {type(x).__name__}")
    try:
        return _make(np.asarray(x, dtype=np_dtype))
    except OverflowError:  # PyTorch wraps, e.g. -1 compared with a uint8 tensor is 255
        return _make(np.array(x).astype(np_dtype))


def _comparison(op_cls, name):
    def compare(input, other, *, out=None):
        a, b = _same_dtype(input, other)
        return write_out(op_cls.apply(a, b), out)

    compare.__name__ = name
    compare.__doc__ = (f"Elementwise ``{name}`` after PyTorch's type promotion; "
                       "returns a bool tensor.")
    return compare


eq = _comparison(Eq, "eq")
ne = not_equal = _comparison(Ne, "ne")
lt = less = _comparison(Lt, "lt")
le = less_equal = _comparison(Le, "le")
gt = greater = _comparison(Gt, "gt")
ge = greater_equal = _comparison(Ge, "ge")


def _operator(fn):
    """``self OP other``; unknown operand types give NotImplemented (so ``t == None`` is False)."""

    def method(self, other):
        if not isinstance(other, (Tensor, numbers.Number, np.generic)):
            return NotImplemented
        return fn(self, other)

    method.__name__ = f"__{fn.__name__}__"
    return method


# ---- maximum, minimum, fmax, fmin -----------------------------------------------------

class _Select2(Op):
    """Elementwise choice between two tensors; ``routes`` says where the gradient goes.

    ``routes(a, b)`` gives the masks of elements whose gradient reaches ``a`` and ``b``,
    and the mask of ties where each gets half (None when the op never splits).
    """

    def forward(self, a, b):
        self.save_inputs(0, 1)
        return self.ufunc(a, b)

    def backward(self, grad_out):
        a, b = self.saved_inputs
        to_a, to_b, tie = self.routes(a._data, b._data)
        if tie is not None and tie.any():
            grad_out = grad_out * _make(np.where(tie, 0.5, 1.0).astype(grad_out._data.dtype))
        need_a, need_b = self.needs_input_grad
        return (masked_grad(to_a, grad_out) if need_a else None,
                masked_grad(to_b, grad_out) if need_b else None)


class Maximum(_Select2):
    ufunc = np.maximum

    @staticmethod
    def routes(a, b):
        # Where a NaN makes every comparison false, PyTorch gives both sides the gradient.
        return ~(a < b), ~(a > b), a == b


class Minimum(_Select2):
    ufunc = np.minimum

    @staticmethod
    def routes(a, b):
        return ~(a > b), ~(a < b), a == b


class Fmax(_Select2):
    """Like maximum but ignoring NaN; ties go to ``a`` (PyTorch's rule)."""

    ufunc = np.fmax

    @staticmethod
    def routes(a, b):
        to_a = (a >= b) | np.isnan(b)
        return to_a, ~to_a, None


class Fmin(_Select2):
    ufunc = np.fmin

    @staticmethod
    def routes(a, b):
        to_a = (a <= b) | np.isnan(b)
        return to_a, ~to_a, None


def maximum(input, other, *, out=None):
    """Elementwise ``max(input, other)``, NaN-propagating; ties split the gradient in half.

    Example:
        >>> import ember
        >>> ember.maximum(ember.tensor([1.0, 5.0]), ember.tensor([3.0, 2.0]))
        tensor([3., 5.])
    """
    return write_out(Maximum.apply(*promote(input, other)), out)


def minimum(input, other, *, out=None):
    """Elementwise ``min(input, other)``, NaN-propagating; ties split the gradient in half."""
    return write_out(Minimum.apply(*promote(input, other)), out)


def fmax(input, other, *, out=None):
    """Elementwise max that ignores NaN (returns the other value where one side is NaN)."""
    return write_out(Fmax.apply(*promote(input, other)), out)


def fmin(input, other, *, out=None):
    """Elementwise min that ignores NaN (returns the other value where one side is NaN)."""
    return write_out(Fmin.apply(*promote(input, other)), out)


# ---- where ------------------------------------------------------------------------------

class Where(Op):
    """``condition ? x : y`` elementwise; the gradient goes to the side that was chosen."""

    def forward(self, condition, x, y):
        self.save_inputs(0)
        return np.where(condition, x, y)

    def backward(self, grad_out):
        (condition,) = self.saved_inputs
        zero = _make(np.zeros((), grad_out._data.dtype))
        _, need_x, need_y = self.needs_input_grad
        grad_x = Where.apply(condition, grad_out, zero) if need_x else None
        grad_y = Where.apply(condition, zero, grad_out) if need_y else None
        return None, grad_x, grad_y


def _condition(condition):
    if not isinstance(condition, Tensor) or condition._data.dtype == np.bool_:
        return as_tensor(condition)
    if condition._data.dtype == np.uint8:
        return _make(condition._data.astype(np.bool_))
    raise runtime_error("where", "expected condition to be a boolean tensor, but got a tensor "
                                 f"with dtype {condition.dtype.name.capitalize()}")


def where(condition, input=None, other=None, *, out=None):
    """``input`` where ``condition`` is true, else ``other``; both may be numbers.

    ``out[i] = input[i] if condition[i] else other[i]``, all three broadcast together.
    With only ``condition``, returns the tuple of index tensors of its true elements
    (``nonzero(as_tuple=True)``).

    Args:
        condition: bool tensor.
        input, other: tensors or numbers, promoted to a common dtype.

    Returns:
        A tensor of the broadcast shape.

    Example:
        >>> import ember
        >>> x = ember.tensor([-1.0, 2.0, -3.0])
        >>> ember.where(x > 0, x, 0.0)
        tensor([0., 2., 0.])
    """
    condition = _condition(condition)
    if input is None and other is None:
        return Nonzero.apply(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where() takes either only a condition, or a condition, input and other")
    x, y = promote(input, other)
    return write_out(Where.apply(condition, x, y), out)


def _where_method(self, condition, other):
    return where(condition, self, other)


def masked_grad(mask, grad_out):
    """``grad_out`` where ``mask`` (a bool array) is true, else 0; differentiable in grad_out."""
    return Where.apply(_make(mask), grad_out, _make(np.zeros((), grad_out._data.dtype)))


# ---- clamp ------------------------------------------------------------------------------

class ClampScalar(Op):
    """Clamp between two numbers (either may be None); gradient 1 on [min, max], 0 outside."""

    def forward(self, x, min, max):
        self.save_inputs(0)
        self.min, self.max = min, max
        out = x if min is None else np.maximum(x, min)
        if max is not None:
            reuse = out is not x and type(out) is np.ndarray
            out = np.minimum(out, max, out=out if reuse else None)
        return out

    def backward(self, grad_out):
        (x,) = self.saved_inputs
        return masked_grad(_inside(x._data, self.min, self.max), grad_out)


def _inside(x, lo, hi):
    if lo is None:
        return x <= hi
    return x >= lo if hi is None else (x >= lo) & (x <= hi)


class ClampTensor(Op):
    """Clamp between tensors (either may be absent). The bound that was hit gets the gradient."""

    def forward(self, x, *bounds, has_min, has_max):
        self.save_inputs(*range(1 + len(bounds)))
        self.has_min, self.has_max = has_min, has_max
        lo = bounds[0] if has_min else None
        hi = bounds[-1] if has_max else None
        out = x if lo is None else np.maximum(x, lo)
        return out if hi is None else np.minimum(out, hi)

    def backward(self, grad_out):
        x, *bounds = (t._data for t in self.saved_inputs)
        lo = bounds[0] if self.has_min else None
        hi = bounds[-1] if self.has_max else None
        grads = [masked_grad(_inside(x, lo, hi), grad_out) if self.needs_input_grad[0] else None]
        # PyTorch's rule when min > max: everything is clamped to max, which gets the gradient.
        if lo is not None:
            below = x < lo if hi is None else (x < lo) & (lo < hi)
            grads.append(masked_grad(below, grad_out) if self.needs_input_grad[1] else None)
        if hi is not None:
            above = x > hi if lo is None else (x > hi) | (hi < lo)
            grads.append(masked_grad(above, grad_out) if self.needs_input_grad[-1] else None)
        return tuple(grads)


def clamp(input, min=None, max=None, *, out=None):
    """Limit every element to ``[min, max]``: ``out = minimum(maximum(input, min), max)``.

    Args:
        input: tensor of any shape.
        min, max: numbers or tensors broadcastable with ``input``; at least one is given.
            Where ``min > max`` the result is ``max``.

    Returns:
        A tensor of the promoted dtype. The gradient is 1 where ``min <= input <= max``
        and 0 elsewhere; tensor bounds receive the gradient where they were hit.

    Example:
        >>> import ember
        >>> ember.tensor([-2.0, 0.5, 3.0]).clamp(-1, 1)
        tensor([-1.0000,  0.5000,  1.0000])
    """
    if min is None and max is None:
        raise runtime_error("clamp", "At least one of 'min' or 'max' must not be None")
    bounds = [b for b in (min, max) if b is not None]
    if not any(isinstance(b, Tensor) for b in bounds):
        x = input if _keeps_dtype(input, bounds) else promote_all(input, *bounds)[0]
        lo, hi = (_scalar(b, x) for b in (min, max))
        return write_out(ClampScalar.apply(x, min=lo, max=hi), out)
    x, *bounds = promote_all(input, *bounds)
    result = ClampTensor.apply(x, *bounds, has_min=min is not None, has_max=max is not None)
    return write_out(result, out)


def _keeps_dtype(x, bounds):
    """The common case: number bounds that cannot change the tensor's dtype."""
    kind = x._data.dtype.kind
    if kind == "f":
        return all(type(b) in (int, float) for b in bounds)
    return kind in "iu" and all(type(b) is int for b in bounds)


def _scalar(bound, x):
    """A number bound in ``x``'s dtype, so NumPy cannot widen the result."""
    return None if bound is None else x._data.dtype.type(bound)


def clamp_min(input, min):
    """``maximum(input, min)`` with clamp's gradient rule."""
    return clamp(input, min=min)


def clamp_max(input, max):
    """``minimum(input, max)`` with clamp's gradient rule."""
    return clamp(input, max=max)


clip = clamp


# ---- Tensor methods ---------------------------------------------------------------------

METHODS = {
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge, "greater": gt,
    "greater_equal": ge, "less": lt, "less_equal": le, "not_equal": ne,
    "__eq__": _operator(eq), "__ne__": _operator(ne), "__lt__": _operator(lt),
    "__le__": _operator(le), "__gt__": _operator(gt), "__ge__": _operator(ge),
    "maximum": maximum, "minimum": minimum, "fmax": fmax, "fmin": fmin,
    "where": _where_method, "clamp": clamp, "clip": clamp, "clamp_min": clamp_min,
    "clamp_max": clamp_max,
}
METHODS.update(inplace_all({
    "eq_": eq, "ne_": ne, "lt_": lt, "le_": le, "gt_": gt, "ge_": ge, "greater_": gt,
    "greater_equal_": ge, "less_": lt, "less_equal_": le, "not_equal_": ne,
    "clamp_": clamp, "clip_": clamp, "clamp_min_": clamp_min, "clamp_max_": clamp_max,
}))

FUNCTIONAL = []
