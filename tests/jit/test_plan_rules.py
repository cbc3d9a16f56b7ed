"""Array-level rules of smooth activations and packed attention
(``ember/jit/array_activation.py``): bitwise the ops' own backward, and taken by a plan."""

import math

import numpy as np
import pytest

import ember
from ember.jit.array_backward import RULES
from ember.jit.ops import lookup


def _arr(rng, *shape, dtype=np.float32):
    return (rng.standard_normal(shape) * 2).astype(dtype)


def _cases():
    rng = np.random.default_rng(0)
    causal = {"heads": 2, "batch_first": True, "scale": 1 / math.sqrt(3), "causal": True}
    return [
        ("Gelu", [_arr(rng, 3, 5)], {"approximate": "none"}, [True]),
        ("Gelu", [_arr(rng, 3, 5, dtype=np.float64)], {"approximate": "none"}, [True]),
        ("Gelu", [_arr(rng, 3, 5)], {"approximate": "tanh"}, [True]),
        ("Silu", [_arr(rng, 4)], {}, [True]),
        ("Elu", [_arr(rng, 2, 3)], {"alpha": 0.5, "scale": 1.5, "input_scale": 2.0}, [True]),
        ("PackedAttention", [_arr(rng, 2, 4, 18)], causal, [True]),
        ("PackedAttention", [_arr(rng, 4, 2, 18)], {**causal, "batch_first": False}, [True]),
        ("PackedAttention", [_arr(rng, 2, 4, 18), _arr(rng, 4, 4)],
         {**causal, "causal": False}, [True, True]),
        ("PackedAttention", [_arr(rng, 2, 4, 18), _arr(rng, 4, 4)],
         {**causal, "causal": False}, [True, False]),
        ("PackedAttention", [_arr(rng, 2, 4, 18), _arr(rng, 4, 4)],
         {**causal, "causal": False}, [False, True]),
    ]


@pytest.mark.parametrize("target, arrays, params, send", _cases(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_rules_equal_the_ops_own_backward(target, arrays, params, send):
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


def test_a_transformer_step_plans_both_rules():
    ember.manual_seed(0)
    model = ember.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu",
                                             batch_first=True)
    opt = ember.optim.SGD(model.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = model(x).square().mean()
        loss.backward()
        opt.step()
        return loss

    compiled = ember.compile(step)
    x = ember.randn(2, 5, 8)
    compiled(x)
    plan = next(iter(compiled._captured.values()))[3]
    targets = {e.node.target for e in plan.backward_nodes if e.rule is not None}
    assert {"Gelu", "PackedAttention"} <= targets
