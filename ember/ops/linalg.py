"""Linear algebra: matmul (batched, broadcasting), linear layers' math, and products.

``einsum``, ``tensordot`` and ``bilinear`` live in ``ember.ops.einsum``.
"""

import numpy as np

from ember._errors import fmt_shape, runtime_error, shape_error
from ember._threads import blas_products, products_for
from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Op
from ember.backend.threads import pieces, split
from ember.ops._methods import inplace_all, write_out
from ember.ops._promote import promote
from ember.ops.einsum import Einsum, tensordot

__all__ = [
    "addbmm",
    "addmm",
    "addmv",
    "baddbmm",
    "bmm",
    "dot",
    "ger",
    "inner",
    "matmul",
    "mm",
    "mv",
    "outer",
    "vdot",
]


class MatMul(Op):
    """``a @ b`` with NumPy's rules: 1-D operands are promoted and the batch dims broadcast."""

    def forward(self, a, b):
        self.save_inputs(0, 1)
        return np.matmul(a, b)

    def backward(self, grad_out):
        a, b = self.saved_inputs
        need_a, need_b = self.needs_input_grad
        if a.ndim == 1 and b.ndim == 1:
            return grad_out * b, grad_out * a
        # Treat a 1-D operand as a matrix with one row (a) or one column (b).
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(1) if b.ndim == 1 else b
        g = grad_out.unsqueeze(-2) if a.ndim == 1 else grad_out
        g = g.unsqueeze(-1) if b.ndim == 1 else g
        grad_a = grad_b = None
        if need_a:
            grad_a = g @ b2.mT
            if a.ndim == 1:
                grad_a = grad_a.sum_to_size(a2.shape).reshape(a.shape)
        if need_b:
            grad_b = a2.mT @ g
            if b.ndim == 1:
                grad_b = grad_b.sum_to_size(b2.shape).reshape(b.shape)
        return grad_a, grad_b

    def error(self, inputs, params, exc):
        a, b = (t._data.shape for t in inputs)
        if not a or not b:
            return shape_error("matmul", "both arguments need at least 1 dimension, got "
                                         f"{fmt_shape(a)} and {fmt_shape(b)}")
        ka, kb = a[-1], (b[-2] if len(b) > 1 else b[0])
        if ka != kb:
            return shape_error("matmul", f"cannot multiply {fmt_shape(a)} by {fmt_shape(b)}: "
                                         f"inner sizes {ka} and {kb} differ")
        return shape_error("matmul", f"batch dimensions of {fmt_shape(a)} and {fmt_shape(b)} "
                                     "cannot be broadcast")


# NOTE [split products]: OpenBLAS stays at one thread (ember._threads), so a product of at
# least this many multiply-adds runs in pieces on ember's threads (ember.backend.threads),
# each piece a one-thread BLAS call writing its own block of the output. A product is cut
# along the longer side of its output, one piece per thread: (128, 784) @ (784, 512) took
# 1.07 ms whole, 0.61 ms by columns and 0.64 ms by rows (0.79 ms in four row blocks),
# OpenBLAS's own two threads 0.56 ms; (1024, 128) @ (128, 384) 1.0 ms whole, 0.55 ms by
# rows, 0.83 ms by columns (2 idle cores). The transformer step took 51 ms unsplit and
# 34 ms split (55 and 59 ms with another process spinning on a core). Below this size
# (every product of a 64-token inference call) handing pieces over costs more than the
# second thread saves: a split costs 8 us empty, 30 us around a (64, 256) @ (256, 256).
_SPLIT_WORK = 1 << 24


def product_pieces(rows, work):
    """How many pieces a product (or products) of ``work`` multiply-adds over ``rows``
    output rows runs in on ember's threads: 1 below ``_SPLIT_WORK``, and 1 while OpenBLAS
    threads products itself (``ember._threads.blas_products``)."""
    return 1 if blas_products() else pieces(rows, work, _SPLIT_WORK)


def _products(pairs, work, inference=False, equal=False, bias=None):
    """``[a @ b for a, b in pairs]`` (2-D arrays of one dtype), split when ``work`` is large.

    ``inference``: a forward product outside autograd (NOTE [inference products] in
    ember/_threads.py); backward's products run in training.

    All the products' pieces form one queue of tasks, so a thread that finishes its share
    of one product takes the next one's, and no thread waits between them. ``equal``: the
    products have equal work, so with one thread per product each runs whole, and no
    operand is packed twice. ``bias``
    (one product only): a ``(columns,)`` array added to the result, piece by piece.
    """
    rows = max(a.shape[0] for a, _ in pairs)
    count = product_pieces(rows, work)
    if count == 1:
        products_for(inference)
        outs = [a @ b for a, b in pairs]
        if bias is not None:
            outs[0] += bias
        return outs
    outs, tasks, whole = [], [], equal and len(pairs) == count
    for a, b in pairs:
        out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
        outs.append(out)
        by_rows = whole or a.shape[0] >= b.shape[1]
        n = a.shape[0] if by_rows else b.shape[1]
        cuts = 1 if whole else count
        tasks += [(a, b, out, by_rows, n * i // cuts, n * (i + 1) // cuts) for i in range(cuts)]

    def run(first, stop):
        for a, b, out, by_rows, lo, hi in tasks[first:stop]:
            if by_rows:
                block = np.matmul(a[lo:hi], b, out=out[lo:hi])
                if bias is not None:
                    block += bias
            else:
                block = np.matmul(a, b[:, lo:hi], out=out[:, lo:hi])
                if bias is not None:
                    block += bias[lo:hi]

    weights = [(hi - lo) * a.shape[1] * (b.shape[1] if by_rows else a.shape[0])
               for a, b, _, by_rows, lo, hi in tasks]
    split(run, len(tasks), count, per_thread=max(1, len(tasks) // count), weights=weights)
    return outs


def _product(a, b, bias=None):
    """``a @ b (+ bias)`` for 2-D arrays of one dtype in a forward pass; a large one in
    pieces (each adding its share of ``bias``, a ``(columns,)`` array, while it is hot)."""
    work = a.shape[0] * a.shape[1] * b.shape[1]
    if work < _SPLIT_WORK or blas_products():  # one whole call: no queue to build
        products_for(not GradMode.enabled)
        out = a @ b
        if bias is not None:
            out += bias
        return out
    return _products([(a, b)], work, not GradMode.enabled, bias=bias)[0]


def _linear_grads(g, x, w, need_x, need_w):
    """``(g @ w, g.T @ x)`` (None where not needed) for 2-D ``g (M, out)``, ``x (M, in)``.

    Large, both products run on ember's threads (``_products``) and every piece writes its
    own block, so no partial sums are added. Both are ``M * out * in`` multiply-adds, so
    at two threads each thread runs one whole product and no operand is packed twice
    (mlp's (128, 256) x (256, 512) layer: 393 us against 449 us as four half products; the
    transformer's layers 0.97-1.0x). One product is cut along its output's longer side.
    """
    work = g.shape[0] * g.shape[1] * w.shape[1] * (bool(need_x) + bool(need_w))
    if work < _SPLIT_WORK or blas_products():  # whole calls: no queue to build
        products_for(False)
        return (g @ w if need_x else None), (g.T @ x if need_w else None)
    pairs = ([(g, w)] if need_x else []) + ([(g.T, x)] if need_w else [])
    outs = iter(_products(pairs, work, equal=True))
    return (next(outs) if need_x else None), (next(outs) if need_w else None)


class Linear(Op):
    """``x @ w.T (+ b)`` in one BLAS call, without copying ``w.T``.

    Fused because every ``nn.Linear`` runs it: one node instead of transpose, matmul and
    add, and the leading dims of a contiguous ``x`` are merged into one matrix.
    """

    def forward(self, x, w, b=None):
        self.save_inputs(0, 1)
        self.bias_shape = None if b is None else b.shape
        row_bias = b if b is not None and b.shape == w.shape[:1] else None
        if x.ndim > 2 and x.flags.c_contiguous:
            out = _product(x.reshape(-1, x.shape[-1]), w.T, row_bias)
            out = out.reshape(x.shape[:-1] + (w.shape[0],))
        elif x.ndim == 2:
            out = _product(x, w.T, row_bias)
        else:
            out = np.matmul(x, w.T)
            row_bias = None
        if b is not None and row_bias is None:
            out += b
        return out

    def backward(self, grad_out):
        x, w = self.saved_inputs
        need = self.needs_input_grad
        if not GradMode.enabled:
            grads = iter(LinearBackward.apply(grad_out, x, w, needs=need,
                                              bias_shape=self.bias_shape))
            return tuple(next(grads) if n else None for n in need)
        out_f, in_f = w.shape
        # One (rows, out) matrix for both products: a batched 3-D matmul is a loop of small
        # BLAS calls, measured 40x slower under thread contention. Already 2-D (the usual
        # batch), no Reshape nodes at all: each costs a few us of overhead.
        g2 = grad_out if grad_out.ndim == 2 else grad_out.reshape(-1, out_f)
        grad_x = grad_w = None
        if need[0]:
            grad_x = g2 @ w
            if grad_out.ndim != 2:
                grad_x = grad_x.reshape(x.shape)
        if need[1]:
            grad_w = g2.mT @ (x if x.ndim == 2 else x.reshape(-1, in_f))
        # The engine sums the bias gradient back over the broadcast (batch) dims.
        return (grad_x, grad_w) + ((grad_out,) if len(need) > 2 else ())


class LinearBackward(Op):
    """``Linear``'s gradients on arrays, in one op (used when not ``create_graph``).

    Returns one array per true entry of ``needs``. The bias gradient of a ``(out,)`` bias
    is summed here (one reduction over the merged rows); any other bias shape gets
    ``grad_out`` for the engine to sum back.
    """

    differentiable = False

    def forward(self, grad_out, x, w, needs, bias_shape):
        out_f, in_f = w.shape
        g2 = grad_out.reshape(-1, out_f)
        grad_x, grad_w = _linear_grads(g2, x.reshape(-1, in_f), w, needs[0], needs[1])
        grads = [grad_x.reshape(x.shape)] if needs[0] else []
        if needs[1]:
            grads.append(grad_w)
        if len(needs) > 2 and needs[2]:
            grads.append(np.add.reduce(g2, axis=0) if bias_shape == (out_f,) else grad_out)
        return tuple(grads)


def _same_dtype(op, *named):
    """PyTorch's products refuse operands of different dtypes; say which ones differ."""
    dtypes = [t.dtype for _, t in named]
    if all(d == dtypes[0] for d in dtypes):
        return
    listed = ", ".join(f"{name} ({t.dtype})" for name, t in named)
    raise runtime_error(op, f"expected all operands to have the same dtype, but got {listed}; "
                            "cast them with .to(dtype) first")


def _check_ndim(op, wanted, **tensors):
    """Ranks: ``wanted`` is one rank per tensor, in order."""
    for (name, t), n in zip(tensors.items(), wanted):
        if t.ndim != n:
            ranks = ", ".join(f"{k} {fmt_shape(v.shape)}" for k, v in tensors.items())
            raise shape_error(op, f"{name} must be {n}-D, but got {t.ndim}-D ({ranks})")


def linear(input, weight, bias=None):
    """Apply an affine map to the last dim: ``y = x W^T + b`` (``F.linear``).

    Args:
        input: ``(*, in_features)``.
        weight: ``(out_features, in_features)``.
        bias: optional, ``(out_features,)`` (or anything broadcastable to the output).

    Returns:
        ``(*, out_features)``.

    Example:
        >>> import ember
        >>> x, w = ember.ones(64, 100), ember.ones(10, 100)
        >>> ember.nn.functional.linear(x, w).shape
        ember.Size([64, 10])
    """
    x, w = input._data, weight._data
    if w.ndim == 2 and x.ndim and x.shape[-1] == w.shape[1] and x.dtype == w.dtype and (
            bias is None or (bias._data.shape == w.shape[:1] and bias._data.dtype == x.dtype)):
        # The usual layer call, checked at once (NOTE [op overhead] in autograd/node.py);
        # the checks below name what is wrong otherwise.
        return Linear.apply(input, weight) if bias is None else Linear.apply(input, weight, bias)
    if input.ndim == 0 or weight.ndim == 0:
        raise shape_error("linear", f"both arguments need at least 1 dimension, but got input "
                                    f"{fmt_shape(input.shape)} and weight "
                                    f"{fmt_shape(weight.shape)}")
    if weight.ndim > 2:
        raise shape_error("linear", f"weight must be 2-D (out_features, in_features), but got "
                                    f"shape {fmt_shape(weight.shape)}")
    _same_dtype("linear", ("input", input), ("weight", weight),
                *((("bias", bias),) if bias is not None else ()))
    in_f = weight.shape[-1]
    if input.shape[-1] != in_f:
        raise shape_error("linear", f"input has {input.shape[-1]} features (shape "
                                    f"{fmt_shape(input.shape)}) but weight expects {in_f} "
                                    f"(shape {fmt_shape(weight.shape)})")
    if weight.ndim == 1:
        if bias is not None:
            raise shape_error("linear", f"a bias needs a 2-D weight (out_features, "
                                        f"in_features), but the weight has shape "
                                        f"{fmt_shape(weight.shape)}")
        return matmul(input, weight)
    if bias is None:
        return Linear.apply(input, weight)
    out_shape = tuple(input.shape[:-1]) + (weight.shape[0],)
    if _broadcast(bias.shape, out_shape) != out_shape:
        raise shape_error("linear", f"bias of shape {fmt_shape(bias.shape)} does not broadcast "
                                    f"to the output shape {fmt_shape(out_shape)}")
    return Linear.apply(input, weight, bias)


def _broadcast(small, big):
    try:
        return np.broadcast_shapes(tuple(small), tuple(big))
    except ValueError:
        return None


def matmul(input, other, *, out=None):
    """Matrix product with batching and broadcasting (``input @ other``).

    1-D operands are treated as a row (left) or column (right) vector, and the leading
    (batch) dims broadcast: ``(j, 1, n, m) @ (k, m, p) -> (j, k, n, p)``.
    """
    return write_out(MatMul.apply(*promote(input, other)), out)


def mm(input, mat2, *, out=None):
    """Product of two matrices (2-D only): ``(n, m) @ (m, p) -> (n, p)``."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise shape_error("mm", f"expects two matrices, got shapes {fmt_shape(input.shape)} "
                                f"and {fmt_shape(mat2.shape)}")
    return matmul(input, mat2, out=out)


def bmm(input, mat2, *, out=None):
    """Batched product of two 3-D tensors with the same batch size: ``(b, n, m) @ (b, m, p)``."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise shape_error("bmm", f"expects two 3-D tensors with equal batch size, got shapes "
                                 f"{fmt_shape(input.shape)} and {fmt_shape(mat2.shape)}")
    return matmul(input, mat2, out=out)


def mv(input, vec, *, out=None):
    """Matrix-vector product: ``(n, m) @ (m,) -> (n,)``."""
    _check_ndim("mv", (2, 1), input=input, vec=vec)
    _check_inner("mv", input, vec, "input", "vec")
    _same_dtype("mv", ("input", input), ("vec", vec))
    return matmul(input, vec, out=out)


def dot(input, tensor, *, out=None):
    """Inner product of two 1-D tensors of the same size and dtype (a 0-dim result)."""
    if input.ndim != 1 or tensor.ndim != 1:
        raise shape_error("dot", f"1D tensors expected, but got {input.ndim}D and "
                                 f"{tensor.ndim}D tensors (shapes {fmt_shape(input.shape)} and "
                                 f"{fmt_shape(tensor.shape)})")
    if input.shape != tensor.shape:
        raise shape_error("dot", f"inconsistent tensor size: {input.shape[0]} and "
                                 f"{tensor.shape[0]} elements")
    _same_dtype("dot", ("input", input), ("tensor", tensor))
    return matmul(input, tensor, out=out)


def vdot(input, other, *, out=None):
    """``dot`` with the first argument conjugated (the same as ``dot`` for real tensors)."""
    return dot(input, other, out=out)


def inner(input, other, *, out=None):
    """Sum of products over the last dims: ``(*a, n), (*b, n) -> (*a, *b)``.

    A 0-dim operand multiplies the other instead.
    """
    if input.ndim == 0 or other.ndim == 0:
        return write_out(input * other, out)
    if input.shape[-1] != other.shape[-1]:
        raise shape_error("inner", f"the last dimension must match on both inputs, but got "
                                   f"shapes {fmt_shape(input.shape)} and {fmt_shape(other.shape)}")
    return tensordot(input, other, dims=([-1], [-1]), out=out)


def outer(input, vec2, *, out=None):
    """Outer product of two 1-D tensors: ``out[i, j] = input[i] * vec2[j]``."""
    _check_ndim("outer", (1, 1), input=input, vec2=vec2)
    return write_out(input.reshape(-1, 1) * vec2, out)


ger = outer


def _plus_scaled(op, input, product, beta, alpha):
    """``beta * input + alpha * product``; with ``beta == 0`` the input is ignored (NaNs too)."""
    shape = tuple(product.shape)
    if _broadcast(input.shape, shape) != shape:
        raise shape_error(op, f"input of shape {fmt_shape(input.shape)} does not broadcast to "
                              f"the product's shape {fmt_shape(shape)}")
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return (input if beta == 1 else input * beta) + product


def _check_inner(op, a, b, a_name, b_name):
    ka, kb = a.shape[-1], b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise shape_error(op, f"{a_name} and {b_name} shapes cannot be multiplied "
                              f"({fmt_shape(a.shape)} and {fmt_shape(b.shape)}: inner sizes "
                              f"{ka} and {kb} differ)")


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat1 @ mat2)``.

    Args:
        input: broadcastable to ``(n, p)``.
        mat1, mat2: ``(n, m)`` and ``(m, p)``.
        beta, alpha: scalars (``beta == 0`` ignores ``input``, even its NaNs).

    Returns:
        ``(n, p)``.
    """
    _check_ndim("addmm", (2, 2), mat1=mat1, mat2=mat2)
    _check_inner("addmm", mat1, mat2, "mat1", "mat2")
    _same_dtype("addmm", ("input", input), ("mat1", mat1), ("mat2", mat2))
    return write_out(_plus_scaled("addmm", input, matmul(mat1, mat2), beta, alpha), out)


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat @ vec)``; ``mat`` is ``(n, m)``, ``vec`` is ``(m,)``."""
    _check_ndim("addmv", (2, 1), mat=mat, vec=vec)
    _check_inner("addmv", mat, vec, "mat", "vec")
    _same_dtype("addmv", ("input", input), ("mat", mat), ("vec", vec))
    return write_out(_plus_scaled("addmv", input, matmul(mat, vec), beta, alpha), out)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * bmm(batch1, batch2)``: ``(b, n, m), (b, m, p) -> (b, n, p)``."""
    _check_batches("baddbmm", batch1, batch2)
    _same_dtype("baddbmm", ("input", input), ("batch1", batch1), ("batch2", batch2))
    return write_out(_plus_scaled("baddbmm", input, matmul(batch1, batch2), beta, alpha), out)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]``: ``-> (n, p)``.

    The sum over the batch is part of the one contraction (no ``(b, n, p)`` temporary).
    """
    _check_batches("addbmm", batch1, batch2)
    _same_dtype("addbmm", ("input", input), ("batch1", batch1), ("batch2", batch2))
    product = Einsum.apply(batch1, batch2, equation="bij,bjk->ik")
    return write_out(_plus_scaled("addbmm", input, product, beta, alpha), out)


def _check_batches(op, batch1, batch2):
    _check_ndim(op, (3, 3), batch1=batch1, batch2=batch2)
    if batch1.shape[0] != batch2.shape[0]:
        raise shape_error(op, f"batch1 and batch2 must have the same number of matrices, but "
                              f"got shapes {fmt_shape(batch1.shape)} and "
                              f"{fmt_shape(batch2.shape)}")
    _check_inner(op, batch1, batch2, "batch1", "batch2")


METHODS = {
    "matmul": matmul, "mm": mm, "bmm": bmm, "mv": mv, "dot": dot, "vdot": vdot, "inner": inner,
    "outer": outer, "ger": ger, "addmm": addmm, "addmv": addmv, "addbmm": addbmm,
    "baddbmm": baddbmm, "__matmul__": matmul,
    "__rmatmul__": lambda self, other: matmul(other, self),
    **inplace_all({"addmm_": addmm, "addmv_": addmv, "addbmm_": addbmm, "baddbmm_": baddbmm}),
}

FUNCTIONAL = ["linear"]
