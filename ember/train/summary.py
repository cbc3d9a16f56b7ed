"""``summary``: a Keras-style table of a model's layers, output shapes and parameters."""

from ember import creation
from ember._dtype import get_default_dtype
from ember.autograd.grad_mode import no_grad
from ember.tensor import Tensor

__all__ = ["summary"]

_HEADER = ("Layer (type)", "Output Shape", "Param #")


def summary(model, input_size, dtypes=None, batch_size=-1):
    """Print and return a table of the layers a forward pass goes through.

    Runs ``model`` once, in eval mode and without gradients, on zeros of the given
    size (zeros, so that no random state moves), with forward hooks on the leaf modules
    (and on any module that holds parameters of its own); each call is one row: the
    module's path and type, its output shape, and its parameter count (a module called
    again shows ``(shared)``). The totals count every parameter of the model once.

    Args:
        model: an ``ember.nn.Module``.
        input_size: the shape of one sample, without the batch dimension, e.g.
            ``(1, 28, 28)``; a list of such shapes for a model of several inputs.
        dtypes: the dtype of each input (default: the default dtype).
        batch_size: the batch size to show in the output shapes; -1 (the default) shows
            ``-1`` and runs a batch of 2.

    Returns:
        The table, as printed.

    Example:
        >>> import ember
        >>> table = summary(ember.nn.Sequential(ember.nn.Linear(4, 3)), (4,))  # doctest: +ELLIPSIS
        -------...
    """
    sizes = [tuple(input_size)] if _is_shape(input_size) else [tuple(s) for s in input_size]
    dtypes = list(dtypes) if dtypes is not None else [get_default_dtype()] * len(sizes)
    run = 2 if batch_size == -1 else batch_size
    inputs = [creation.zeros((run, *size), dtype=d) for size, d in zip(sizes, dtypes)]
    rows = _trace(model, inputs, batch_size)
    table = _table(rows, model)
    print(table)
    return table


def _is_shape(size):
    return all(isinstance(s, int) for s in size)


def _trace(model, inputs, batch_size):
    """The rows ``(name, output shape, parameter count)`` of one forward pass."""
    names = {id(m): name for name, m in model.named_modules()}
    rows, seen, handles = [], set(), []

    def record(module, args, output):
        own = sum(p.numel() for p in module.parameters(recurse=False))
        count = "(shared)" if id(module) in seen and own else f"{own:,}"
        seen.add(id(module))
        label = f"{names.get(id(module)) or '(model)'} ({type(module).__name__})"
        rows.append((label, _shape(output, batch_size), count))

    for module in model.modules():
        has_children = next(iter(module.children()), None) is not None
        if not has_children or next(iter(module.parameters(recurse=False)), None) is not None:
            handles.append(module.register_forward_hook(record))
    training = model.training
    try:
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        model.train(training)
        for handle in handles:
            handle.remove()
    return rows


def _shape(output, batch_size):
    if isinstance(output, Tensor):
        shape = list(output.shape)
        return str([batch_size, *shape[1:]] if shape else shape)
    if isinstance(output, (tuple, list)):
        return ", ".join(_shape(o, batch_size) for o in output)
    return "?"


def _table(rows, model):
    params = list({id(p): p for p in model.parameters()}.values())
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    size = sum(p.numel() * p.element_size() for p in params)
    widths = [max(len(r[i]) for r in [_HEADER, *rows]) for i in range(3)]
    width = sum(widths) + 8

    def line(cells):
        return (f"{cells[0]:<{widths[0]}}    {cells[1]:<{widths[1]}}    "
                f"{cells[2]:>{widths[2]}}")

    return "\n".join([
        "-" * width, line(_HEADER), "=" * width, *(line(r) for r in rows), "=" * width,
        f"Total params: {total:,} ({_bytes(size)})",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        "-" * width,
    ])


def _bytes(n):
    """``'18.79 KB'``: a byte count in the largest unit that keeps it above 1."""
    if n < 1024:
        return f"{n} B"
    for unit in ("KB", "MB", "GB"):
        n /= 1024
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
