"""Tools for testing code that uses ember: ``assert_close`` and numerical gradient checks.

``assert_close`` follows ``torch.testing.assert_close``: default tolerances by dtype,
exact comparison for integers and bools, and a message that says how many elements
differ and where the worst one is.
"""

import numpy as np

from ember.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from ember.tensor import Tensor

__all__ = ["assert_close", "gradcheck", "gradgradcheck", "GradcheckError"]

# (rtol, atol) by dtype, as in torch.testing.
_TOLERANCES = {np.float16: (1e-3, 1e-5), np.float32: (1.3e-6, 1e-5), np.float64: (1e-7, 1e-7)}


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False, check_dtype=True,
                 msg=None, **_ignored):
    """Raise AssertionError unless ``actual`` and ``expected`` are close elementwise.

    Both may be tensors, arrays, numbers, or (nested) sequences and dicts of them.
    ``|actual - expected| <= atol + rtol * |expected|``; give both tolerances or neither.
    """
    if (rtol is None) != (atol is None):
        raise ValueError("assert_close: give both rtol and atol, or neither")
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), \
            msg or f"keys differ: {sorted(actual)} vs {sorted(expected)}"
        for key in expected:
            assert_close(actual[key], expected[key], rtol=rtol, atol=atol,
                         equal_nan=equal_nan, check_dtype=check_dtype, msg=msg)
        return
    if isinstance(expected, (list, tuple)) and not _is_leaf_sequence(expected):
        assert len(actual) == len(expected), msg or f"lengths differ: {len(actual)} vs " \
                                                    f"{len(expected)}"
        for a, e in zip(actual, expected):
            assert_close(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan,
                         check_dtype=check_dtype, msg=msg)
        return
    _compare(_array(actual), _array(expected), rtol, atol, equal_nan, check_dtype, msg)


def _is_leaf_sequence(seq):
    return all(isinstance(x, (int, float, bool)) for x in seq)


def _array(x):
    if isinstance(x, Tensor):
        return x.detach().numpy()
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a tensor of another library
        return np.asarray(x.detach().numpy())
    return np.asarray(x)


def _compare(a, e, rtol, atol, equal_nan, check_dtype, msg):
    if a.shape != e.shape:
        raise AssertionError(msg or f"The values for attribute 'shape' do not match: "
                                    f"{a.shape} != {e.shape}.")
    if check_dtype and a.dtype != e.dtype and not (a.ndim == 0 and e.dtype == np.float64):
        raise AssertionError(msg or f"The values for attribute 'dtype' do not match: "
                                    f"{a.dtype} != {e.dtype}.")
    if rtol is None:
        rtol, atol = _TOLERANCES.get(np.result_type(a, e).type, (0.0, 0.0))
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    ok = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if ok.all():
        return
    diff = np.abs(a64 - e64)
    diff[ok] = 0
    worst = np.unravel_index(np.nanargmax(np.where(np.isnan(diff), np.inf, diff)), a.shape)
    raise AssertionError(msg or (
        f"Tensor-likes are not close!\n\nMismatched elements: {int((~ok).sum())} / {ok.size} "
        f"({100 * (~ok).mean():.1f}%)\nGreatest absolute difference: {diff[worst]} at index "
        f"{tuple(int(i) for i in worst)} (up to {atol} allowed)\n"
        f"Actual: {a64[worst]}, expected: {e64[worst]} (rtol {rtol}, atol {atol})"))
