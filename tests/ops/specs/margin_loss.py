"""Op specifications: margin and embedding losses."""

import numpy as np

from tests.ops.harness import Arr, F, Spec


def _f(m):
    return m.nn.functional


_SIGNS4 = Arr(np.array([1.0, -1.0, -1.0, 1.0]))
_REDS = ("mean", "sum", "none")

SPECS = []
for _red in _REDS:
    SPECS += [
        Spec(f"margin_ranking_loss_{_red}", lambda m, a, b, y, r=_red: _f(m).margin_ranking_loss(
            a, b, y.to(a.dtype), margin=0.3, reduction=r), [[(4,), (4,), _SIGNS4]]),
        Spec(f"hinge_embedding_loss_{_red}", lambda m, x, y, r=_red: _f(m).hinge_embedding_loss(
            x, y.to(x.dtype), margin=1.5, reduction=r), [[F((4,), 0, 3), _SIGNS4],
                                                         [F((2, 4), 0, 3), _SIGNS4]]),
        Spec(f"soft_margin_loss_{_red}", lambda m, x, y, r=_red: _f(m).soft_margin_loss(
            x, y.to(x.dtype), reduction=r), [[(4,), _SIGNS4], [(3, 4), _SIGNS4]]),
        Spec(f"cosine_embedding_loss_{_red}", lambda m, a, b, y, r=_red:
             _f(m).cosine_embedding_loss(a, b, y.to(a.dtype), margin=-0.2, reduction=r),
             [[(4, 3), (4, 3), _SIGNS4], [(3,), (3,), Arr(np.array(-1.0))]]),
        Spec(f"triplet_margin_loss_{_red}", lambda m, a, p, n, r=_red: _f(m).triplet_margin_loss(
            a, p, n, margin=2.0, reduction=r), [[(4, 3), (4, 3), (4, 3)], [(3,), (3,), (3,)]]),
        Spec(f"multi_margin_loss_{_red}", lambda m, x, y, r=_red: _f(m).multi_margin_loss(
            x, y, reduction=r), [[(4, 3), Arr(np.array([0, 2, 1, 2]))],
                                 [(3,), Arr(np.array(1))]], gradgradcheck=False),
        Spec(f"multilabel_soft_margin_loss_{_red}", lambda m, x, y, r=_red:
             _f(m).multilabel_soft_margin_loss(x, y.to(x.dtype), reduction=r),
             [[(3, 4), Arr(np.array([[1.0, 0, 0, 1], [0, 1, 1, 1], [0, 0, 0, 0]]))]]),
        Spec(f"multilabel_margin_loss_{_red}", lambda m, x, y, r=_red:
             _f(m).multilabel_margin_loss(x, y, reduction=r),
             [[(3, 4), Arr(np.array([[3, 0, -1, 1], [1, 2, 2, 0], [-1, 0, 0, 0]]))],
              [(4,), Arr(np.array([2, 1, -1, 0]))]], gradgradcheck=False),
    ]

SPECS += [
    Spec("triplet_margin_loss_swap_p1", lambda m, a, p, n: _f(m).triplet_margin_loss(
        a, p, n, p=1, swap=True, margin=3.0), [[(4, 3), (4, 3), (4, 3)]], gradgradcheck=False),
    Spec("triplet_margin_with_distance_loss", lambda m, a, p, n:
         _f(m).triplet_margin_with_distance_loss(a, p, n, margin=2.5, swap=True),
         [[(4, 3), (4, 3), (4, 3)]]),
    Spec("triplet_margin_with_cosine_distance", lambda m, a, p, n:
         _f(m).triplet_margin_with_distance_loss(
             a, p, n, margin=1.0, distance_function=lambda x, y:
             1.0 - _f(m).cosine_similarity(x, y)), [[(4, 3), (4, 3), (4, 3)]]),
    Spec("multi_margin_loss_p2_weight", lambda m, x, y: _f(m).multi_margin_loss(
        x, y, p=2, margin=0.7, weight=m.tensor([0.5, 2.0, 1.0], dtype=x.dtype)),
         [[(4, 3), Arr(np.array([0, 2, 1, 2]))]]),
    Spec("multilabel_soft_margin_loss_weight", lambda m, x, y: _f(m).multilabel_soft_margin_loss(
        x, y.to(x.dtype), weight=m.tensor([0.5, 2.0, 1.0, 1.5], dtype=x.dtype)),
         [[(3, 4), Arr(np.array([[1.0, 0, 0, 1], [0, 1, 1, 1], [0, 0, 0, 0]]))]]),
]
