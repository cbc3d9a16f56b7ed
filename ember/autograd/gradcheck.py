"""Check analytical gradients against finite differences (also ``ember.testing``).

``gradcheck(f, inputs)`` compares, for every floating input that requires grad and
every floating output, the Jacobian that backward computes with the one that
central differences estimate: ``(f(x + eps) - f(x - eps)) / (2 eps)``. Use float64
inputs; float32 cannot resolve the differences. ``gradgradcheck`` does the same for
the gradient itself, which checks that a backward is differentiable (``create_graph``).

Example:
    >>> import ember
    >>> x = ember.randn(3, dtype=ember.float64, requires_grad=True)
    >>> gradcheck(lambda t: (t * t).sum(), (x,))
    True
"""

import numpy as np

from ember.autograd.engine import grad as autograd_grad
from ember.tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree."""


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              fast_mode=False, **_ignored):
    """True when backward's Jacobian matches central differences for every input/output pair.

    Args:
        func: takes the inputs, returns a Tensor or a tuple of Tensors.
        inputs: a Tensor or tuple; the floating ones with ``requires_grad`` are checked.
        eps: the finite-difference step.
        atol, rtol: the tolerance of ``|numerical - analytical| <= atol + rtol * |numerical|``.
        fast_mode: compare one random projection ``v^T J u`` instead of the full Jacobian.

    Raises:
        GradcheckError: naming the output, the input and the worst element, when they differ
            (unless ``raise_exception=False``, which returns False instead).
    """
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    wrt = [i for i, t in enumerate(inputs)
           if isinstance(t, Tensor) and t.requires_grad and t.is_floating_point()]
    outputs = _float_outputs(func(*inputs))
    try:
        for o, out in enumerate(outputs):
            for i in wrt:
                if fast_mode:
                    _check_projection(func, inputs, o, out, i, eps, atol, rtol)
                else:
                    _check_full(func, inputs, o, out, i, eps, atol, rtol)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, fast_mode=False, **_ignored):
    """gradcheck of the function ``(inputs, v) -> v^T d func / d inputs`` (second order)."""
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    n = len(inputs)
    outputs = _float_outputs(func(*inputs))
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(
            Tensor._make(rng.standard_normal(o.shape).astype(o._data.dtype)).requires_grad_()
            for o in outputs)
    grad_outputs = (grad_outputs,) if isinstance(grad_outputs, Tensor) else tuple(grad_outputs)
    wrt = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]

    def first_order(*args):
        outs = _float_outputs(func(*args[:n]))
        diff = [t for t in args[:n] if isinstance(t, Tensor) and t.requires_grad]
        grads = autograd_grad(outs, diff, args[n:], create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None and g.requires_grad)

    if not wrt:
        return True
    return gradcheck(first_order, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, fast_mode=fast_mode)


def _float_outputs(out):
    outs = (out,) if isinstance(out, Tensor) else tuple(out)
    return [o for o in outs if isinstance(o, Tensor) and o.is_floating_point()]


def _numerical_jvp(func, inputs, o, i, direction, eps):
    """(f(x + eps d) - f(x - eps d)) / (2 eps) for output ``o``, perturbing input ``i``."""
    x = inputs[i]._data
    saved = x.copy()
    # Not under no_grad: for gradgradcheck, func itself calls autograd.grad.
    np.add(saved, eps * direction, out=x, casting="unsafe")
    plus = _float_outputs(func(*inputs))[o]._data.astype(np.float64)
    np.subtract(saved, eps * direction, out=x, casting="unsafe")
    minus = _float_outputs(func(*inputs))[o]._data.astype(np.float64)
    x[...] = saved
    return (plus - minus) / (2 * eps)


def _vjp(func, inputs, o, i, v):
    outs = _float_outputs(func(*inputs))
    g = Tensor._make(v.astype(outs[o]._data.dtype))
    (gi,) = autograd_grad(outs[o], inputs[i], g, allow_unused=True)
    return np.zeros(inputs[i].shape) if gi is None else gi._data.astype(np.float64)


def _check_full(func, inputs, o, out, i, eps, atol, rtol):
    n_in, n_out = inputs[i]._data.size, out._data.size
    numerical = np.zeros((n_in, n_out))
    for j in range(n_in):
        d = np.zeros(n_in)
        d[j] = 1.0
        numerical[j] = _numerical_jvp(func, inputs, o, i, d.reshape(inputs[i].shape), eps).ravel()
    analytical = np.zeros((n_in, n_out))
    for k in range(n_out):
        v = np.zeros(n_out)
        v[k] = 1.0
        analytical[:, k] = _vjp(func, inputs, o, i, v.reshape(out.shape)).ravel()
    _compare(numerical, analytical, o, i, atol, rtol)


def _check_projection(func, inputs, o, out, i, eps, atol, rtol):
    rng = np.random.default_rng(1)
    u = rng.standard_normal(inputs[i].shape)
    v = rng.standard_normal(out.shape)
    numerical = np.array([np.sum(_numerical_jvp(func, inputs, o, i, u, eps) * v)])
    analytical = np.array([np.sum(_vjp(func, inputs, o, i, v) * u)])
    _compare(numerical, analytical, o, i, atol, rtol)


def _compare(numerical, analytical, o, i, atol, rtol):
    bad = np.abs(numerical - analytical) > atol + rtol * np.abs(numerical)
    if bad.any():
        j, k = np.unravel_index(np.argmax(np.abs(numerical - analytical)), numerical.shape)
        raise GradcheckError(
            f"Jacobian mismatch for output {o} with respect to input {i}: "
            f"{int(bad.sum())} of {bad.size} entries differ; worst at (input element {j}, "
            f"output element {k}): numerical {numerical[j, k]:.6g}, "
            f"analytical {analytical[j, k]:.6g}"
        )
