"""Op specifications: regression losses (mse, l1, smooth_l1, huber, poisson, gaussian)."""

from tests.ops.harness import F, Spec


def _f(m):
    return m.nn.functional


_PAIRS = [[(3, 4), (3, 4)], [F((4, 3), noncontig=True), (4, 3)], [(5,), (5,)], [(), ()]]
_WIDE = [[F((3, 4), -3, 3), F((3, 4), -3, 3)], [F((6,), -3, 3), F((6,), -3, 3)]]

SPECS = []
for _red in ("mean", "sum", "none"):
    SPECS += [
        Spec(f"mse_loss_{_red}", lambda m, x, t, r=_red: _f(m).mse_loss(x, t, reduction=r),
             _PAIRS),
        Spec(f"l1_loss_{_red}", lambda m, x, t, r=_red: _f(m).l1_loss(x, t, reduction=r),
             _PAIRS, gradgradcheck=True),
        Spec(f"smooth_l1_loss_{_red}", lambda m, x, t, r=_red: _f(m).smooth_l1_loss(
            x, t, reduction=r, beta=0.7), _WIDE),
        Spec(f"huber_loss_{_red}", lambda m, x, t, r=_red: _f(m).huber_loss(
            x, t, reduction=r, delta=1.3), _WIDE),
        Spec(f"mse_loss_weight_{_red}", lambda m, x, t, w, r=_red: _f(m).mse_loss(
            x, t, reduction=r, weight=w), [[(3, 4), (3, 4), F((3, 4), 0.1, 2)]]),
        Spec(f"l1_loss_weight_{_red}", lambda m, x, t, w, r=_red: _f(m).l1_loss(
            x, t, reduction=r, weight=w), [[(3, 4), (3, 4), F((3, 4), 0.1, 2)]]),
        Spec(f"huber_loss_weight_{_red}", lambda m, x, t, w, r=_red: _f(m).huber_loss(
            x, t, reduction=r, weight=w), [[F((3, 4), -3, 3), (3, 4), F((3, 4), 0.1, 2)]]),
        Spec(f"poisson_nll_loss_{_red}", lambda m, x, t, r=_red: _f(m).poisson_nll_loss(
            x, t, reduction=r), [[(3, 4), F((3, 4), 0, 3)]]),
        Spec(f"gaussian_nll_loss_{_red}", lambda m, x, t, v, r=_red: _f(m).gaussian_nll_loss(
            x, t, v, reduction=r), [[(3, 4), (3, 4), F((3, 4), 0.2, 2)],
                                     [(3, 4), (3, 4), F((3,), 0.2, 2)],
                                     [(3, 4), (3, 4), F((3, 1), 0.2, 2)]]),
    ]

SPECS += [
    Spec("mse_loss_broadcast", lambda m, x, t: _f(m).mse_loss(x, t), [[(3, 4), (4,)]]),
    Spec("smooth_l1_loss_beta0", lambda m, x, t: _f(m).smooth_l1_loss(x, t, beta=0.0),
         [[(3, 4), (3, 4)]]),
    Spec("smooth_l1_loss_default", lambda m, x, t: _f(m).smooth_l1_loss(x, t), _WIDE),
    Spec("huber_loss_default", lambda m, x, t: _f(m).huber_loss(x, t), _WIDE),
    Spec("poisson_nll_loss_full", lambda m, x, t: _f(m).poisson_nll_loss(
        x, t, log_input=False, full=True), [[F((3, 4), 0.1, 3), F((3, 4), 0, 3)]]),
    Spec("poisson_nll_loss_rate", lambda m, x, t: _f(m).poisson_nll_loss(
        x, t, log_input=False, eps=0.1), [[F((3, 4), 0.1, 3), F((3, 4), 0, 3)]]),
    Spec("gaussian_nll_loss_full", lambda m, x, t, v: _f(m).gaussian_nll_loss(
        x, t, v, full=True, eps=0.5), [[(3, 4), (3, 4), F((3, 4), 0.6, 2)]]),
    Spec("gaussian_nll_loss_float_var", lambda m, x, t: _f(m).gaussian_nll_loss(x, t, 0.7),
         [[(3, 4), (3, 4)]]),
]
