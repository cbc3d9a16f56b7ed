"""Op specifications: distances and similarities."""

import numpy as np

from tests.ops.harness import Arr, F, Spec


def _f(m):
    return m.nn.functional


SPECS = [
    Spec("cosine_similarity", lambda m, a, b: _f(m).cosine_similarity(a, b), [
        [(4, 3), (4, 3)], [(2, 3, 4), (3, 1)], [F((3, 4), noncontig=True), (3, 4)]]),
    Spec("cosine_similarity_dim", lambda m, a, b: _f(m).cosine_similarity(a, b, dim=-1, eps=0.1),
         [[(4, 3), (4, 3)], [(3,), (2, 3)]]),
    # Norms below eps: PyTorch clamps their value but keeps the norm's gradient, so the
    # gradient is not the derivative of the value and the numerical checks cannot apply.
    Spec("cosine_similarity_clamped", lambda m, a, b: _f(m).cosine_similarity(a, b, eps=0.1),
         [[F((2, 3), -0.01, 0.01), (2, 3)]], gradcheck=False, gradgradcheck=False),
    Spec("cosine_similarity_zero", lambda m, a, b: _f(m).cosine_similarity(a, b, dim=0),
         [[(3,), Arr(np.zeros(3))]], gradgradcheck=False),
    Spec("pairwise_distance", lambda m, a, b: _f(m).pairwise_distance(a, b), [
        [(4, 3), (4, 3)], [(3,), (3,)], [(4, 3), (3,)], [F((3, 4), noncontig=True), (3, 4)]]),
    Spec("pairwise_distance_p", lambda m, a, b: _f(m).pairwise_distance(
        a, b, p=1.5, eps=0.01, keepdim=True), [[(4, 3), (4, 3)]]),
    Spec("pairwise_distance_p1", lambda m, a, b: _f(m).pairwise_distance(a, b, p=1),
         [[(4, 3), (4, 3)]], gradgradcheck=False),
    Spec("cdist", lambda m, a, b: m.cdist(a, b), [
        [(4, 3), (5, 3)], [(2, 3, 2), (4, 2)], [(2, 1, 3, 2), (4, 2, 2)]]),
    Spec("cdist_mm", lambda m, a, b: m.cdist(a, b, compute_mode="use_mm_for_euclid_dist"),
         [[(4, 3), (5, 3)], [(2, 3, 2), (2, 4, 2)]], atol=1e-6, atol32=1e-4),
    Spec("cdist_large", lambda m, a, b: m.cdist(a, b), [[(27, 2), (2, 2)]], atol=1e-6,
         atol32=1e-4),
    Spec("cdist_p", lambda m, a, b: m.cdist(a, b, p=3.0), [[(4, 3), (5, 3)]]),
    Spec("cdist_p1", lambda m, a, b: m.cdist(a, b, p=1.0), [[(4, 3), (5, 3)]],
         gradgradcheck=False),
    Spec("cdist_inf", lambda m, a, b: m.cdist(a, b, p=float("inf")), [[(4, 3), (5, 3)]],
         gradgradcheck=False),
    Spec("pdist", lambda m, x: _f(m).pdist(x), [[(4, 3)], [(2, 5)]]),
    Spec("pdist_p", lambda m, x: m.pdist(x, p=1.5), [[(4, 3)]]),
    Spec("normalize", lambda m, x: _f(m).normalize(x), [[(3, 4)], [(2, 3, 2)],
                                                       [F((4, 3), noncontig=True)]]),
    Spec("normalize_p_dim", lambda m, x: _f(m).normalize(x, p=3, dim=-1, eps=0.5),
         [[(3, 4)], [F((3, 4), -0.1, 0.1)]]),
    Spec("normalize_p1", lambda m, x: _f(m).normalize(x, p=1, dim=0), [[(3, 4)]]),
]
