"""Random numbers: ``manual_seed``, ``Generator``, and the default generator.

ember's generators are NumPy PCG64 bit generators; the same seed gives the same
numbers on every machine and with any number of data workers. ``get_state`` returns
a uint8 tensor, so RNG states go into checkpoints like any other tensor.
"""

import numpy as np

from ember.tensor import Tensor

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
           "set_rng_state", "default_generator"]

_STATE_BYTES = 16 + 16 + 1 + 4  # PCG64 state, increment, has_uint32, uinteger


class Generator:
    """A source of random numbers; pass ``generator=g`` to the random factories.

    Example:
        >>> g = Generator().manual_seed(0)
        >>> a = g.numpy.random(2)
    """

    def __init__(self, device="cpu"):
        self._seed = 67280421310721  # PyTorch's default seed
        self._numpy = None

    @property
    def numpy(self):
        """The ``numpy.random.Generator`` that draws the numbers (made on first use, which
        keeps ``numpy.random`` out of ``import ember``)."""
        if self._numpy is None:
            self._numpy = np.random.Generator(np.random.PCG64(self._seed))
        return self._numpy

    def manual_seed(self, seed):
        """Reseed; returns self."""
        self._seed = int(seed) & ((1 << 64) - 1)
        self._numpy = None
        return self

    def seed(self):
        """Reseed from the operating system's entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy) & ((1 << 63) - 1))
        return self._seed

    def initial_seed(self):
        return self._seed

    def get_state(self):
        """The full state as a uint8 tensor of 37 bytes."""
        st = self.numpy.bit_generator.state
        raw = (st["state"]["state"].to_bytes(16, "little")
               + st["state"]["inc"].to_bytes(16, "little")
               + bytes([st["has_uint32"]]) + int(st["uinteger"]).to_bytes(4, "little"))
        return Tensor._make(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, state):
        """Restore a state from ``get_state``."""
        raw = bytes(np.asarray(state._data if isinstance(state, Tensor) else state, np.uint8))
        if len(raw) != _STATE_BYTES:
            raise ValueError(f"Generator.set_state: expected {_STATE_BYTES} bytes, got {len(raw)}")
        bit_gen = np.random.PCG64()
        bit_gen.state = {
            "bit_generator": "PCG64",
            "state": {"state": int.from_bytes(raw[:16], "little"),
                      "inc": int.from_bytes(raw[16:32], "little")},
            "has_uint32": raw[32], "uinteger": int.from_bytes(raw[33:37], "little"),
        }
        self._numpy = np.random.Generator(bit_gen)
        return self


default_generator = Generator()


def manual_seed(seed):
    """Seed the default generator; returns it."""
    return default_generator.manual_seed(seed)


def seed():
    return default_generator.seed()


def initial_seed():
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state):
    default_generator.set_state(state)


def numpy_generator(generator=None):
    """The NumPy generator behind ``generator`` (the default one when None)."""
    return (generator or default_generator).numpy
