"""Higher-level derivatives built on ``autograd.grad``: vjp, jvp, jacobian, hessian, hvp.

The same functions as ``torch.autograd.functional``. ``jvp`` uses the double-vjp trick
(the vjp of a vjp is a jvp), so it needs only reverse mode.

Example:
    >>> import ember
    >>> x = ember.tensor([1.0, 2.0])
    >>> jacobian(lambda t: t ** 2, x)
    tensor([[2., 0.],
            [0., 4.]])
"""

import numpy as np

from ember.autograd.engine import grad
from ember.autograd.grad_mode import enable_grad
from ember.tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _fresh(inputs):
    """Detached copies of the inputs that require grad, so the caller's tensors stay clean."""
    return tuple(Tensor._make(t._data.copy()).requires_grad_(True) for t in inputs)


def _zeros_if_none(grads, like):
    return tuple(Tensor._make(np.zeros_like(t._data)) if g is None else g
                 for g, t in zip(grads, like))


def _single(value, was_tensor):
    return value[0] if was_tensor else value


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs``."""
    single = isinstance(inputs, Tensor)
    xs = _fresh(_tuple(inputs))
    with enable_grad():
        out = func(*xs)
        outs = _tuple(out)
        vs = _tuple(v) if v is not None else tuple(
            Tensor._make(np.ones_like(o._data)) for o in outs)
        grads = grad(outs, xs, vs, create_graph=create_graph, allow_unused=True)
    return _detach(out, create_graph), _single(_zeros_if_none(grads, xs), single)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)``: the Jacobian-vector product, by reverse mode applied twice."""
    xs = _fresh(_tuple(inputs))
    vs = _tuple(v) if v is not None else tuple(Tensor._make(np.ones_like(x._data)) for x in xs)
    with enable_grad():
        out = func(*xs)
        outs = _tuple(out)
        dummies = tuple(Tensor._make(np.zeros_like(o._data)).requires_grad_(True) for o in outs)
        grads = grad(outs, xs, dummies, create_graph=True, allow_unused=True)
        pairs = [(g, w) for g, w in zip(grads, vs) if g is not None and g.requires_grad]
        if not pairs:
            jv = tuple(Tensor._make(np.zeros_like(o._data)) for o in outs)
        else:
            jv = grad([g for g, _ in pairs], dummies, [w for _, w in pairs],
                      create_graph=create_graph, allow_unused=True)
            jv = _zeros_if_none(jv, outs)
    return _detach(out, create_graph), _single(jv, isinstance(out, Tensor))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False):
    """The Jacobian ``d func / d inputs``: shape ``out.shape + in.shape`` per pair."""
    single_in = isinstance(inputs, Tensor)
    xs = _fresh(_tuple(inputs))
    with enable_grad():
        out = func(*xs)
        outs = _tuple(out)
        rows = []
        for o in outs:
            per_input = [[] for _ in xs]
            for k in range(o._data.size):
                e = np.zeros(o._data.size, dtype=o._data.dtype)
                e[k] = 1
                gs = grad(o, xs, Tensor._make(e.reshape(o._data.shape)), retain_graph=True,
                          create_graph=create_graph, allow_unused=True)
                for j, g in enumerate(_zeros_if_none(gs, xs)):
                    per_input[j].append(g)
            rows.append(tuple(_stack(parts, o, x) for parts, x in zip(per_input, xs)))
    result = tuple(r if not single_in else r[0] for r in rows)
    return result[0] if isinstance(out, Tensor) else result


def _stack(parts, out, x):
    from ember.ops.join import stack

    if not parts:
        return Tensor._make(np.zeros(out._data.shape + x._data.shape, x._data.dtype))
    return stack(parts).reshape(out._data.shape + x._data.shape)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False):
    """The Hessian of a scalar function: the Jacobian of its gradient."""
    single = isinstance(inputs, Tensor)

    def gradient(*xs):
        (out,) = _tuple(func(*xs))
        gs = grad(out, xs, create_graph=True, allow_unused=True)
        return _zeros_if_none(gs, xs) if not single else _zeros_if_none(gs, xs)[0]

    return jacobian(gradient, inputs, create_graph=create_graph)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)`` for a scalar function."""
    single = isinstance(inputs, Tensor)

    def gradient(*xs):
        gs = grad(_tuple(func(*xs))[0], xs, create_graph=True, allow_unused=True)
        return _zeros_if_none(gs, xs)

    xs = _tuple(inputs)
    value = func(*xs)
    _, product = vjp(gradient, xs, v, create_graph=create_graph)
    return _detach(value, create_graph), _single(product, single)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)``; the Hessian is symmetric, so this equals ``vhp``."""
    return vhp(func, inputs, v, create_graph=create_graph)


def _detach(out, keep):
    if keep:
        return out
    return out.detach() if isinstance(out, Tensor) else tuple(o.detach() for o in out)
