"""Variable-length batches for recurrent layers (PyTorch's ``torch.nn.utils.rnn``).

A *packed* batch stores the sequences time step by time step, longest first: for
sequences ``abc`` and ``x`` the data is ``a x b c`` and ``batch_sizes`` is ``[2, 1, 1]``,
the number of sequences still running at each step. A recurrent layer then processes
step ``t`` on the first ``batch_sizes[t]`` rows only, so padding is never computed.

Every conversion here is one gather (``index_select``) with an index array built in
NumPy, so gradients flow back through packing and padding alike.

Example:
    >>> import ember
    >>> from ember.nn.utils.rnn import pack_sequence
    >>> packed = pack_sequence([ember.tensor([1, 2, 3]), ember.tensor([4, 5])])
    >>> packed.data.tolist(), packed.batch_sizes.tolist()
    ([1, 4, 2, 5, 3], [2, 2, 1])
"""

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from ember import _dtype
from ember._errors import fmt_shape, runtime_error, shape_error, value_error
from ember.creation import full, tensor
from ember.ops.join import cat
from ember.tensor import Tensor

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]


class _PackedFields(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedFields):
    """The data and the ``batch_sizes`` of a packed batch of sequences.

    Made by ``pack_padded_sequence`` or ``pack_sequence``, not by hand. Unpacks like a
    tuple: ``data, batch_sizes, sorted_indices, unsorted_indices = packed``.

    Attributes:
        data: ``(sum of lengths, *)``, the steps of all sequences, time-major.
        batch_sizes: int64 ``(max length,)``, sequences still running at each step.
        sorted_indices: int64 ``(batch,)``, original position of each sorted sequence,
            or None when the batch was given sorted.
        unsorted_indices: the inverse permutation of ``sorted_indices`` (or None).
    """

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes), sorted_indices)
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise value_error("PackedSequence", "expected data to be a list or tuple of "
                                                    "length 2 when batch_sizes is not given")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """``data.to(...)``; returns ``self`` when nothing changes (indices stay int64)."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self, *args, **kwargs):
        return self.to("cpu", *args, **kwargs)

    def double(self):
        return self.to(dtype=_dtype.float64)

    def float(self):
        return self.to(dtype=_dtype.float32)

    def half(self):
        return self.to(dtype=_dtype.float16)

    def long(self):
        return self.to(dtype=_dtype.int64)

    def int(self):
        return self.to(dtype=_dtype.int32)

    def short(self):
        return self.to(dtype=_dtype.int16)

    def char(self):
        return self.to(dtype=_dtype.int8)

    def byte(self):
        return self.to(dtype=_dtype.uint8)

    @property
    def is_cuda(self):
        return False

    def is_pinned(self):
        return False


def invert_permutation(permutation):
    """The inverse of a permutation (a 1-D int64 tensor), or None for None."""
    if permutation is None:
        return None
    perm = np.asarray(permutation._data)
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.size, dtype=perm.dtype)
    return tensor(inverse)


# ---- padded <-> packed ---------------------------------------------------------------

def _lengths_array(lengths):
    if isinstance(lengths, Tensor):
        return np.asarray(lengths._data).astype(np.int64).reshape(-1)
    return np.asarray(lengths, dtype=np.int64).reshape(-1)


def _batch_sizes(lengths):
    """``batch_sizes[t]`` = how many of the (decreasing) ``lengths`` exceed ``t``."""
    steps = np.arange(int(lengths[0]) if lengths.size else 0)
    return (lengths[None, :] > steps[:, None]).sum(1).astype(np.int64)


def _flat_rows(input, batch_first):
    """``input`` as ``(T * B, *)``, and a function mapping (t, b) to the flat row."""
    if batch_first:
        batch, steps = input.shape[:2]
        return input.reshape(batch * steps, *input.shape[2:]), lambda t, b: b * steps + t
    steps, batch = input.shape[:2]
    return input.reshape(steps * batch, *input.shape[2:]), lambda t, b: t * batch + b


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch of sequences of different lengths.

    Args:
        input: ``(T, B, *)`` padded sequences, or ``(B, T, *)`` if ``batch_first``.
        lengths: the ``B`` lengths (list or tensor), each in ``1..T``.
        batch_first: the layout of ``input``.
        enforce_sorted: require ``lengths`` in decreasing order; with False the batch is
            sorted here and ``sorted_indices`` records how.

    Returns:
        PackedSequence.
    """
    lens = _lengths_array(lengths)
    if input.ndim < 2:
        raise shape_error("pack_padded_sequence", f"input must have at least 2 dimensions "
                                                  f"(T, B, *), got shape {fmt_shape(input.shape)}")
    batch = input.shape[0 if batch_first else 1]
    steps = input.shape[1 if batch_first else 0]
    _check_lengths(lens, batch, steps, enforce_sorted)
    sorted_indices = None
    order = np.arange(batch)
    if not enforce_sorted:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = tensor(order.astype(np.int64))
    batch_sizes = _batch_sizes(lens)
    flat, row = _flat_rows(input, batch_first)
    t_idx, b_idx = np.nonzero(lens[None, :] > np.arange(batch_sizes.size)[:, None])
    data = flat.index_select(0, tensor(row(t_idx, order[b_idx]).astype(np.int64)))
    return PackedSequence(data, tensor(batch_sizes), sorted_indices, None)


def _check_lengths(lens, batch, steps, enforce_sorted):
    op = "pack_padded_sequence"
    if lens.size != batch:
        raise runtime_error(op, f"Expected `len(lengths)` to be equal to batch_size, but got "
                                f"{lens.size} (batch_size={batch})")
    if (lens <= 0).any():
        raise runtime_error(op, "Length of all samples has to be greater than 0, but found an "
                                f"element in 'lengths' that is <= 0 (lengths {lens.tolist()})")
    if enforce_sorted and (np.diff(lens) > 0).any():
        raise runtime_error(op, "`lengths` array must be sorted in decreasing order when "
                                "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                                "to pack_padded_sequence and/or pack_sequence to sidestep this "
                                "requirement if you do not need ONNX exportability. "
                                f"(lengths {lens.tolist()})")
    if lens.max() > steps:
        raise runtime_error(op, f"a length of {int(lens.max())} exceeds the {steps} time steps "
                                "of the padded input")


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Unpack a PackedSequence into a padded batch (the inverse of pack_padded_sequence).

    Args:
        sequence: the PackedSequence.
        batch_first: return ``(B, T, *)`` instead of ``(T, B, *)``.
        padding_value: the value of the padded positions.
        total_length: pad to this many steps (at least the longest length).

    Returns:
        ``(padded, lengths)``: the batch in its original order, and the int64 lengths.
    """
    data, batch_sizes, _, unsorted = sequence
    sizes = np.asarray(batch_sizes._data, dtype=np.int64)
    steps = sizes.size
    if total_length is not None:
        if total_length < steps:
            raise value_error("pad_packed_sequence", "Expected total_length to be at least the "
                                                     "length of the longest sequence in input, "
                                                     f"but got total_length={total_length} and "
                                                     f"max sequence length being {steps}")
        steps = total_length
    batch = int(sizes[0])
    lens = (sizes[None, :] > np.arange(batch)[:, None]).sum(1)  # sorted lengths
    order = np.arange(batch) if unsorted is None else np.asarray(unsorted._data)
    lens = lens[order]
    # Row of the packed data for (t, b), with one extra row of padding at the end.
    starts = np.concatenate([[0], np.cumsum(sizes)])
    t = np.arange(steps)[:, None]
    b = order[None, :]
    inside = t < lens[None, :]
    rows = np.where(inside, starts[np.minimum(t, sizes.size)] + b, data.shape[0])
    if batch_first:
        rows = rows.T
    return _gather_padded(data, rows, padding_value), tensor(lens.astype(np.int64))


def _gather_padded(data, rows, padding_value):
    """``data`` extended by one row of ``padding_value``, gathered at ``rows`` (any shape)."""
    pad = full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype)
    source = cat([data, pad], 0)
    picked = source.index_select(0, tensor(rows.reshape(-1).astype(np.int64)))
    return picked.reshape(*rows.shape, *data.shape[1:])


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of different lengths ``(L_i, *)`` into one padded tensor.

    Args:
        sequences: a list of tensors ``(L_i, *)`` with the same trailing dims.
        batch_first: return ``(B, T, *)`` instead of ``(T, B, *)``, ``T = max L_i``.
        padding_value: the value of the padded positions.
        padding_side: ``"right"`` pads after each sequence, ``"left"`` before it.

    Returns:
        The padded tensor, in the dtype of the first sequence.
    """
    op = "pad_sequence"
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    if not isinstance(sequences, Iterable):
        raise runtime_error(op, "Expected iterable for input sequences, but got arg of type: "
                                f"{type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise runtime_error(op, "received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise runtime_error(op, f"Expected padding_side to be one of left or right, but got "
                                f"{padding_side}.")
    _check_trailing(sequences)
    dtype = sequences[0].dtype
    lens = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    steps = int(lens.max())
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    t = np.arange(steps)[:, None]
    pos = t - (steps - lens[None, :]) if padding_side == "left" else t
    inside = (pos >= 0) & (pos < lens[None, :])
    rows = np.where(inside, starts[None, :] + pos, lens.sum())
    if batch_first:
        rows = rows.T
    data = cat([s if s.dtype == dtype else s.to(dtype) for s in sequences], 0)
    return _gather_padded(data, rows, padding_value)


def _check_trailing(sequences):
    first = tuple(sequences[0].shape)
    for i, s in enumerate(sequences):
        if s.ndim == 0:
            raise shape_error("pad_sequence", f"sequence {i} is 0-dimensional; each sequence "
                                              "needs a time dimension (L, *)")
        if tuple(s.shape[1:]) != first[1:]:
            raise shape_error("pad_sequence", f"sequence {i} has shape {fmt_shape(s.shape)} "
                                              f"but sequence 0 has shape {fmt_shape(first)}; "
                                              "all dimensions after the first must match")


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """Split a padded batch back into its sequences (the inverse of pad_sequence).

    Unlike PyTorch, ``padded_sequences`` is left as it is (PyTorch transposes it in
    place when ``batch_first`` is False).

    Args:
        padded_sequences: ``(T, B, *)``, or ``(B, T, *)`` if ``batch_first``.
        lengths: the ``B`` lengths (tensor or list).

    Returns:
        A list of ``B`` tensors ``(L_i, *)``.
    """
    lens = _lengths_array(lengths).tolist()
    batch_dim = 0 if batch_first else 1
    if len(lens) != padded_sequences.shape[batch_dim]:
        raise shape_error("unpad_sequence", f"got {len(lens)} lengths for a batch of "
                                            f"{padded_sequences.shape[batch_dim]} sequences "
                                            f"(shape {fmt_shape(padded_sequences.shape)})")
    pieces = padded_sequences.unbind(batch_dim)
    return [seq[:length] for seq, length in zip(pieces, lens)]


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of sequences ``(L_i, *)``: ``pad_sequence`` then ``pack_padded_sequence``.

    Args:
        sequences: tensors ``(L_i, *)``, by decreasing length if ``enforce_sorted``.
        enforce_sorted: require decreasing lengths (else they are sorted here).

    Returns:
        PackedSequence.
    """
    lengths = [s.shape[0] if s.ndim else 0 for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences ``(L_i, *)`` of a PackedSequence, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
