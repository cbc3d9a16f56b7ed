"""Array-level backward rules for the hot ops of a captured training step.

An ``Op``'s own ``backward`` works on Tensors so that gradients can be differentiated
again; a captured step never does that, so ``TrainPlan`` (``train_plan.py``) runs these
rules instead where one exists: the same NumPy calls on the same arrays, in the same
order, without a Tensor or an ``Op.apply`` per product. Each rule must give exactly what
the op's own backward gives (``tests/jit/test_train_plan.py`` compares them).

An op without a rule runs its own ``backward`` (``TrainPlan``'s generic path): Tensor
wrappers around its arrays and, for ops whose backward is a ``...Backward`` op with
``differentiable = False``, an ``Op.apply``. ``Linear`` (``array_linear.py``), layer norm
(``array_norm.py``, in pieces of rows), the smooth activations and ``PackedAttention``
(``array_activation.py``) have rules calling the same array code directly.

A rule is ``rule(op, ins, outs, grads, send) -> list`` where ``op`` is the instance whose
``forward`` ran (with the attributes it set), ``ins``/``outs`` the arrays it read and
returned, ``grads`` the output gradients (None for an output that got none) and ``send``
one flag per input saying whether its gradient is wanted. The result has one array (or
None) per input; broadcasting is summed back and dtypes cast by the caller, as the engine
does.
"""

import importlib

import numpy as np

from ember.backend.activation_kernels import flat_float, in_pieces, relu_grad, relu_slope

__all__ = ["FORWARDS", "FUNCTIONS", "LATER", "OPS", "RULES"]

RULES = {}
# name -> forward(op, *arrays, **params): replaces ``op.forward`` in a plan when the op's
# backward can reuse something its forward computes anyway (it must return the same
# values as ``op.forward``).
FORWARDS = {}
# name -> rule of a @traceable function (see ``array_loss.py``).
FUNCTIONS = {}
# name -> a rule like ``RULES[name]`` that may leave the gradients of the inputs after the
# first to ``ember.backend.threads.background``: the plan gives it to a node whose inputs
# after the first are leaves only it sends gradients to, and joins before reading them.
LATER = {}
# name -> class of a node only plans run, made by ``plan_rewrites.py`` (``LinearRelu``):
# its ``forward`` on arrays, beside a rule in ``RULES``.
OPS = {}


def rule(*names):
    """Register the decorated function as the array backward of the ops ``names``."""
    def register(fn):
        for name in names:
            RULES[name] = fn
        return fn
    return register


@rule("Relu")
def _relu(op, ins, outs, grads, send):
    x = ins[0]
    flat = flat_float(x) if relu_slope.ready() and relu_grad.ready() else None
    if flat is None:
        return [grads[0] * (x > 0)]
    g = grads[0]
    if g.dtype == x.dtype and g.shape == x.shape and g.flags.c_contiguous:
        out = np.empty_like(x)  # one pass, bitwise equal to the product below
        in_pieces(relu_grad, flat, g.reshape(-1), out.reshape(-1))
        return [out]
    slope = np.empty_like(x)
    relu_slope(flat, slope.reshape(-1))
    return [g * slope]


@rule("Reshape", "View")
def _reshape(op, ins, outs, grads, send):
    return [grads[0].reshape(op.in_shape)]


@rule("MaxPool")
def _max_pool(op, ins, outs, grads, send):
    return [op.grad_array(grads[0])]


@rule("Add")
def _add(op, ins, outs, grads, send):
    return [grads[0], grads[0]]


def _register(module):
    """Import a module of rules. Rules reach into the ops' internals, so one that no longer
    imports (an op module was reorganized) leaves those ops to their own backward instead
    of breaking ``import ember``; the plan's tests then fail on the missing rule."""
    try:
        importlib.import_module(module)
    except ImportError:
        pass


_register("ember.jit.array_conv")
_register("ember.jit.array_loss")
_register("ember.jit.array_linear")
_register("ember.jit.array_norm")
_register("ember.jit.array_activation")
