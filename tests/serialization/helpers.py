"""What the serialization tests compare: a tensor's dtype, shape and exact bytes."""

import json

import numpy as np


def bits(x):
    """``(dtype name, shape, bytes)`` of an ember or torch tensor or a NumPy array, so that
    two values compare equal only when they are bit-for-bit the same (NaN payloads too)."""
    if hasattr(x, "detach") and hasattr(x, "numpy") and not hasattr(x, "_data"):
        x = x.detach().numpy()  # torch
    array = np.asarray(x._data if hasattr(x, "_data") else x)
    return array.dtype.name, array.shape, np.ascontiguousarray(array).tobytes()


def assert_same_bits(a, b):
    assert bits(a) == bits(b)


def safetensors_bytes(header, data=b"", pad=True):
    """A file laid out by hand: 8-byte length, header (a dict, or raw bytes), data."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw + data
