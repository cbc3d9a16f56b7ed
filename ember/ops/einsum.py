"""Einstein summation (``einsum``) and the products written with it: ``tensordot``,
``bilinear``.

``einsum`` turns the user's equation into a plain one (explicit output, ellipsis
replaced by letters, size-1 broadcast dims squeezed away) and runs one ``Einsum`` Op.
Its gradient for each operand is again one einsum, of the other operands and the
output gradient; an index repeated in the operand (a trace or diagonal) multiplies
in an identity matrix, and an index summed only inside it multiplies in a vector of
ones. So gradients of every order are einsums too.
"""

import collections
import re
import string

import numpy as np

from ember._errors import fmt_shape, runtime_error, shape_error, type_error
from ember.autograd.node import Op
from ember.ops._methods import write_out
from ember.tensor import Tensor

__all__ = ["bilinear", "einsum", "tensordot"]

# PyTorch's order of labels (sublist ints 0-25 are A-Z, 26-51 are a-z): A-Z before a-z.
_LETTERS = string.ascii_uppercase + string.ascii_lowercase
_TERM = re.compile(r"^[A-Za-z]*(\.\.\.)?[A-Za-z]*$")
_make = Tensor._make


class Einsum(Op):
    """``np.einsum`` of an equation with an explicit output and no ellipsis."""

    def forward(self, *arrays, equation):
        self.equation = equation
        self.shapes = [a.shape for a in arrays]
        if len(arrays) == 1:
            out = np.einsum(equation, arrays[0])
            # NumPy returns views for transposes and diagonals; results own their memory.
            return out.copy() if np.may_share_memory(out, arrays[0]) else out
        self.save_inputs(*range(len(arrays)))
        return np.einsum(equation, *arrays, optimize=True)

    def backward(self, grad_out):
        inputs = self.saved_inputs if len(self.shapes) > 1 else ()
        terms, out = _split(self.equation)
        return tuple(_operand_grad(k, terms, out, inputs, self.shapes[k], grad_out)
                     if need else None for k, need in enumerate(self.needs_input_grad))

    def op_name(self):
        return "einsum"


def _split(equation):
    lhs, out = equation.split("->")
    return lhs.split(","), out


def _operand_grad(k, terms, out, inputs, shape, grad_out):
    """d(sum(grad_out * einsum(...))) / d(operand k), as one einsum."""
    sub = [s for j, s in enumerate(terms) if j != k] + [out]
    ops = [t for j, t in enumerate(inputs) if j != k] + [grad_out]
    fresh = iter(c for c in _LETTERS if c not in "".join(terms) + out)
    dtype = grad_out._data.dtype
    target, sizes = [], {}
    for c, n in zip(terms[k], shape):
        if c in sizes:  # a repeated index: only its diagonal received the gradient
            f = next(fresh)
            sub.append(c + f)
            ops.append(_make(np.eye(n, dtype=dtype)))
            target.append(f)
        else:
            sizes[c] = n
            target.append(c)
    reached = set("".join(sub))
    for c, n in sizes.items():
        if c not in reached:  # summed inside this operand only: the gradient is broadcast
            sub.append(c)
            ops.append(_make(np.ones(n, dtype=dtype)))
    return Einsum.apply(*ops, equation=",".join(sub) + "->" + "".join(target))


# --- parsing -------------------------------------------------------------------------------


def _from_sublists(args):
    """``einsum(op1, [0, 1], op2, [1, 2], [0, 2])`` as an equation and operands."""
    def letters(sub):
        return "".join("..." if s is Ellipsis else _LETTERS[s] for s in sub)

    pairs = len(args) // 2
    operands, terms = list(args[0:2 * pairs:2]), [letters(s) for s in args[1:2 * pairs:2]]
    if len(args) % 2 == 0:
        return ",".join(terms), operands
    return ",".join(terms) + "->" + letters(args[-1]), operands


def _parse(equation, operands):
    """The equation with its output made explicit and each ``...`` replaced by letters."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise runtime_error("einsum", f"the equation {equation!r} has {len(terms)} operands "
                                      f"but {len(operands)} tensors were given")
    for term in terms + ([rhs] if arrow else []):
        if not _TERM.match(term):
            raise runtime_error("einsum", f"invalid subscripts {term!r} in {equation!r}: use "
                                          "letters and at most one '...' per operand")
    fresh = [c for c in _LETTERS if c not in equation]
    ranks = [_ellipsis_rank(term, t, i) for i, (term, t) in enumerate(zip(terms, operands))]
    ell = "".join(fresh[:max(ranks, default=0)])
    named = [term.replace("...", "") for term in terms]
    terms = [term.replace("...", ell[len(ell) - r:] if r else "") for term, r in zip(terms, ranks)]
    if arrow:
        out = rhs.replace("...", ell)
        for c in out:
            if out.count(c) > 1:
                raise runtime_error("einsum", f"output subscript {c} appears more than once "
                                              "in the output")
            if not any(c in term for term in terms):
                raise runtime_error("einsum", f"output subscript {c} does not appear in the "
                                              "equation for any input operand")
    else:
        counts = collections.Counter("".join(named))
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1))
    return terms, out


def _ellipsis_rank(term, t, i):
    """How many dims the ``...`` of operand ``i`` stands for (0 without one)."""
    n_named = len(term.replace("...", ""))
    if "..." not in term and n_named != t.ndim or t.ndim < n_named:
        raise runtime_error("einsum", f"the number of subscripts in the equation ({n_named}) "
                                      f"does not match the number of dimensions ({t.ndim}) "
                                      f"for operand {i} (shape {fmt_shape(t.shape)})"
                                      + ("" if "..." in term else " and no ellipsis was given"))
    return t.ndim - n_named if "..." in term else 0


def _broadcast_sizes(terms, operands):
    """Each index's size; a size-1 dim broadcasts against the others, as in PyTorch."""
    sizes = {}
    for i, (term, t) in enumerate(zip(terms, operands)):
        own = {}
        for c, n in zip(term, t.shape):
            if own.setdefault(c, n) != n:
                raise runtime_error("einsum", f"subscript {c} is repeated for operand {i} but "
                                              f"the sizes don't match, {own[c]} != {n}")
            if n != 1 and sizes.get(c, 1) not in (1, n):
                raise runtime_error("einsum", f"operands do not broadcast: subscript {c} has "
                                              f"size {n} for operand {i} (shape "
                                              f"{fmt_shape(t.shape)}) but size {sizes[c]} before")
            if n != 1 or c not in sizes:
                sizes[c] = n
    return sizes


def _squeeze_broadcast(terms, operands):
    """Drop the size-1 dims that broadcast: constant along an index, they need no label."""
    sizes = _broadcast_sizes(terms, operands)
    new_terms, new_ops = [], []
    for term, t in zip(terms, operands):
        keep = [i for i, (c, n) in enumerate(zip(term, t.shape)) if n == sizes[c]]
        if len(keep) < len(term):
            t = t.reshape(tuple(t.shape[i] for i in keep))
            term = "".join(term[i] for i in keep)
        new_terms.append(term)
        new_ops.append(t)
    return new_terms, new_ops


def _check_operands(op, operands):
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise type_error(op, f"operand {i} must be a Tensor, not {type(t).__name__}")
    dtypes = {t.dtype for t in operands}
    if len(dtypes) > 1:
        listed = ", ".join(str(t.dtype) for t in operands)
        raise runtime_error(op, f"expected all operands to have the same dtype, but got "
                                f"{listed}; cast them with .to(dtype) first")


def einsum(*args):
    """Sum of products of the operands' elements over the indices the equation names.

    ``einsum('ij,jk->ik', a, b)`` is ``a @ b``: each operand gets one letter per dim; a
    letter shared by operands multiplies along it, and the letters missing from the
    output (after ``->``) are summed over. Without ``->`` the output holds the letters
    that appear once, in alphabetical order. ``...`` stands for the broadcast leading
    dims; a letter repeated in one operand takes its diagonal (``'ii->'`` is a trace).
    The sublist form ``einsum(a, [0, 1], b, [1, 2], [0, 2])`` is accepted too.

    Args:
        equation: the subscripts, e.g. ``'bij,bjk->bik'``, ``'...ij->...ji'``, ``'ii->i'``.
        *operands: the tensors (or one list of them), all of one dtype.

    Returns:
        The contracted tensor, with one dim per output letter.

    Example:
        >>> import ember
        >>> ember.einsum('ii->', ember.eye(3))
        tensor(3.)
    """
    if args and not isinstance(args[0], str):
        equation, operands = _from_sublists(args)
    else:
        equation, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
    _check_operands("einsum", operands)
    terms, out = _parse(equation, operands)
    terms, operands = _squeeze_broadcast(terms, operands)
    return Einsum.apply(*operands, equation=",".join(terms) + "->" + out)


# --- products written as einsums -----------------------------------------------------------


def _tensordot_dims(a, b, dims):
    """``dims`` (an int, a pair of sequences, or a tensor) as two lists of dims."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise runtime_error("tensordot", f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise shape_error("tensordot", f"dims={dims} is more than the dims of "
                                           f"{fmt_shape(a.shape)} or {fmt_shape(b.shape)}")
        return list(range(a.ndim - dims, a.ndim)), list(range(dims))
    dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(dims_a) != len(dims_b):
        raise runtime_error("tensordot", f"both dimension lists should have same length, got "
                                         f"{dims_a} and {dims_b}")
    try:
        return ([range(a.ndim)[d] for d in dims_a], [range(b.ndim)[d] for d in dims_b])
    except IndexError:
        raise shape_error("tensordot", f"dims {dims_a} and {dims_b} are out of range for shapes "
                                       f"{fmt_shape(a.shape)} and {fmt_shape(b.shape)}") from None


def tensordot(a, b, dims=2, out=None):
    """Contract ``dims`` of ``a`` with ``dims`` of ``b``; the other dims of ``a``, then
    of ``b``, remain.

    Args:
        a, b: tensors of one dtype.
        dims: an int ``d`` (the last ``d`` dims of ``a`` with the first ``d`` of ``b``),
            or two lists of dims ``([a dims], [b dims])`` contracted pairwise.

    Returns:
        Tensor of shape ``free dims of a + free dims of b``.
    """
    _check_operands("tensordot", [a, b])
    dims_a, dims_b = _tensordot_dims(a, b, dims)
    for da, db in zip(dims_a, dims_b):
        if a.shape[da] != b.shape[db]:
            raise shape_error("tensordot", f"contracted dimensions need to match, but first has "
                                           f"size {a.shape[da]} in dim {da} and second has size "
                                           f"{b.shape[db]} in dim {db}")
    sub_a = _LETTERS[:a.ndim]
    sub_b = list(_LETTERS[a.ndim:a.ndim + b.ndim])
    for da, db in zip(dims_a, dims_b):
        sub_b[db] = sub_a[da]
    out_sub = ([c for i, c in enumerate(sub_a) if i not in dims_a]
               + [c for i, c in enumerate(sub_b) if i not in dims_b])
    equation = f"{sub_a},{''.join(sub_b)}->{''.join(out_sub)}"
    return write_out(Einsum.apply(a, b, equation=equation), out)


def _check_bilinear(input1, input2, weight, bias):
    named = [("input1", input1), ("input2", input2), ("weight", weight)]
    if bias is not None:
        named.append(("bias", bias))
    if len({t.dtype for _, t in named}) > 1:
        listed = ", ".join(f"{name}: {t.dtype}" for name, t in named)
        raise runtime_error("bilinear", f"all tensors must have the same dtype, got {listed}")
    if weight.ndim != 3:
        raise shape_error("bilinear", f"weight must be 3-D (out, in1, in2), but got shape "
                                      f"{fmt_shape(weight.shape)}")
    shapes = f"(input1 {fmt_shape(input1.shape)}, input2 {fmt_shape(input2.shape)})"
    if input1.ndim != input2.ndim or input1.shape[:-1] != input2.shape[:-1]:
        raise shape_error("bilinear", f"input batch dimensions do not match {shapes}")
    for name, t, n in (("input1", input1, weight.shape[1]), ("input2", input2, weight.shape[2])):
        if t.shape[-1] != n:
            raise shape_error("bilinear", f"{name} has {t.shape[-1]} features but weight "
                                          f"{fmt_shape(weight.shape)} expects {n} {shapes}")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise shape_error("bilinear", f"bias of shape {fmt_shape(bias.shape)} does not match "
                                      f"weight {fmt_shape(weight.shape)}: expected "
                                      f"({weight.shape[0]},)")


def bilinear(input1, input2, weight, bias=None):
    """``y[..., o] = sum_ij x1[..., i] W[o, i, j] x2[..., j] + b[o]`` (``F.bilinear``).

    Args:
        input1: ``(*, in1)``.
        input2: ``(*, in2)`` with the same leading dims.
        weight: ``(out, in1, in2)``.
        bias: optional ``(out,)``.

    Returns:
        ``(*, out)``.
    """
    for name, t in (("input1", input1), ("input2", input2), ("weight", weight)):
        if not isinstance(t, Tensor) or t.ndim == 0:
            raise type_error("bilinear", f"{name} must be a Tensor with at least 1 dimension")
    _check_bilinear(input1, input2, weight, bias)
    batch = _LETTERS[:input1.ndim - 1]
    out = Einsum.apply(input1, weight, input2, equation=f"{batch}i,oij,{batch}j->{batch}o")
    return out if bias is None else out + bias


FUNCTIONAL = ["bilinear"]

METHODS = {}
