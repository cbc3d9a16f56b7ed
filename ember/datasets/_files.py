"""Finding a dataset's raw files on disk and reading them whole, gzipped or not.

ember never downloads: a missing file is an error that says what is missing, where ember
looked and where the files can be downloaded.
"""

import gzip
import os
import zlib

import numpy as np

from ember._errors import value_error

__all__ = []

_GZIP_MAGIC = b"\x1f\x8b"


def find_files(dataset, names, dirs, how_to_get):
    """The path of each of ``names`` (or of ``name + ".gz"``) in the first of ``dirs``
    holding it.

    Args:
        dataset: the dataset's name, for the error message.
        names: the file names needed.
        dirs: the directories to search, in order.
        how_to_get: a sentence or two on where to download the files.

    Raises:
        FileNotFoundError: naming the missing files, the directories searched and
            ``how_to_get``.
    """
    paths = {name: locate(name, dirs) for name in names}
    missing = [name for name, path in paths.items() if path is None]
    if missing:
        searched = "\n".join(f"    {d}" + ("" if os.path.isdir(d) else "  (does not exist)")
                             for d in dirs)
        raise FileNotFoundError(
            f"{dataset}: file{'s' if len(missing) > 1 else ''} not found: "
            f"{', '.join(missing)} (plain or gzipped with a .gz suffix).\n"
            f"Searched:\n{searched}\n"
            f"ember does not download datasets. {how_to_get}")
    return [paths[name] for name in names]


def locate(name, dirs):
    """The path of ``name`` or ``name + ".gz"`` in the first of ``dirs`` holding it, or
    None."""
    for directory in dirs:
        for candidate in (name, name + ".gz"):
            path = os.path.join(directory, candidate)
            if os.path.isfile(path):
                return path
    return None


def read_bytes(dataset, path):
    """The whole content of ``path`` as a writable uint8 array, decompressed if it is
    gzipped (recognized by its content, whatever its name)."""
    if not _is_gzip(path):
        return np.fromfile(path, dtype=np.uint8)
    try:
        with gzip.open(path, "rb") as f:
            # bytearray: NumPy arrays over bytes objects are read-only.
            return np.frombuffer(bytearray(f.read()), dtype=np.uint8)
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise value_error(dataset, f"{path}: the gzip stream is damaged or cut short ({e}); "
                                   "download the file again") from None


def read_concatenated(dataset, paths):
    """The contents of ``paths`` one after another in one uint8 array, and each one's size.

    Plain files are read straight into their place in the array, so a large dataset split
    over several files is never held twice.
    """
    parts = [read_bytes(dataset, p) if _is_gzip(p) else None for p in paths]
    sizes = [os.path.getsize(p) if part is None else len(part) for p, part in zip(paths, parts)]
    out = np.empty(sum(sizes), dtype=np.uint8)
    start = 0
    for path, part, size in zip(paths, parts, sizes):
        if part is None:
            with open(path, "rb") as f:
                f.readinto(out[start:start + size])
        else:
            out[start:start + size] = part
        start += size
    return out, sizes


def _is_gzip(path):
    with open(path, "rb") as f:
        return f.read(2) == _GZIP_MAGIC
