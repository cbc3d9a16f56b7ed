"""A minimal PNG encoder (8-bit gray, RGB or RGBA; no filtering), on zlib and struct.

TensorBoard's image summaries and the projector's sprite are PNG files; this writes them
without an imaging library. Layout: the 8-byte signature, then chunks ``IHDR`` (size, bit
depth 8, colour type), ``IDAT`` (the zlib stream of every row prefixed by filter byte 0) and
``IEND``; each chunk is ``length | type | data | crc32(type + data)``.
"""

import struct
import zlib

import numpy as np

__all__ = ["encode_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> gray, gray+alpha, RGB, RGBA


def _chunk(kind, data):
    return b"".join((struct.pack(">I", len(data)), kind, data,
                     struct.pack(">I", zlib.crc32(kind + data))))


def encode_png(image, level=6):
    """The PNG file of ``image``, an array of uint8 shaped ``(H, W)`` or ``(H, W, C)``.

    Args:
        image: pixel values, ``C`` in 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
        level: zlib compression level, 0 to 9.

    Returns:
        bytes: the whole PNG file.

    Example:
        >>> encode_png(np.zeros((2, 3), np.uint8))[:8]
        b'\\x89PNG\\r\\n\\x1a\\n'
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in _COLOR_TYPE or image.dtype != np.uint8:
        raise ValueError("encode_png: expected uint8 pixels shaped (H, W) or (H, W, C) with C in "
                         f"1..4, got {image.dtype} {tuple(image.shape)}")
    height, width, channels = image.shape
    rows = np.zeros((height, 1 + width * channels), np.uint8)  # column 0: filter type 0
    rows[:, 1:] = image.reshape(height, width * channels)
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPE[channels], 0, 0, 0)
    return b"".join((_SIGNATURE, _chunk(b"IHDR", header),
                     _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)),
                     _chunk(b"IEND", b"")))
