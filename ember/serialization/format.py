"""The safetensors file layout: writing it, and reading it back with every length checked
against the file before anything is allocated.

A safetensors file is ``u64 little-endian N`` + ``N bytes of JSON header`` + the tensor
bytes. The header maps each tensor name to ``{"dtype", "shape", "data_offsets": [begin,
end]}`` (offsets into the data that follows the header, which the tensors must cover
exactly, without holes or overlaps) and may hold ``"__metadata__"``, a str -> str dict.

Both directions are written here rather than taken from the ``safetensors`` library
(which the tests use as the independent reference, both ways): the same object always
gives the same bytes (the library writes ``__metadata__`` in hash order, so two saves
differ); reading is one ``readinto`` of the whole data into the buffer the arrays view,
from any binary file object (3-4x faster than ``safe_open(framework="np")`` on a 100 MB
state dict); and each check below becomes an error that says what is wrong.
"""

import io
import json

import numpy as np

__all__ = ["CheckpointError", "read", "write"]

# The safetensors specification caps the header at 100 MB.
MAX_HEADER = 100_000_000

# safetensors dtype codes that ember has; tensors are stored little-endian.
DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"), "U8": np.dtype("u1"), "BOOL": np.dtype("?"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in DTYPES.items()}
# Codes that other tools write and ember has no dtype for, for a precise message.
OTHER_DTYPES = {"BF16", "U16", "U32", "U64", "C64", "F8_E4M3", "F8_E5M2", "F8_E8M0",
                "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F6_E2M3", "F6_E3M2", "F4", "E8M0"}

# The first bytes of files that are often mistaken for checkpoints ember can read.
_MAGIC = [
    (b"PK\x03\x04", ("a zip archive, which is what torch.save writes: it holds pickled "
                     "Python objects")),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"\x89HDF", "an HDF5 file (such as Keras .h5 weights)"),
] + [(b"\x80" + bytes([p]), f"a pickle (protocol {p})") for p in range(2, 6)]

_NEVER_PICKLE = ("ember never unpickles: loading a pickle can run arbitrary code. Load it "
                 "in the program that wrote it and re-save the tensors with "
                 "safetensors.torch.save_file or ember.save")


class CheckpointError(RuntimeError):
    """A file that ``ember.load`` cannot read: not a safetensors file, truncated, or
    inconsistent. Raised before any of the file's content is used."""


def fail(where, what):
    return CheckpointError(f"load: {where}: {what}")


# ---- writing -------------------------------------------------------------------------

def write(stream, arrays, metadata):
    """Write ``arrays`` (name -> C-contiguous ndarray) and ``metadata`` (str -> str) as
    one safetensors file at ``stream``'s position.

    Tensors go in order of decreasing item size, so that each one starts at a multiple
    of its item size (the header is padded to 8 bytes) for readers that map the file.
    """
    order = sorted(arrays, key=lambda name: -arrays[name].itemsize)
    header, at = {"__metadata__": metadata}, 0
    for name in order:
        array = arrays[name]
        header[name] = {"dtype": _CODES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [at, at + array.nbytes]}
        at += array.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("ascii")
    raw += b" " * (-len(raw) % 8)
    if len(raw) > MAX_HEADER:
        raise ValueError(f"save: the structure needs a {len(raw)}-byte header; safetensors "
                         f"allows {MAX_HEADER}")
    stream.write(len(raw).to_bytes(8, "little"))
    stream.write(raw)
    for name in order:
        if arrays[name].nbytes:
            stream.write(arrays[name].reshape(-1).view(np.uint8).data)


# ---- reading -------------------------------------------------------------------------

def read(stream, where):
    """Read one safetensors file from ``stream``'s current position.

    Args:
        stream: a binary file object.
        where: how messages name the file (its path, or the file object).

    Returns:
        ``(metadata, arrays)``: the ``__metadata__`` dict (empty when absent) and an
        insertion-ordered dict name -> ndarray, in the header's order.

    Raises:
        CheckpointError: the bytes are not a complete, consistent safetensors file.
    """
    stream, size = _sized(stream, where)
    start = _read_exact(stream, min(size, 8), where)
    header_len = int.from_bytes(start, "little")
    if size < 8 or header_len > MAX_HEADER or 8 + header_len > size:
        raise _not_safetensors(start, size, where)
    raw = _read_exact(stream, header_len, where)
    if not raw.startswith(b"{"):
        raise _not_safetensors(start, size, where)
    header = _parse_header(raw, where)
    metadata = _metadata(header.pop("__metadata__", None), where)
    entries = [_entry(name, spec, where) for name, spec in header.items()]
    _check_layout(entries, size - 8 - header_len, where)
    arrays = _read_data(stream, entries, size - 8 - header_len, where)
    return metadata, {name: arrays[name] for name in header}


def _sized(stream, where):
    """The stream (made seekable) and how many bytes it holds from its position on."""
    probe = stream.read(0)
    if not isinstance(probe, bytes):
        raise fail(where, "the file is open in text mode; open it in binary mode ('rb')")
    if not (hasattr(stream, "seekable") and stream.seekable()):
        stream = io.BytesIO(stream.read())
    here = stream.tell()
    size = stream.seek(0, io.SEEK_END) - here
    stream.seek(here)
    return stream, size


def _not_safetensors(start, size, where):
    """Say why the first bytes cannot start a safetensors file, naming the common wrong
    kinds of file (asked only after the bytes failed as a header length, since a valid
    length can begin like a pickle: a 640-byte header starts with 0x80 0x02)."""
    for magic, kind in _MAGIC:
        if start.startswith(magic):
            return fail(where, f"this is {kind}, not a safetensors file; {_NEVER_PICKLE}")
    if size == 0:
        return fail(where, "the file is empty")
    if size < 8:
        return fail(where, f"the file holds {size} bytes, fewer than the 8 that declare the "
                    f"length of a safetensors header: it is truncated or is not a "
                    f"safetensors file")
    header_len = int.from_bytes(start, "little")
    if header_len > MAX_HEADER or 8 + header_len > size:
        return fail(where, f"the first 8 bytes declare a {header_len}-byte header but only "
                    f"{size - 8} bytes follow: the file is truncated or is not a "
                    f"safetensors file")
    return fail(where, "the header does not start with '{': the file is not a safetensors "
                "file, or its header is corrupted")


def _parse_header(raw, where):
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise fail(where, f"the header is not valid JSON ({e}): the file is corrupted") \
            from None
    if not isinstance(header, dict):
        raise fail(where, "the header is not a JSON object")
    return header


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise ValueError(f"key {dup!r} appears twice")
    return dict(pairs)


def _metadata(meta, where):
    if meta is None:
        return {}
    if not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise fail(where, "the header's __metadata__ is not a dict of strings")
    return meta


def _entry(name, spec, where):
    """Validate one header entry; returns ``(name, numpy dtype, shape, begin, end)``."""
    def bad(what):
        return fail(where, f"tensor {name!r} in the header {what}")

    if not isinstance(spec, dict) or not {"dtype", "shape", "data_offsets"} <= spec.keys():
        raise bad("lacks dtype, shape or data_offsets")
    code, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if code in OTHER_DTYPES:
        raise bad(f"has dtype {code}, which ember does not have (ember has "
                  + ", ".join(DTYPES) + "); convert it before saving")
    if code not in DTYPES:
        raise bad(f"has an unknown dtype {code!r}")
    if not (isinstance(shape, list) and all(type(s) is int and s >= 0 for s in shape)):
        raise bad(f"has an invalid shape {shape!r}")
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(type(o) is int for o in offsets) and 0 <= offsets[0] <= offsets[1]):
        raise bad(f"has invalid data_offsets {offsets!r}")
    dtype = DTYPES[code]
    needed = dtype.itemsize * _numel(shape)
    if offsets[1] - offsets[0] != needed:
        raise bad(f"({code}, shape {shape}) needs {needed} bytes, but its data_offsets "
                  f"{offsets} span {offsets[1] - offsets[0]}: the header is corrupted")
    return name, dtype, tuple(shape), offsets[0], offsets[1]


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _check_layout(entries, data_size, where):
    """The tensors must tile the data exactly: no gaps, no overlaps, nothing missing."""
    entries.sort(key=lambda e: (e[3], e[4]))
    at = 0
    for name, _, _, begin, end in entries:
        if begin != at:
            kind = "overlaps the one before it" if begin < at else "leaves a gap before it"
            raise fail(where, f"tensor {name!r} at byte {begin} {kind} (expected {at}): "
                       f"the header is corrupted")
        at = end
    if at != data_size:
        raise fail(where, f"the header describes {at} bytes of tensor data but the file "
                   f"holds {data_size}: the file is "
                   + ("truncated" if at > data_size else "longer than its header says"))


def _read_data(stream, entries, data_size, where):
    """Read all tensor bytes into one buffer and view each tensor in it.

    One buffer, one read: about 3x faster than a buffer per tensor, because a large
    allocation gets huge pages where a hundred small ones each fault in page by page.
    The price: a tensor kept alone keeps the whole file's memory alive (``clone()`` it).
    """
    data = np.empty(data_size, np.uint8)
    _read_exact(stream, data, where)
    arrays = {}
    for name, dtype, shape, begin, end in entries:
        raw = data[begin:end]
        if dtype.kind == "b" and raw.size and raw.max() > 1:
            raise fail(where, f"bool tensor {name!r} holds bytes other than 0 and 1")
        array = raw.view(dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)
        # Files from other writers may place a tensor at an offset its items cannot be
        # aligned to; NumPy handles that, but slowly, so such a tensor gets its own copy.
        arrays[name] = array if array.flags.aligned else array.copy()
    return arrays


def _read_exact(stream, n_or_buffer, where):
    """Read exactly ``n`` bytes (or fill ``buffer``); the sizes were checked beforehand,
    so a short read means the file changed while it was being read."""
    if isinstance(n_or_buffer, int):
        data = stream.read(n_or_buffer)
        if len(data) != n_or_buffer:
            raise fail(where, "the file ended early while being read")
        return data
    view, got = memoryview(n_or_buffer), 0
    while got < len(view):
        n = stream.readinto(view[got:])
        if not n:
            raise fail(where, "the file ended early while being read")
        got += n
    return n_or_buffer
