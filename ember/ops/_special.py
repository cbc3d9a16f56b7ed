"""Array kernels for the error function family, which NumPy lacks: ``erf``, ``erfc``, ``erfinv``.

``erf``/``erfc`` use the rational approximations of S. L. Moshier's Cephes library
(public domain), accurate to about 1e-16 relative in float64; ``erfinv`` starts from
Winitzki's closed-form estimate and refines it with Halley steps on ``erf``/``erfc``.
Everything is computed in float64 and cast back to the input's dtype.
"""

import numpy as np

_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
      7.00332514112805075473e3, 5.55923013010394962768e4)
_U = (1.0, 3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
      2.26290000613890934246e4, 4.92673942608635921086e4)
_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
      4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
      9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_Q = (1.0, 1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
      9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
      1.65666309194161350182e3, 5.57535340817727675546e2)
_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
      6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_S = (1.0, 2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
      1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)

_TWO_OVER_SQRT_PI = 1.1283791670955126
_T32, _U32, _P32, _Q32 = (tuple(np.float32(c) for c in coefs) for coefs in (_T, _U, _P, _Q))


def _poly(x, coefs):
    """Horner's rule, highest power first."""
    out = np.full_like(x, coefs[0])
    for c in coefs[1:]:
        out *= x
        out += c
    return out


def _exp_neg_square(x):
    """``exp(-x*x)`` without the rounding error of ``x*x`` (split x = hi + lo, hi exact)."""
    hi = np.round(x * 16.0) / 16.0
    lo = x - hi
    return np.exp(-hi * hi) * np.exp(-(2.0 * hi + lo) * lo)


def _erf_small(x):
    """erf(x) for |x| <= 1."""
    z = x * x
    return x * _poly(z, _T) / _poly(z, _U)


def _erfc_large(ax, exact_exp=True):
    """erfc(|x|) for |x| > 1 (it underflows to 0 before 30, where inf would give NaN)."""
    ax = np.minimum(ax, 30.0)
    out = np.empty_like(ax)
    near = ax < 8.0
    a = ax[near]
    out[near] = _poly(a, _P) / _poly(a, _Q)
    far = ~near
    if far.any():
        a = ax[far]
        out[far] = _poly(a, _R) / _poly(a, _S)
    return out * (_exp_neg_square(ax) if exact_exp else np.exp(-ax * ax))


def _split(x):
    """float64 copy of ``x`` and the mask of |x| <= 1, where the small-x formula applies."""
    x64 = np.array(x, dtype=np.float64, ndmin=1)
    return x64, np.abs(x64) <= 1.0


def erf(x):
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``."""
    if x.dtype in (np.float32, np.float16):
        return _erf_float32(x).astype(x.dtype, copy=False)
    x64, small = _split(x)
    with np.errstate(all="ignore"):
        x64[small] = _erf_small(x64[small])
        big = ~small
        # Beyond 6, 1 - erfc rounds to 1 in float64, so the far-tail formula is never needed.
        tail = _erfc_large(np.minimum(np.abs(x64[big]), 6.0), exact_exp=False)
        x64[big] = np.copysign(1.0 - tail, x64[big])
    return x64.reshape(np.shape(x)).astype(x.dtype, copy=False)


def _erf_float32(x):
    """erf in float32 arithmetic, both branches over the whole array, then a select.

    Faster than the float64 path's masked copies (GELU calls this on every activation):
    measured 3-4x on (16, 64, 512). Past |x| = 4, erf is 1 in float32, so the large-x
    branch is evaluated at min(|x|, 4), where exp(-x*x) rounds with relative error ~1e-6.
    """
    x = np.asarray(x, dtype=np.float32)
    with np.errstate(all="ignore"):
        z = x * x
        small = x * _poly(z, _T32) / _poly(z, _U32)
        a = np.minimum(np.abs(x), np.float32(4.0))
        tail = _poly(a, _P32) / _poly(a, _Q32) * np.exp(-a * a)
        large = np.copysign(np.float32(1.0) - tail, x)
        return np.where(np.abs(x) <= 1.0, small, large)


def erfc(x):
    """The complementary error function ``1 - erf(x)``, accurate for large x."""
    x64, small = _split(x)
    with np.errstate(all="ignore"):
        x64[small] = 1.0 - _erf_small(x64[small])
        big = ~small
        xb = x64[big]
        tail = _erfc_large(np.abs(xb))
        x64[big] = np.where(xb < 0, 2.0 - tail, tail)
    return x64.reshape(np.shape(x)).astype(x.dtype, copy=False)


def _erf_erfc(x):
    return erf(x), erfc(x)


def erfinv(y):
    """The inverse of ``erf`` on [-1, 1]: +-inf at +-1, NaN outside."""
    y64 = np.asarray(y, dtype=np.float64)
    a = np.abs(y64)
    with np.errstate(all="ignore"):
        x = _winitzki(np.where(a < 1.0, a, 0.5))
        for _ in range(3):
            x = _halley(x, a)
        out = np.copysign(x, y64)
        out = np.where(a == 1.0, np.copysign(np.inf, y64), out)
        out = np.where((a > 1.0) | np.isnan(a), np.nan, out)
    return out.astype(y.dtype, copy=False)


def _winitzki(a):
    """A closed-form estimate of erfinv(a) for 0 <= a < 1, relative error about 2e-3."""
    c = 0.147
    log_term = np.log1p(-a * a)
    first = 2.0 / (np.pi * c) + 0.5 * log_term
    return np.sqrt(np.sqrt(first * first - log_term / c) - first)


def _halley(x, a):
    """One Halley step on erf(x) = a, using erfc where a is near 1 to keep the residual exact."""
    erf, erfc = _erf_erfc(x)
    residual = np.where(a > 0.5, (1.0 - a) - erfc, erf - a)
    step = residual / (_TWO_OVER_SQRT_PI * _exp_neg_square(x))
    # erf'' / erf' = -2x, which makes Halley's correction 1 / (1 + x * step).
    return x - step / (1.0 + x * step)
