"""Op specifications: einsum, tensordot, bilinear."""

from tests.ops.harness import F, Spec


def _einsum(equation):
    return lambda m, *ops: m.einsum(equation, *ops)


SPECS = [
    Spec("einsum_matmul", _einsum("ij,jk->ik"), [[(2, 3), (3, 4)],
                                                [F((3, 2), noncontig=True), (2, 2)]]),
    Spec("einsum_implicit", _einsum("ij,jk"), [[(2, 3), (3, 4)]]),
    Spec("einsum_implicit_order", _einsum("ba"), [[(2, 3)]]),
    Spec("einsum_bmm", _einsum("bij,bjk->bik"), [[(2, 2, 3), (2, 3, 2)]]),
    Spec("einsum_trace", _einsum("ii->"), [[(3, 3)], [F((3, 3), noncontig=True)]]),
    Spec("einsum_trace_implicit", _einsum("ii"), [[(3, 3)]]),
    Spec("einsum_diagonal", _einsum("ii->i"), [[(3, 3)]]),
    Spec("einsum_diagonal_3d", _einsum("iji->ij"), [[(2, 3, 2)]]),
    Spec("einsum_outer", _einsum("i,j->ij"), [[(3,), (4,)]]),
    Spec("einsum_dot", _einsum("i,i->"), [[(4,), (4,)]]),
    Spec("einsum_hadamard", _einsum("ij,ij->ij"), [[(2, 3), (2, 3)]]),
    Spec("einsum_transpose", _einsum("ij->ji"), [[(2, 3)]]),
    Spec("einsum_sum_axes", _einsum("ijk->j"), [[(2, 3, 2)]]),
    Spec("einsum_sum_all", _einsum("ij->"), [[(2, 3)]]),
    Spec("einsum_ellipsis", _einsum("...ij->...ji"), [[(2, 2, 3)], [(2, 3)]]),
    Spec("einsum_ellipsis_matmul", _einsum("...ij,...jk"),
         [[(2, 2, 3), (2, 3, 2)], [(1, 2, 3), (2, 3, 2)], [(2, 3), (2, 3, 2)]]),
    Spec("einsum_ellipsis_sum", _einsum("i...->i"), [[(2, 3, 2)]]),
    Spec("einsum_broadcast_label", _einsum("ij,jk->ik"), [[(2, 1), (3, 2)]]),
    Spec("einsum_three", _einsum("bn,anm,bm->ba"), [[(2, 3), (2, 3, 2), (2, 2)]]),
    Spec("einsum_list", lambda m, a, b: m.einsum("i,i", [a, b]), [[(3,), (3,)]]),
    Spec("einsum_sublist", lambda m, a, b: m.einsum(a, [0, 1], b, [1, 2], [0, 2]),
         [[(2, 3), (3, 2)]]),
    Spec("einsum_sublist_ellipsis", lambda m, a: m.einsum(a, [..., 0, 1], [..., 1]),
         [[(2, 2, 3)]]),
    Spec("tensordot", lambda m, a, b, dims: m.tensordot(a, b, dims=dims),
         [[(2, 3, 4), (3, 4, 2), 2], [(2, 3), (3, 2), 1], [(2,), (3,), 0],
          [(2, 3, 4), (4, 3, 2), ([1, 2], [1, 0])], [(2, 3), (2, 2), ([0], [-1])],
          [F((3, 2), noncontig=True), (2, 3), 1]]),
    Spec("bilinear", lambda m, a, b, w, bias: m.nn.functional.bilinear(a, b, w, bias),
         [[(2, 3), (2, 2), (2, 3, 2), (2,)], [(3,), (2,), (2, 3, 2), None],
          [(2, 2, 2), (2, 2, 3), (2, 2, 3), (2,)]]),
    Spec("bilinear_top", lambda m, a, b, w: m.bilinear(a, b, w), [[(2, 3), (2, 2), (2, 3, 2)]]),
]
