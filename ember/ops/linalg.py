"""Linear algebra: matmul (batched, broadcasting) and its relatives."""

import numpy as np

from ember._errors import fmt_shape, shape_error
from ember.autograd.node import Op
from ember.ops._promote import promote

__all__ = ["matmul", "mm", "bmm"]


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


def matmul(input, other):  # noqa: A002
    """Matrix product with batching and broadcasting (``input @ other``)."""
    return MatMul.apply(*promote(input, other))


def mm(input, mat2):  # noqa: A002
    """Product of two matrices (2-D only)."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise shape_error("mm", f"expects two matrices, got shapes {fmt_shape(input.shape)} "
                                f"and {fmt_shape(mat2.shape)}")
    return matmul(input, mat2)


def bmm(input, mat2):  # noqa: A002
    """Batched product of two 3-D tensors with the same batch size."""
    if input.ndim != 3 or mat2.ndim != 3 or input.shape[0] != mat2.shape[0]:
        raise shape_error("bmm", f"expects two 3-D tensors with equal batch size, got shapes "
                                 f"{fmt_shape(input.shape)} and {fmt_shape(mat2.shape)}")
    return matmul(input, mat2)


METHODS = {"matmul": matmul, "mm": mm, "bmm": bmm, "__matmul__": matmul,
           "__rmatmul__": lambda self, other: matmul(other, self)}

FUNCTIONAL = []
