"""Op specifications: dropout in its deterministic settings (eval mode, p = 0, p = 1).

Training-mode masks come from ember's generator, not PyTorch's, so they cannot be
compared elementwise; tests/ops/test_dropout.py checks their properties instead.
"""

from tests.ops.harness import F, Spec


def _f(name, **kwargs):
    return lambda m, x: getattr(m.nn.functional, name)(x, **kwargs)


SPECS = [
    Spec("dropout_eval", _f("dropout", p=0.5, training=False),
         [[F((3, 4))], [F((2, 3), noncontig=True)]]),
    Spec("dropout_p0", _f("dropout", p=0.0), [[F((3, 4))]]),
    Spec("dropout_p1", _f("dropout", p=1.0), [[F((3, 4))], [F(())]]),
    Spec("dropout_top_eval", lambda m, x: m.dropout(x, 0.3, False), [[F((5,))]]),
    Spec("dropout2d_eval", _f("dropout2d", p=0.5, training=False), [[F((2, 3, 2, 2))]]),
    Spec("dropout2d_p1", _f("dropout2d", p=1.0), [[F((2, 3, 2, 2))]]),
    Spec("dropout1d_eval", _f("dropout1d", training=False), [[F((2, 3, 4))], [F((3, 4))]]),
    Spec("dropout3d_eval", _f("dropout3d", training=False), [[F((1, 2, 2, 2, 2))]]),
    Spec("alpha_dropout_eval", _f("alpha_dropout", p=0.5), [[F((3, 4))]]),
    Spec("alpha_dropout_p1", _f("alpha_dropout", p=1.0, training=True), [[F((3, 4))]]),
    Spec("feature_alpha_dropout_eval", _f("feature_alpha_dropout", p=0.2), [[F((2, 3, 4))]]),
]
