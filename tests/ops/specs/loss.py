"""Op specifications: losses (classification and regression)."""

import numpy as np

from tests.ops.harness import Arr, F, I, Spec

_W4 = [0.5, 2.0, 1.0, 1.5]


def _f(m):
    return m.nn.functional


def _ce(weight=None, **kw):
    """cross_entropy with a class weight made in the input's dtype."""
    def fn(m, x, t):
        w = None if weight is None else m.tensor(weight, dtype=x.dtype)
        return _f(m).cross_entropy(x, t, weight=w, **kw)
    return fn


def _nll(weight=None, **kw):
    def fn(m, x, t):
        w = None if weight is None else m.tensor(weight, dtype=x.dtype)
        return _f(m).nll_loss(x, t, weight=w, **kw)
    return fn


_T5 = Arr(np.array([0, 3, 1, 2, 3]))
_T5_IGN = Arr(np.array([0, -100, 1, 2, -100]))
_T5_IGN2 = Arr(np.array([0, 2, 1, 2, 3]))  # ignore_index=2
_T23 = Arr(np.array([[0, 3, 1], [2, -100, 3]]))  # (N, d) with one ignored
_CE_CASES = [[(5, 4), _T5], [F((5, 4), noncontig=True), _T5_IGN], [(2, 4, 3), _T23],
             [(4,), Arr(np.array(2))]]
_REDS = ("mean", "sum", "none")

SPECS = []
for _red in _REDS:
    SPECS += [
        Spec(f"cross_entropy_{_red}", _ce(reduction=_red), _CE_CASES),
        Spec(f"cross_entropy_weight_{_red}", _ce(_W4, reduction=_red), _CE_CASES),
        Spec(f"cross_entropy_smooth_{_red}", _ce(reduction=_red, label_smoothing=0.2), _CE_CASES),
        Spec(f"cross_entropy_weight_smooth_{_red}", _ce(_W4, reduction=_red, label_smoothing=0.3),
             _CE_CASES),
        Spec(f"cross_entropy_ignore_{_red}", _ce(_W4, reduction=_red, ignore_index=2,
                                                 label_smoothing=0.1), [[(5, 4), _T5_IGN2]]),
        Spec(f"cross_entropy_prob_{_red}", _ce(reduction=_red), [
            [(3, 4), F((3, 4), 0.0, 1.0)], [(2, 4, 2), F((2, 4, 2), 0.0, 1.0)],
            [(4,), F((4,), 0.0, 1.0)]]),
        Spec(f"cross_entropy_prob_weight_smooth_{_red}", _ce(_W4, reduction=_red,
                                                             label_smoothing=0.25),
             [[(3, 4), F((3, 4), 0.0, 1.0)], [(2, 4, 2), F((2, 4, 2), 0.0, 1.0)]]),
        Spec(f"nll_loss_{_red}", _nll(reduction=_red), _CE_CASES),
        Spec(f"nll_loss_weight_{_red}", _nll(_W4, reduction=_red), _CE_CASES),
        Spec(f"nll_loss_ignore_{_red}", _nll(_W4, reduction=_red, ignore_index=2),
             [[(5, 4), _T5_IGN2]]),
    ]

SPECS += [
    Spec("cross_entropy_full_smoothing", _ce(label_smoothing=1.0), [[(5, 4), _T5]]),
    Spec("cross_entropy_4d", _ce(_W4, label_smoothing=0.1),
         [[(2, 4, 2, 2), I((2, 2, 2), 0, 4)]]),
    Spec("binary_cross_entropy", lambda m, x, t: _f(m).binary_cross_entropy(x, t.to(x.dtype)), [
        [F((3, 4), 0.05, 0.95), F((3, 4), 0.0, 1.0)],
        [F((5,), 0.05, 0.95), Arr(np.array([0.0, 1.0, 1.0, 0.0, 0.5]))],
    ]),
    Spec("binary_cross_entropy_weight_sum", lambda m, x, t: _f(m).binary_cross_entropy(
        x, t, m.tensor(_W4, dtype=x.dtype), reduction="sum"),
         [[F((3, 4), 0.05, 0.95), F((3, 4), 0.0, 1.0)]]),
    Spec("binary_cross_entropy_none", lambda m, x, t: _f(m).binary_cross_entropy(
        x, t, reduction="none"), [[F((2, 3), 0.05, 0.95), F((2, 3), 0.0, 1.0)]]),
    Spec("bce_with_logits", lambda m, x, t: _f(m).binary_cross_entropy_with_logits(x, t), [
        [(3, 4), F((3, 4), 0.0, 1.0)], [F((4, 3), -30, 30), F((4, 3), 0.0, 1.0)],
        [F((3, 4), noncontig=True), Arr(np.eye(3, 4))],
    ]),
    Spec("bce_with_logits_weights", lambda m, x, t:
         _f(m).binary_cross_entropy_with_logits(x, t, m.tensor(_W4, dtype=x.dtype),
                                                reduction="none",
                                                pos_weight=m.tensor(_W4[::-1], dtype=x.dtype)),
         [[(3, 4), F((3, 4), 0.0, 1.0)], [(2, 4), F((2, 4), 0.0, 1.0)]]),
    Spec("bce_with_logits_pos_weight_sum", lambda m, x, t:
         _f(m).binary_cross_entropy_with_logits(x, t, reduction="sum",
                                                pos_weight=m.tensor([[2.0], [0.5], [3.0]],
                                                                    dtype=x.dtype)),
         [[(3, 4), F((3, 4), 0.0, 1.0)]]),
    Spec("kl_div_batchmean", lambda m, x, t: _f(m).kl_div(x, t, reduction="batchmean"),
         [[F((3, 4), -3, 0), F((3, 4), 0.05, 1.0)], [F((2, 3, 2), -3, 0), F((2, 3, 2), 0.1, 1)]]),
    Spec("kl_div_sum", lambda m, x, t: _f(m).kl_div(x, t, reduction="sum"),
         [[F((3, 4), -3, 0), F((3, 4), 0.05, 1.0)]]),
    Spec("kl_div_none", lambda m, x, t: _f(m).kl_div(x, t, reduction="none"),
         [[F((3, 4), -3, 0), F((3, 4), 0.05, 1.0)], [(3, 4), Arr(np.array([0.0, 0.2, 0.3, 0.5]))]]),
    Spec("kl_div_log_target", lambda m, x, t: _f(m).kl_div(x, t, reduction="batchmean",
                                                           log_target=True),
         [[F((3, 4), -3, 0), F((3, 4), -3, 0)]]),
]
