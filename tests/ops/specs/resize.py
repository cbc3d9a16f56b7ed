"""Op specifications: ``F.interpolate`` in every mode, with PyTorch's coordinates.

Each case is ``[input, keyword arguments]``: scale factors 2 and 0.5, non-integer
scales, explicit sizes that shrink (7 -> 3) and grow (3 -> 7), both align_corners.
"""

from tests.ops.harness import F, Spec


def _interp(mode, **fixed):
    return lambda m, x, kw: m.nn.functional.interpolate(x, mode=mode, **fixed, **kw)


SIZES_1D = [[(1, 2, 4), {"scale_factor": 2}], [(1, 2, 8), {"scale_factor": 0.5}],
            [(2, 1, 7), {"size": 3}], [(1, 2, 3), {"size": 7}],
            [(1, 2, 5), {"scale_factor": 1.7}], [(1, 2, 6), {"scale_factor": 0.7}],
            [(1, 1, 5), {"scale_factor": 2.5, "recompute_scale_factor": True}],
            [F((1, 2, 5), noncontig=True), {"size": 8}]]
SIZES_2D = [[(1, 2, 3, 2), {"scale_factor": 2}], [(1, 1, 4, 6), {"scale_factor": 0.5}],
            [(1, 1, 7, 3), {"size": (3, 7)}], [(1, 1, 3, 4), {"scale_factor": (1.5, 0.75)}],
            [(1, 1, 3, 3), {"scale_factor": 1.7, "recompute_scale_factor": True}],
            [F((1, 2, 3, 4), noncontig=True), {"size": (5, 2)}]]

SPECS = [
    Spec("interpolate_nearest", _interp("nearest"), SIZES_1D + SIZES_2D),
    Spec("interpolate_nearest_exact", _interp("nearest-exact"), SIZES_1D + SIZES_2D),
    Spec("interpolate_linear", _interp("linear"), SIZES_1D),
    Spec("interpolate_linear_align_corners", _interp("linear", align_corners=True), SIZES_1D),
    Spec("interpolate_bilinear", _interp("bilinear"), SIZES_2D),
    Spec("interpolate_bilinear_align_corners", _interp("bilinear", align_corners=True), SIZES_2D),
    Spec("interpolate_bicubic", _interp("bicubic"), SIZES_2D),
    Spec("interpolate_bicubic_align_corners", _interp("bicubic", align_corners=True), SIZES_2D),
    Spec("interpolate_area", _interp("area"),
         [[(1, 2, 7), {"size": 3}], [(1, 2, 3), {"size": 7}], [(1, 1, 5, 7), {"size": (3, 2)}],
          [(1, 1, 4, 4), {"scale_factor": 0.5}]]),
    Spec("interpolate_trilinear", _interp("trilinear"),
         [[(1, 1, 2, 3, 2), {"scale_factor": 1.5}],
          [(1, 1, 3, 2, 2), {"size": (2, 3, 3), "align_corners": True}]]),
    Spec("interpolate_nearest_3d", _interp("nearest"), [[(1, 1, 2, 3, 2), {"scale_factor": 1.5}]]),
]
