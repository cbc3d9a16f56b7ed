"""Op specifications: scaled_dot_product_attention."""

import numpy as np

from tests.ops.harness import Arr, F, Spec


def _sdpa(**kw):
    return lambda m, q, k, v: m.nn.functional.scaled_dot_product_attention(q, k, v, **kw)


def _sdpa_mask(**kw):
    return lambda m, q, k, v, mask: m.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, **kw)


_BOOL = np.ones((3, 5), dtype=bool)
_BOOL[0, 3:] = False
_BOOL[2, :2] = False
_DEAD_ROW = _BOOL.copy()
_DEAD_ROW[1] = False

SPECS = [
    Spec("sdpa", _sdpa(), [
        [(2, 3, 4), (2, 5, 4), (2, 5, 3)],
        [(1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)],
        [(3, 4), (5, 4), (5, 2)],
        [F((3, 4), noncontig=True), (5, 4), (5, 3)],
    ]),
    Spec("sdpa_causal", _sdpa(is_causal=True), [
        [(2, 4, 3), (2, 4, 3), (2, 4, 2)], [(1, 2, 3, 2), (1, 2, 5, 2), (1, 2, 5, 2)]]),
    Spec("sdpa_scale", _sdpa(scale=0.3), [[(2, 3, 4), (2, 5, 4), (2, 5, 3)]]),
    Spec("sdpa_bool_mask", _sdpa_mask(), [
        [(2, 3, 4), (2, 5, 4), (2, 5, 3), Arr(_BOOL)],
        [(2, 3, 4), (2, 5, 4), (2, 5, 3), Arr(_DEAD_ROW)],
        [(2, 2, 3, 2), (2, 2, 5, 2), (2, 2, 5, 2), Arr(_BOOL[None, None])]]),
    Spec("sdpa_float_mask", _sdpa_mask(), [
        [(2, 3, 4), (2, 5, 4), (2, 5, 3), (3, 5)],
        [(2, 2, 3, 2), (2, 2, 5, 2), (2, 2, 5, 2), (2, 1, 3, 5)]]),
    Spec("sdpa_gqa", _sdpa(enable_gqa=True), [
        [(1, 4, 3, 2), (1, 2, 5, 2), (1, 2, 5, 3)], [(6, 2, 2), (2, 3, 2), (2, 3, 2)]]),
]
