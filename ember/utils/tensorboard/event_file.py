"""TensorBoard event files: TFRecord framing, CRC32C, and a buffered writer.

An event file is a sequence of records, each framed as TensorFlow's TFRecord::

    uint64 length (little-endian) | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)

where ``data`` is one serialized ``Event`` proto and ``masked_crc32c(x)`` is
``((crc >> 15) | (crc << 17)) + 0xa282ead8`` (mod 2**32) of the CRC-32C (Castagnoli) of ``x``.
The first event of a file carries ``file_version = "brain.Event:2"``.

CRC32C is computed here rather than with ``tensorboard``'s pure-Python loop (about 0.5 s per
MB): records above a few KB are split into lanes whose CRCs NumPy computes side by side, then
folded together with the "append L zero bytes" operator (CRC is linear over GF(2)).
"""

import itertools
import os
import socket
import struct
import threading
import time

import numpy as np

__all__ = ["EventFileWriter", "crc32c", "masked_crc32c"]

_POLY = 0x82F63B78  # CRC-32C, reflected
_SMALL = 4096  # below this many bytes the plain table loop is faster than the lanes


def _byte_table():
    t = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        t = np.where(t & 1, (t >> 1) ^ np.uint32(_POLY), t >> 1)
    return t


_TABLE = _byte_table()
_TABLE_LIST = _TABLE.tolist()
_ZERO_SHIFTS = {}  # lane length (a power of two) -> (4, 256) tables of its shift operator


def _apply(tables, state):
    """The linear map given by byte tables ``tables`` applied to ``state`` (uint32 array)."""
    return (tables[0][state & 0xFF] ^ tables[1][(state >> 8) & 0xFF]
            ^ tables[2][(state >> 16) & 0xFF] ^ tables[3][state >> 24])


def _zero_shift(length):
    """Byte tables of the map ``state -> crc state after feeding `length` zero bytes``."""
    tables = _ZERO_SHIFTS.get(length)
    if tables is None:
        if length == 1:
            basis = np.arange(256, dtype=np.uint32) << (8 * np.arange(4, dtype=np.uint32))[:, None]
            tables = _TABLE[basis & 0xFF] ^ (basis >> 8)
        else:
            half = _zero_shift(length // 2)
            tables = _apply(half, half)  # shifting by L/2 twice
        _ZERO_SHIFTS[length] = tables
    return tables


def _crc_loop(crc, data):
    table = _TABLE_LIST
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc


def _crc_lanes(crc, data):
    n = len(data)
    lane = 1 << max(5, (n.bit_length() - 1) // 2)  # about sqrt(n) bytes per lane
    k = n // lane
    cols = np.frombuffer(data, np.uint8, count=k * lane).reshape(k, lane).T.copy()
    lanes = np.zeros(k, np.uint32)
    for col in cols:
        lanes = _TABLE[(lanes ^ col) & 0xFF] ^ (lanes >> 8)
    shift = _zero_shift(lane).tolist()
    t0, t1, t2, t3 = shift
    for c in lanes.tolist():
        crc = t0[crc & 0xFF] ^ t1[(crc >> 8) & 0xFF] ^ t2[(crc >> 16) & 0xFF] ^ t3[crc >> 24] ^ c
    return _crc_loop(crc, memoryview(data)[k * lane:])


def crc32c(data):
    """CRC-32C (Castagnoli polynomial) of ``data`` (bytes-like), as an int.

    Example:
        >>> hex(crc32c(b"123456789"))
        '0xe3069283'
    """
    data = bytes(data)
    run = _crc_loop if len(data) < _SMALL else _crc_lanes
    return run(0xFFFFFFFF, data) ^ 0xFFFFFFFF


def masked_crc32c(data):
    """The masked CRC32C that TFRecord stores: rotate right by 15 and add 0xa282ead8."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def encode_record(data):
    """One TFRecord: length, its masked CRC, the data, and the data's masked CRC."""
    header = struct.pack("<Q", len(data))
    return b"".join((header, struct.pack("<I", masked_crc32c(header)), data,
                     struct.pack("<I", masked_crc32c(data))))


_file_numbers = itertools.count(1)


class EventFileWriter:
    """Writes serialized ``Event`` protos to a new event file in ``log_dir``.

    The file is named ``events.out.tfevents.<time>.<hostname>.<pid>.<n><suffix>``, ``n``
    counting the files this process opened, so two writers never share a file. Records wait
    in memory until ``max_queue`` of them are pending, ``flush_secs`` have passed (a daemon
    thread checks), or ``flush``/``close`` is called.

    Args:
        log_dir: the directory (created if missing).
        max_queue: pending records that force a write.
        flush_secs: the longest a record waits in memory, in seconds.
        filename_suffix: appended to the file name.
        file_version_event: the serialized first event (``file_version = "brain.Event:2"``).
    """

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix="",
                 file_version_event=b""):
        self.log_dir = str(log_dir)
        os.makedirs(self.log_dir, exist_ok=True)
        name = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
                f"{os.getpid()}.{next(_file_numbers)}{filename_suffix}")
        self.path = os.path.join(self.log_dir, name)
        self._file = open(self.path, "wb")  # noqa: SIM115 -- kept open until close()
        self._pending = []
        self._max_queue = max(1, int(max_queue))
        self._flush_secs = flush_secs
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.add_event(file_version_event)
        self.flush()

    def get_logdir(self):
        return self.log_dir

    @property
    def closed(self):
        return self._file is None

    def add_event(self, event_bytes):
        """Queue one serialized ``Event``; writes the queue when it is full."""
        with self._lock:
            if self._file is None:
                raise ValueError(f"the event file {self.path} is closed")
            self._pending.append(encode_record(event_bytes))
            full = len(self._pending) >= self._max_queue
            start = self._thread is None and self._flush_secs is not None
            if start:
                self._thread = threading.Thread(target=self._flush_every, daemon=True,
                                                name="ember-tensorboard-flush")
        if start:
            self._thread.start()
        if full:
            self.flush()

    def flush(self):
        """Write the pending records and hand them to the operating system."""
        with self._lock:
            if self._file is None:
                return
            if self._pending:
                self._file.write(b"".join(self._pending))
                self._pending.clear()
            self._file.flush()

    def close(self):
        """Flush and close the file; later ``add_event`` calls raise. Closing twice is fine."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self.flush()
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _flush_every(self):
        while not self._stop.wait(self._flush_secs):
            self.flush()
