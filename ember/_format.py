"""``repr`` of a Tensor, in PyTorch's layout: ``tensor([1., 2.], requires_grad=True)``."""

import numpy as np

from ember import _dtype

_QUIET = (_dtype.int64, _dtype.bool)


def format_tensor(t):
    data = t._data
    prefix = "tensor("
    if data.size == 0:
        body = "[]" if data.ndim == 1 else f"size={tuple(data.shape)}"
    else:
        body = np.array2string(data, separator=", ", prefix=prefix, **_float_options(data),
                               threshold=1000, edgeitems=3, max_line_width=80)
    extras = []
    d = t.dtype
    if d is not _dtype.get_default_dtype() and d not in _QUIET:
        extras.append(f"dtype={d!r}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t._requires_grad:
        extras.append("requires_grad=True")
    return prefix + ", ".join([body] + extras) + ")"


def _float_options(data):
    if data.dtype.kind != "f":
        return {}
    finite = data[np.isfinite(data)]
    if finite.size and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8:
        return {"precision": 0, "floatmode": "maxprec", "suppress_small": True}
    big = finite.size and (np.abs(finite).max() >= 1e8 or 0 < np.abs(finite[finite != 0]).min(
        initial=1) < 1e-4)
    if big:
        return {"precision": 4, "floatmode": "fixed", "suppress_small": False}
    return {"precision": 4, "floatmode": "fixed", "suppress_small": True}
