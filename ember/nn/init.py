"""``ember.nn.init``: fill a tensor in place with initial values, as ``torch.nn.init`` does.

Every function works under ``no_grad``, changes the tensor in place and returns it, so
``init.xavier_uniform_(layer.weight)`` works on a Parameter that requires grad. The
distributions, bounds and fan rules are PyTorch's; the numbers differ because ember's
random generator is not PyTorch's. Functions that draw take ``generator=``.
"""

import math
import warnings

import numpy as np

from ember.autograd.grad_mode import no_grad
from ember.random import numpy_generator

__all__ = [
    "calculate_gain",
    "constant",
    "constant_",
    "dirac",
    "dirac_",
    "eye",
    "eye_",
    "kaiming_normal",
    "kaiming_normal_",
    "kaiming_uniform",
    "kaiming_uniform_",
    "normal",
    "normal_",
    "ones_",
    "orthogonal",
    "orthogonal_",
    "sparse",
    "sparse_",
    "trunc_normal_",
    "uniform",
    "uniform_",
    "xavier_normal",
    "xavier_normal_",
    "xavier_uniform",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d")


def calculate_gain(nonlinearity, param=None):
    """The recommended scale of initial weights for a nonlinearity.

    linear, conv*, sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu:
    sqrt(2 / (1 + negative_slope^2)) (``param`` is the slope, default 0.01); selu: 3/4.

    Args:
        nonlinearity: the function's name, as in ``torch.nn.init.calculate_gain``.
        param: the negative slope of ``leaky_relu``.

    Returns:
        The gain, a Python number.

    Example:
        >>> calculate_gain("tanh")
        1.6666666666666667
    """
    if nonlinearity in _LINEAR or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif (isinstance(param, int) and not isinstance(param, bool)) or isinstance(param, float):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def uniform_(tensor, a=0.0, b=1.0, generator=None):
    """Fill ``tensor`` with draws from U(a, b); returns it."""
    with no_grad():
        return tensor.uniform_(a, b, generator=generator)


def normal_(tensor, mean=0.0, std=1.0, generator=None):
    """Fill ``tensor`` with draws from N(mean, std^2); returns it."""
    with no_grad():
        return tensor.normal_(mean, std, generator=generator)


def constant_(tensor, val):
    """Fill ``tensor`` with ``val``; returns it."""
    with no_grad():
        return tensor.fill_(val)


def ones_(tensor):
    """Fill ``tensor`` with ones; returns it."""
    return constant_(tensor, 1.0)


def zeros_(tensor):
    """Fill ``tensor`` with zeros; returns it."""
    with no_grad():
        return tensor.zero_()


def _copy_values(tensor, values):
    with no_grad():
        return tensor.copy_(values)


def trunc_normal_(tensor, mean=0.0, std=1.0, a=-2.0, b=2.0, generator=None):
    """Fill ``tensor`` with draws from N(mean, std^2) truncated to ``[a, b]``; returns it.

    Values are drawn by rejection, as PyTorch does: from the normal itself when at least
    30% of its mass lies in ``[a, b]``, otherwise uniformly in ``[a, b]`` accepted with
    probability proportional to the normal density.

    Example:
        >>> import ember
        >>> w = trunc_normal_(ember.empty(1000), std=0.02, a=-0.04, b=0.04)
        >>> bool((w.abs() <= 0.04).all())
        True
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    rng, n = numpy_generator(generator), tensor.numel()
    mass = _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std)
    draw = _truncated_by_normal if mass > 0.3 else _truncated_by_uniform
    return _copy_values(tensor, draw(rng, n, mean, std, a, b).reshape(tensor.shape))


def _norm_cdf(x):
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def _truncated_by_normal(rng, n, mean, std, a, b):
    values = rng.normal(mean, std, n)
    redraw = (values < a) | (values > b)
    while redraw.any():
        values[redraw] = rng.normal(mean, std, int(redraw.sum()))
        redraw = (values < a) | (values > b)
    return values


def _truncated_by_uniform(rng, n, mean, std, a, b):
    # Accept x ~ U(a, b) with probability exp(-(x - mean)^2 / 2std^2) / (its peak on [a, b]).
    log_peak = -0.5 * ((max(a, min(mean, b)) - mean) / std) ** 2
    values = np.empty(n)
    pending = np.ones(n, dtype=bool)
    while pending.any():
        count = int(pending.sum())
        candidates = rng.uniform(a, b, count)
        log_density = -0.5 * ((candidates - mean) / std) ** 2 - log_peak
        accepted = np.log(rng.uniform(size=count)) <= log_density
        slots = np.flatnonzero(pending)[accepted]
        values[slots] = candidates[accepted]
        pending[slots] = False
    return values


def eye_(tensor):
    """Fill a 2-D ``tensor`` with the identity matrix (ones on the diagonal); returns it."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _copy_values(tensor, np.eye(*tensor.shape))


def dirac_(tensor, groups=1):
    """Fill a 3-, 4- or 5-D conv weight with the Dirac delta: the convolution is the identity.

    Within each of ``groups``, output channel ``d`` gets a single one at input channel
    ``d`` and the kernel's centre, as many channels as both sides have.
    """
    if tensor.dim() not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    sizes = tensor.shape
    if sizes[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = sizes[0] // groups
    channels = np.arange(min(per_group, sizes[1]))
    out_channels = (np.arange(groups)[:, None] * per_group + channels).ravel()
    values = np.zeros(sizes)
    centre = tuple(s // 2 for s in sizes[2:])
    values[(out_channels, np.tile(channels, groups)) + centre] = 1
    return _copy_values(tensor, values)


def _calculate_fan_in_and_fan_out(tensor):
    """``(fan_in, fan_out)`` of a weight: ``size(1)`` and ``size(0)`` times the kernel size."""
    if tensor.dim() < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor, mode):
    mode = mode.lower()
    valid_modes = ["fan_in", "fan_out"]
    if mode not in valid_modes:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid_modes}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor, gain=1.0, generator=None):
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``; returns it."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain=1.0, generator=None):
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor, a, mode, nonlinearity):
    return calculate_gain(nonlinearity, a) / math.sqrt(_calculate_correct_fan(tensor, mode))


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He uniform: U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``; returns it.

    Args:
        tensor: at least 2-D.
        a: the negative slope of the ``leaky_relu`` that follows (for the gain).
        mode: ``'fan_in'`` keeps the forward variance, ``'fan_out'`` the backward one.
        nonlinearity: passed to ``calculate_gain``.
        generator: the random generator (default: ember's global one).
    """
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu", generator=None):
    """He normal: N(0, std^2) with ``std = gain / sqrt(fan)``; arguments as ``kaiming_uniform_``."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor, gain=1, generator=None):
    """Fill ``tensor`` (viewed as ``(size(0), -1)``) with a random (semi-)orthogonal matrix.

    The matrix is the Q of the QR decomposition of a Gaussian matrix, its columns' signs
    fixed by R's diagonal so that Q is uniformly distributed; then scaled by ``gain``.
    """
    if tensor.dim() < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = numpy_generator(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _copy_values(tensor, (gain * q).reshape(tensor.shape))


def sparse_(tensor, sparsity, std=0.01, generator=None):
    """Fill a 2-D ``tensor`` with N(0, std^2), then zero ``ceil(sparsity * rows)`` random
    entries in each column; returns it."""
    if tensor.dim() != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = math.ceil(sparsity * rows)
    rng = numpy_generator(generator)
    values = rng.normal(0.0, std, (rows, cols))
    zero_rows = np.argsort(rng.random((rows, cols)), axis=0)[:num_zeros]
    values[zero_rows, np.arange(cols)] = 0
    return _copy_values(tensor, values)


def _make_deprecate(method):
    new_name = method.__name__
    old_name = new_name[:-1]

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of "
                      f"`nn.init.{new_name}`.", FutureWarning, stacklevel=2)
        return method(*args, **kwargs)

    deprecated_init.__doc__ = f"Deprecated: use ``{new_name}``."
    deprecated_init.__name__ = old_name
    return deprecated_init


uniform = _make_deprecate(uniform_)
normal = _make_deprecate(normal_)
constant = _make_deprecate(constant_)
eye = _make_deprecate(eye_)
dirac = _make_deprecate(dirac_)
xavier_uniform = _make_deprecate(xavier_uniform_)
xavier_normal = _make_deprecate(xavier_normal_)
kaiming_uniform = _make_deprecate(kaiming_uniform_)
kaiming_normal = _make_deprecate(kaiming_normal_)
orthogonal = _make_deprecate(orthogonal_)
sparse = _make_deprecate(sparse_)
