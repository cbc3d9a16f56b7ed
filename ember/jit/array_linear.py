"""Array-level ``Linear`` for a ``TrainPlan`` (``train_plan.py``), and ``Linear`` then
``Relu`` as one node.

``Linear``'s own backward (not ``create_graph``) wraps its arrays as Tensors and applies
``LinearBackward``; the rule here makes the same calls on the arrays directly
(``_linear_grads`` and the same bias reduction), so the gradients are bitwise eager's.
Where eager runs the two products one per thread, the bias reduction joins their split
instead of running alone after it (NOTE [bias gradient beside the products]).

``LinearRelu`` stands for ``Linear`` followed by ``Relu`` when the product is read by
nothing else (``plan_rewrites.py`` makes it): the bias and the ReLU are applied in place
on the product's output, in one pass, where eager code adds the bias in place, then
writes the ReLU into a new array; its backward masks the gradient with the output (the
ReLU's own rule: ``relu(x) > 0`` exactly where ``x > 0``) and goes on as ``Linear``'s.
The arithmetic is eager's, so the values are bitwise equal (nan kept, as ``relu`` does).
Measured on ``mlp`` (two Linear + ReLU layers of 128 rows), one thread, CPU time,
interleaved in one process: the plan's step 1.02x as fast with the fused node as without.

Where the plan reads a layer's weight and bias gradients only after backward, they are
computed on the worker while the calling thread goes on (``_linear_later``, NOTE [weight
gradients in the background]).
"""

import numpy as np

from ember.backend.activation_kernels import flat_float, in_pieces
from ember.backend.compiled import kernel
from ember.backend.threads import background, pieces, split
from ember.jit.array_backward import LATER, OPS, RULES, rule
from ember.ops import linalg
from ember.ops.linalg import Linear, _linear_grads

__all__ = ["LinearRelu"]

_new = object.__new__
# Elements from which the bias-and-ReLU pass runs in pieces of rows on ember's threads:
# the ReLU kernels' threshold (``activation_kernels._SPLIT_SIZE``), the same memory-bound
# kind of loop.
_SPLIT_SIZE = 1 << 21
# The narrowest block of columns whose sum over rows runs in a piece of its own (NOTE [bias
# gradient beside the products]).
_MIN_COLUMNS = 16


@kernel(error_model="numpy")
def relu_into(x):
    """``x = max(x, 0)`` in place, nan kept (as ``relu``): one argument, so the loop
    vectorizes (Numba cannot prove two arguments apart)."""
    for i in range(x.size):
        v = x[i]
        x[i] = 0 if v <= 0 else v  # noqa: FURB136 - max(0, nan) is 0; relu keeps nan


@kernel(error_model="numpy")
def bias_relu(out, bias):
    """``out[i, j] = max(out[i, j] + bias[j], 0)`` in place, nan kept (as ``relu``)."""
    rows, cols = out.shape
    for i in range(rows):
        for j in range(cols):
            v = out[i, j] + bias[j]
            out[i, j] = 0 if v <= 0 else v  # noqa: FURB136 - keeps nan, as above


def _bias_relu(out, b):
    """``relu(out + b)`` into ``out``, a product's C-contiguous output; as eager code
    computes it (``out += b``, then ``Relu``'s kernel or NumPy path) unless the fused
    kernel can run."""
    cols = out.shape[-1]
    if (b is not None and b.shape == (cols,) and b.dtype == out.dtype and b.flags.c_contiguous
            and flat_float(out) is not None and bias_relu.ready()):
        rows = out.reshape(-1, cols)
        count = pieces(len(rows), rows.size, _SPLIT_SIZE)
        split(lambda lo, hi: bias_relu(rows[lo:hi], b), len(rows), count)
        return
    if b is not None:
        out += b
    flat = flat_float(out) if relu_into.ready() else None
    if flat is None:
        np.maximum(out, 0, out=out)
    else:
        in_pieces(relu_into, flat)


class LinearRelu:
    """``relu(x @ w.T + b)``: a node only a plan runs (never in a graph, not an ``Op``)."""

    differentiable = True

    def forward(self, x, w, b=None):
        out = Linear.forward(_new(Linear), x, w)  # a new C-contiguous array
        _bias_relu(out, b)
        return out


OPS["LinearRelu"] = LinearRelu


@rule("Linear")
def _linear(op, ins, outs, grads, send):
    x, w = ins[0], ins[1]
    out_f, in_f = w.shape
    g = grads[0]
    g2 = g.reshape(-1, out_f)
    x2 = x.reshape(-1, in_f)
    if len(ins) > 2 and all(send) and ins[2].shape == (out_f,):
        found = _grads_with_bias(g2, x2, w)
        if found is not None:
            return [found[0].reshape(x.shape), found[1], found[2]]
    grad_x, grad_w = _linear_grads(g2, x2, w, send[0], send[1])
    found = [None if grad_x is None else grad_x.reshape(x.shape), grad_w]
    if len(ins) > 2:
        grad_b = None
        if send[2]:  # as LinearBackward: the engine sums any other bias shape back
            grad_b = np.add.reduce(g2, axis=0) if ins[2].shape == (out_f,) else g
        found.append(grad_b)
    return found


def _grads_with_bias(g2, x2, w):
    """``(g2 @ w, g2.T @ x2, column sums of g2)`` in one split, or None where
    ``LinearBackward`` would not run its two products one whole product per thread.

    NOTE [bias gradient beside the products]: at two threads ``_linear_grads`` runs each
    product whole on one thread, then the bias gradient (a sum over all rows) runs alone:
    ~190 us for the ``transformer``'s (1024, 1000) head, ~0.8 ms of its step in all. Here
    the sum is two more tasks of the products' queue, each half of the columns, taken by
    whichever thread finishes its product first. NumPy sums a C-contiguous ``(M, N)``
    array over axis 0 row by row for each column, so a block of at least ``_MIN_COLUMNS``
    columns gets the same bits as the whole sum (checked in the tests; on narrower blocks
    NumPy may turn the loop around and sum pairwise).
    """
    rows, out_f = g2.shape
    work = rows * out_f * w.shape[1] * 2
    if (linalg.product_pieces(rows, work) != 2 or out_f < 2 * _MIN_COLUMNS
            or not g2.flags.c_contiguous or not g2.dtype == x2.dtype == w.dtype):
        return None
    grad_x = np.empty((rows, w.shape[1]), g2.dtype)
    grad_w = np.empty((out_f, x2.shape[1]), g2.dtype)
    grad_b = np.empty(out_f, g2.dtype)
    half = out_f // 2

    def run(first, stop):
        for task in range(first, stop):
            if task == 0:
                np.matmul(g2, w, out=grad_x)
            elif task == 1:
                np.matmul(g2.T, x2, out=grad_w)
            else:
                lo, hi = (0, half) if task == 2 else (half, out_f)
                np.add.reduce(g2[:, lo:hi], axis=0, out=grad_b[lo:hi])

    # weights: each task's share of the work (``ember.backend.split_gain``), in elements
    # read per multiply-add; a product's are ~50x cheaper than the sum's memory traffic.
    product = rows * out_f * w.shape[1] / 50
    split(run, 4, 2, per_thread=2, weights=[product, product, rows * half,
                                             rows * (out_f - half)])
    return grad_x, grad_w, grad_b


@rule("LinearRelu")
def _linear_relu(op, ins, outs, grads, send):
    masked = RULES["Relu"](None, outs, None, grads, None)
    return _linear(op, ins, outs, masked, send)


def _linear_later(op, ins, outs, grads, send):
    """``Linear``'s rule where the plan reads the weight's and bias's gradients only after
    ``join_background()``: the input's gradient here, the others on the worker meanwhile.

    NOTE [weight gradients in the background]: in backward, only the input's gradient is
    on the way to the loss's other inputs; the weight's (and its bias sum) is read by
    nothing until the optimizer. At two threads ``_grads_with_bias`` runs the two products
    side by side and waits for both, and the ops between two layers that do not split
    (layer norm's forward, the loss, residual adds) leave the worker waiting: it was busy
    79% of the ``transformer``'s compiled step (26.2 of 33.3 ms, instrumented), 87% with
    this rule (21.7 of 24.9 ms). Here the calling thread computes the input's gradient and
    goes on with the next ops while the worker computes the weight's, and the splits
    meanwhile run their pieces on the calling thread until the worker is free. The plan hands this rule only a node whose weight
    and bias are leaves that no other node sends a gradient to (``train_plan.py``), and
    joins before it reads them. Each product is the same whole BLAS call as
    ``_grads_with_bias``'s and eager's, so the values are bitwise the same.
    """
    x, w = ins[0], ins[1]
    out_f, in_f = w.shape
    g2 = grads[0].reshape(-1, out_f)
    x2 = x.reshape(-1, in_f)
    bias = len(ins) > 2 and send[2]
    rows = g2.shape[0]
    if (not (send[0] and send[1]) or (bias and ins[2].shape != (out_f,))
            or linalg.product_pieces(rows, rows * out_f * in_f * 2) != 2
            or not g2.dtype == x2.dtype == w.dtype):
        return _linear(op, ins, outs, grads, send)
    grad_w = np.empty((out_f, in_f), g2.dtype)
    grad_b = np.empty(out_f, g2.dtype) if bias else None

    def weight_grads():
        np.matmul(g2.T, x2, out=grad_w)
        if grad_b is not None:
            np.add.reduce(g2, axis=0, out=grad_b)

    if not background(weight_grads):
        return _linear(op, ins, outs, grads, send)
    grad_x = np.matmul(g2, w).reshape(x.shape)
    return [grad_x, grad_w] + ([grad_b] if len(ins) > 2 else [])


def _linear_relu_later(op, ins, outs, grads, send):
    masked = RULES["Relu"](None, outs, None, grads, None)
    return _linear_later(op, ins, outs, masked, send)


LATER["Linear"], LATER["LinearRelu"] = _linear_later, _linear_relu_later
