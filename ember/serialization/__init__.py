"""Checkpoints: ``save`` and ``load`` on safetensors files with a JSON manifest; never pickle.

The file format (one file, a valid ``.safetensors`` file that other tools can open)::

    8 bytes     N, little-endian u64
    N bytes     JSON header: {"__metadata__": {"format": "pt", "ember": MANIFEST},
                              "<name>": {"dtype": "F32", "shape": [2, 3],
                                         "data_offsets": [begin, end]}, ...}
    the rest    each tensor's bytes, C order, little-endian, without gaps (largest item
                size first, the header padded with spaces to 8 bytes, so all are aligned)

MANIFEST is a JSON string ``{"version": 1, "tree": NODE}`` that describes the saved
object: plain JSON values for str/int/float/bool/None, JSON arrays for lists, and
one-key objects for the rest: ``{"tensor": name}``, ``{"tuple": [...]}``,
``{"dict": [[key, value], ...]}`` (keys are nodes, so int and tuple keys and the order
survive), ``{"odict": ...}``, ``{"ndarray": name}``, ``{"float": "nan"}``,
``{"dtype": "float32"}``, ``{"size": [2, 3]}``, ``{"device": "cpu"}``; see
:mod:`ember.serialization.tree`. Tensor names are key paths joined by "/", so a flat
state dict's tensors keep their own names ("fc.weight") for other tools. A safetensors
file without an "ember" manifest loads as a flat dict name -> tensor. "format": "pt"
tells tools that check it (transformers) that the tensors are laid out as PyTorch's.

Saving to a path writes a temporary file beside it and renames it into place (see
:mod:`ember.serialization.atomic`); loading checks every length before it reads, and
never unpickles.

    >>> import io, ember
    >>> buffer = io.BytesIO()
    >>> save({"weight": ember.zeros(2, 2), "step": 10}, buffer)
    >>> _ = buffer.seek(0)
    >>> load(buffer)["step"]
    10
"""

from ember.serialization.checkpoint import load, save
from ember.serialization.format import CheckpointError

__all__ = ["CheckpointError", "load", "save"]
