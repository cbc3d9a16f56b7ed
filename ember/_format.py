"""``repr`` of a Tensor, in PyTorch's layout: ``tensor([1., 2.], requires_grad=True)``."""

import numpy as np

from ember import _dtype

_QUIET = (_dtype.int64, _dtype.bool)


class PrintOptions:
    """What ``set_printoptions`` changed: NumPy's names for PyTorch's settings."""

    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode = None


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """How tensors print, as ``torch.set_printoptions``.

    ``profile`` is 'default', 'short' or 'full'; the other arguments override it.
    """
    presets = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
               "full": (4, float("inf"), 3, 80)}
    if profile is not None:
        (PrintOptions.precision, PrintOptions.threshold, PrintOptions.edgeitems,
         PrintOptions.linewidth) = presets[profile]
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(PrintOptions, name, value)
    PrintOptions.sci_mode = sci_mode


def format_tensor(t):
    data = t._data
    prefix = "tensor("
    if data.size == 0:
        body = "[]" if data.ndim == 1 else f"size={tuple(data.shape)}"
    else:
        threshold = PrintOptions.threshold
        body = np.array2string(data, separator=", ", prefix=prefix, **_float_options(data),
                               threshold=threshold if threshold != float("inf") else 2 ** 62,
                               edgeitems=PrintOptions.edgeitems,
                               max_line_width=PrintOptions.linewidth)
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
    precision = PrintOptions.precision
    if finite.size and np.all(finite == np.round(finite)) and np.abs(finite).max() < 1e8 \
            and not PrintOptions.sci_mode:
        return {"precision": 0, "floatmode": "maxprec", "suppress_small": True}
    sci = PrintOptions.sci_mode
    if sci is None:
        sci = bool(finite.size) and (np.abs(finite).max() >= 1e8 or 0 < np.abs(
            finite[finite != 0]).min(initial=1) < 1e-4)
    return {"precision": precision, "floatmode": "fixed", "suppress_small": not sci}
