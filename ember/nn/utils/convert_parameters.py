"""Flatten parameters into one vector and back (for optimizers and methods that see a
model as a single point, such as L-BFGS or evolution strategies)."""

from ember.ops.join import cat
from ember.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """Concatenate the flattened ``parameters`` into one 1-D tensor (differentiable).

    Args:
        parameters: an iterable of Tensors.

    Returns:
        A tensor of shape ``(sum of numel,)``.

    Example:
        >>> import ember
        >>> parameters_to_vector([ember.ones(2, 2), ember.zeros(3)]).tolist()
        [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    """
    return cat([p.view(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Make each of ``parameters`` hold the next ``numel`` values of ``vec``, in order.

    The parameters' ``data`` become views of ``vec`` (shared memory, as in PyTorch);
    values of ``vec`` beyond the last parameter are ignored.

    Args:
        vec: a 1-D Tensor with at least as many elements as all ``parameters``.
        parameters: an iterable of Tensors.
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected ember.Tensor, but got: {_typename(vec)}")
    pointer = 0
    for param in parameters:
        num_param = param.numel()
        param.data = vec[pointer:pointer + num_param].view_as(param).data
        pointer += num_param


def _typename(obj):
    """``'list'``, ``'numpy.ndarray'``: the type's qualified name, as PyTorch prints it."""
    cls = type(obj)
    if cls.__module__ in ("builtins", None):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"
