"""``save`` and ``load``: checkpoints as safetensors files with a JSON manifest."""

import os

from ember.serialization import format as _format
from ember.serialization.atomic import atomic_write
from ember.serialization.tree import flatten, unflatten
from ember.tensor import Tensor, device

__all__ = ["load", "save"]

# The ``__metadata__`` key that holds the manifest. "format": "pt" says the tensors are
# laid out as PyTorch's safetensors files are, which tools such as transformers check.
MANIFEST_KEY = "ember"


def save(obj, f):
    """Save tensors, state dicts and nested dicts/lists/tuples of them to a file.

    The file is a safetensors file (readable by ``safetensors.torch.load_file`` and other
    tools) whose metadata holds the structure as JSON; nothing is pickled. Saving to a
    path replaces the file atomically: a crash leaves the previous checkpoint intact.

    Args:
        obj: tensors, NumPy arrays, dicts (any order; str, int, float, bool, None or tuple
            keys), lists, tuples, str, int, float, bool, None, dtypes, ``ember.Size`` and
            devices, nested freely. Parameters are saved as plain tensors, without
            ``requires_grad``, as in a PyTorch state dict.
        f: a path (str or ``os.PathLike``), or a binary file object opened for writing.

    Raises:
        TypeError: ``obj`` holds something else (a Module, a function, an object array);
            the message gives its key path, and nothing is written.

    Example:
        >>> import io, ember
        >>> buffer = io.BytesIO()
        >>> save({"w": ember.ones(2), "epoch": 3}, buffer)
        >>> _ = buffer.seek(0)
        >>> load(buffer)
        {'w': tensor([1., 1.]), 'epoch': 3}
    """
    _save(obj, f)


def _save(obj, f, *, _before_replace=None):
    """``save``, with the test hook of ``atomic_write``."""
    manifest, arrays = flatten(obj)
    metadata = {"format": "pt", MANIFEST_KEY: manifest}
    if _is_path(f):
        atomic_write(f, lambda stream: _format.write(stream, arrays, metadata),
                     _before_replace=_before_replace)
    elif callable(getattr(f, "write", None)):
        _format.write(f, arrays, metadata)
    else:
        raise TypeError(f"save: f must be a path or a binary file object, not "
                        f"{type(f).__name__}")


def load(f, map_location=None, weights_only=True):
    """Load what ``save`` saved, or any safetensors file as a dict name -> tensor.

    Never unpickles: a pickle (what ``torch.save`` writes), a truncated or corrupted file,
    or any other kind of file raises ``CheckpointError`` before its content is used.

    Args:
        f: a path (str or ``os.PathLike``), or a binary file object opened for reading.
        map_location: ``None``, ``"cpu"``, ``ember.device("cpu")``, a dict mapping
            locations to the CPU, or a callable ``fn(tensor, "cpu")`` that returns the
            tensor to use (PyTorch's ``lambda storage, loc: storage`` works).
        weights_only: accepted for PyTorch compatibility; ember's files hold data only,
            so both values load the same thing.

    Returns:
        The saved object; tensors come back as plain tensors that do not require grad.
        They view one buffer that holds the whole file's tensor data (one read, the
        fastest), so a tensor kept alone keeps that buffer alive; ``clone()`` it if
        that matters.

    Raises:
        CheckpointError: the file is not a complete, consistent safetensors file or its
            manifest is malformed; the message names the file and what is wrong.
    """
    relocate = _relocation(map_location)
    if _is_path(f):
        where = repr(os.fspath(f))
        with open(f, "rb") as stream:
            metadata, arrays = _format.read(stream, where)
    elif callable(getattr(f, "read", None)):
        where = f"the {type(f).__name__} given"
        metadata, arrays = _format.read(f, where)
    else:
        raise TypeError(f"load: f must be a path or a binary file object, not "
                        f"{type(f).__name__}" + (" (wrap bytes in io.BytesIO)"
                                                 if isinstance(f, bytes) else ""))
    tensors = {name: relocate(Tensor._make(a)) for name, a in arrays.items()}
    if MANIFEST_KEY not in metadata:
        return tensors
    return unflatten(metadata[MANIFEST_KEY], tensors, where)


def _is_path(f):
    return isinstance(f, (str, os.PathLike))


def _relocation(map_location):
    """Check that ``map_location`` means the CPU (ember has no other device); returns
    the function applied to each loaded tensor."""
    if map_location is None:
        return _unchanged
    if callable(map_location) and not isinstance(map_location, (str, device)):
        return lambda t: _checked(map_location(t, "cpu"))
    for location in (map_location.values() if isinstance(map_location, dict)
                     else [map_location]):
        device(location)  # raises for anything but the CPU
    return _unchanged


def _unchanged(tensor):
    return tensor


def _checked(result):
    if not isinstance(result, Tensor):
        raise TypeError(f"load: map_location returned {type(result).__name__}, not a Tensor")
    return result
