"""A check shared by the tests of the training plan's array rules
(``ember.jit.array_backward.RULES``)."""

import numpy as np

import ember
from ember.jit.array_backward import RULES
from ember.jit.ops import lookup


def assert_rule_equals_backward(target, arrays, params, send):
    """The plan's rule for op ``target`` gives bitwise the gradients the op's own backward
    gives, for the inputs ``send`` marks (None for the others)."""
    cls = lookup(target)
    tensors = [ember.from_numpy(a.copy()).requires_grad_(s) for a, s in zip(arrays, send)]
    out = cls.apply(*tensors, **params)
    grad = np.random.default_rng(1).standard_normal(out.shape).astype(arrays[0].dtype)
    out.backward(ember.from_numpy(grad))
    op = object.__new__(cls)
    result = op.forward(*arrays, **params)
    found = RULES[target](op, arrays, [result], [grad], send)
    assert len(found) == len(arrays)
    for t, g, s in zip(tensors, found, send):
        if not s:
            assert t.grad is None
            continue
        if g.shape != t.shape:  # the plan sums broadcast gradients back, as the engine
            g = g.reshape((-1,) + tuple(t.shape)).sum(0)
        np.testing.assert_array_equal(g, t.grad.numpy())
