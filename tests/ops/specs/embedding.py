"""Op specifications: embedding and embedding_bag."""

import numpy as np

from tests.ops.harness import Arr, F, I, Spec


def _f(m):
    return m.nn.functional


_IDX = Arr(np.array([[0, 2, 4], [4, 1, 0]]))
_BAGS = Arr(np.array([[0, 2, 4, 2], [4, 1, 0, 3]]))

SPECS = [
    Spec("embedding", lambda m, i, w: _f(m).embedding(i, w), [
        [_IDX, (5, 3)], [I((4,), 0, 5), (5, 2)], [Arr(np.array(3)), (5, 3)],
        [Arr(np.array([1, 1, 1, 2])), F((3, 5), noncontig=True)]]),
    # padding_idx and scale_grad_by_freq change the gradient on purpose (it is no longer
    # the derivative), so the numerical first-order check does not apply to them.
    Spec("embedding_padding", lambda m, i, w: _f(m).embedding(i, w, padding_idx=4),
         [[_IDX, (5, 3)]], gradcheck=False),
    Spec("embedding_padding_neg", lambda m, i, w: _f(m).embedding(i, w, padding_idx=-5),
         [[_IDX, (5, 3)]], gradcheck=False),
    Spec("embedding_freq", lambda m, i, w: _f(m).embedding(i, w, padding_idx=1,
                                                           scale_grad_by_freq=True),
         [[Arr(np.array([[0, 2, 0], [0, 1, 2]])), (5, 3)]], gradcheck=False),
    Spec("embedding_bag_mean", lambda m, i, w: _f(m).embedding_bag(i, w), [[_BAGS, (5, 3)]]),
    Spec("embedding_bag_sum", lambda m, i, w: _f(m).embedding_bag(i, w, mode="sum"),
         [[_BAGS, (5, 3)]]),
    Spec("embedding_bag_max", lambda m, i, w: _f(m).embedding_bag(i, w, mode="max"),
         [[_BAGS, (5, 3)]], gradgradcheck=False),
    Spec("embedding_bag_offsets", lambda m, i, w: _f(m).embedding_bag(
        i, w, m.tensor([0, 3, 3]), mode="sum"), [[Arr(np.array([1, 2, 4, 0, 3])), (5, 2)]]),
    Spec("embedding_bag_weights", lambda m, i, w, s: _f(m).embedding_bag(
        i, w, mode="sum", per_sample_weights=s), [[_BAGS, (5, 3), (2, 4)]]),
    Spec("embedding_bag_padding", lambda m, i, w: _f(m).embedding_bag(i, w, padding_idx=2),
         [[_BAGS, (5, 3)]]),
    Spec("embedding_bag_last_offset", lambda m, i, w: _f(m).embedding_bag(
        i, w, m.tensor([0, 2, 5]), mode="mean", include_last_offset=True),
         [[Arr(np.array([1, 2, 4, 0, 3])), (5, 2)]]),
]
