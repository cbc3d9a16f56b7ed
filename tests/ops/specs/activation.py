"""Op specifications: elementwise activations (relu family, smooth ones, prelu, glu)."""

from tests.ops.harness import F, Spec


def _cases(low=-2.0, high=2.0):
    """A matrix, a non-contiguous 3-D tensor, a 0-dim tensor and a vector on [low, high]."""
    return [[F((3, 4), low, high)], [F((2, 3, 2), low, high, noncontig=True)],
            [F((), low, high)], [F((7,), low, high)]]


def _f(name, **kwargs):
    """``lib.nn.functional.<name>(x, **kwargs)``."""
    return lambda m, x: getattr(m.nn.functional, name)(x, **kwargs)


SPECS = [
    Spec("relu", lambda m, x: m.relu(x), _cases()),
    Spec("relu_functional", _f("relu"), [[F((3, 4))]]),
    Spec("relu_method", lambda m, x: x.relu(), [[F((2, 3), noncontig=True)]]),
    Spec("relu6", _f("relu6"), _cases(-3.0, 9.0)),
    Spec("leaky_relu", _f("leaky_relu"), _cases()),
    Spec("leaky_relu_slope", _f("leaky_relu", negative_slope=0.2), [[F((3, 4))], [F((5,))]]),
    Spec("leaky_relu_steep", _f("leaky_relu", negative_slope=1.5), [[F((3, 4))]]),
    Spec("hardtanh", _f("hardtanh"), _cases(-3.0, 3.0)),
    Spec("hardtanh_bounds", _f("hardtanh", min_val=-0.5, max_val=1.5), [[F((4, 5), -3.0, 3.0)]]),
    Spec("hardsigmoid", _f("hardsigmoid"), _cases(-5.0, 5.0)),
    Spec("hardswish", _f("hardswish"), _cases(-5.0, 5.0)),
    Spec("hardshrink", lambda m, x: m.hardshrink(x), _cases()),
    Spec("hardshrink_lambd", _f("hardshrink", lambd=1.0), [[F((4, 5), -3.0, 3.0)]]),
    Spec("hardshrink_method", lambda m, x: x.hardshrink(0.3), [[F((3, 4))]]),
    Spec("softshrink", _f("softshrink"), _cases()),
    Spec("softshrink_lambd", _f("softshrink", lambd=1.0), [[F((4, 5), -3.0, 3.0)]]),
    Spec("threshold", lambda m, x: m.nn.functional.threshold(x, 0.5, -1.0), _cases()),
    Spec("threshold_top", lambda m, x: m.threshold(x, -0.25, 3.0), [[F((3, 4))]]),
    Spec("rrelu_eval", _f("rrelu"), _cases()),
    Spec("rrelu_eval_bounds", lambda m, x: m.rrelu(x, 0.1, 0.6), [[F((3, 4))]]),
    Spec("elu", _f("elu"), _cases(-3.0, 3.0)),
    Spec("elu_alpha", _f("elu", alpha=0.5), [[F((3, 4), -3.0, 3.0)]]),
    Spec("selu", _f("selu"), _cases(-3.0, 3.0)),
    Spec("selu_top", lambda m, x: m.selu(x), [[F((3, 4), -3.0, 3.0)]]),
    Spec("celu", _f("celu"), _cases(-3.0, 3.0)),
    Spec("celu_alpha", lambda m, x: m.celu(x, 2.0), [[F((3, 4), -3.0, 3.0)]]),
    Spec("gelu", _f("gelu"), _cases(-4.0, 4.0)),
    Spec("gelu_tanh", _f("gelu", approximate="tanh"), _cases(-4.0, 4.0)),
    Spec("silu", _f("silu"), _cases(-6.0, 6.0)),
    Spec("mish", _f("mish"), _cases(-6.0, 6.0)),
    Spec("softplus", _f("softplus"), _cases(-6.0, 6.0)),
    # Around the default threshold 20, where softplus switches to the identity.
    Spec("softplus_linear", _f("softplus"), [[F((3, 4), 15.0, 30.0)]]),
    Spec("softplus_beta", _f("softplus", beta=2.0, threshold=3.0), [[F((3, 4), -3.0, 3.0)]]),
    Spec("softplus_small_beta", _f("softplus", beta=0.5), [[F((5,), -6.0, 6.0)]]),
    Spec("logsigmoid", _f("logsigmoid"), _cases(-8.0, 8.0)),
    Spec("logsigmoid_far", _f("logsigmoid"), [[F((6,), -40.0, 40.0)]]),
    Spec("tanhshrink", _f("tanhshrink"), _cases()),
    Spec("softsign", _f("softsign"), _cases(-4.0, 4.0)),
    Spec("prelu", lambda m, x, w: m.nn.functional.prelu(x, w),
         [[F((2, 3, 4)), F((3,), 0.1, 0.5)], [F((4, 3)), F((3,), -0.5, 0.5)],
          [F((2, 3, 2), noncontig=True), F((1,), 0.1, 0.5)], [F((5,)), F((1,), 0.1, 0.5)],
          [F(()), F((), 0.1, 0.5)]]),
    Spec("prelu_method", lambda m, x, w: x.prelu(w), [[F((2, 3)), F((3,), 0.1, 0.5)]]),
    Spec("glu", _f("glu"), [[F((3, 4))], [F((2, 6, 2), noncontig=True)]]),
    Spec("glu_dim", lambda m, x: m.nn.functional.glu(x, 0), [[F((4, 3))], [F((2,))]]),
    Spec("glu_dim_neg", lambda m, x: m.nn.functional.glu(x, -2), [[F((2, 4, 3))]]),
]
