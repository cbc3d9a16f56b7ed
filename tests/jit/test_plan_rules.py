"""Array-level rules of smooth activations and packed attention
(``ember/jit/array_activation.py``): bitwise the ops' own backward, and taken by a plan."""

import math

import numpy as np
import pytest

import ember
from tests.jit.rule_checks import assert_rule_equals_backward


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
    assert_rule_equals_backward(target, arrays, params, send)


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
