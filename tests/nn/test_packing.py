"""ember.nn.utils.rnn against torch.nn.utils.rnn: PackedSequence, pad_sequence,
pack_padded_sequence, pack_sequence, pad_packed_sequence, unpad_sequence and
unpack_sequence; values, gradients through packing and padding, and errors."""

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as t_rnn

import ember
import ember.nn.utils.rnn as e_rnn

torch.set_num_threads(1)


def both(array, requires_grad=False):
    return (ember.tensor(array.copy(), requires_grad=requires_grad),
            torch.tensor(array.copy(), requires_grad=requires_grad))


def assert_equal(e_value, t_value, what=""):
    t_np = t_value.detach().numpy()
    e_np = e_value.detach().numpy()
    assert e_np.shape == t_np.shape, f"{what}: shape {e_np.shape} != {t_np.shape}"
    assert e_np.dtype == t_np.dtype, f"{what}: dtype {e_np.dtype} != {t_np.dtype}"
    np.testing.assert_array_equal(e_np, t_np, err_msg=what)


def assert_same_packed(e_packed, t_packed):
    assert isinstance(e_packed, e_rnn.PackedSequence)
    assert_equal(e_packed.data, t_packed.data, "data")
    assert_equal(e_packed.batch_sizes, t_packed.batch_sizes, "batch_sizes")
    for field in ("sorted_indices", "unsorted_indices"):
        e_idx, t_idx = getattr(e_packed, field), getattr(t_packed, field)
        assert (e_idx is None) == (t_idx is None), field
        if e_idx is not None:
            assert_equal(e_idx, t_idx, field)


# ---- pad_sequence -----------------------------------------------------------------------

@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("trailing", [(), (2,), (2, 3)])
def test_pad_sequence_matches_torch(trailing, batch_first, padding_side):
    rng = np.random.default_rng(len(trailing))
    arrays = [rng.standard_normal((n,) + trailing) for n in (2, 4, 1, 4)]
    e_seqs, t_seqs = zip(*(both(a, requires_grad=True) for a in arrays))
    e_out = e_rnn.pad_sequence(list(e_seqs), batch_first, -1.5, padding_side)
    t_out = t_rnn.pad_sequence(list(t_seqs), batch_first, -1.5, padding_side)
    assert_equal(e_out, t_out)
    upstream = rng.standard_normal(tuple(t_out.shape))
    e_out.backward(ember.tensor(upstream))
    t_out.backward(torch.tensor(upstream))
    for e, t in zip(e_seqs, t_seqs):
        assert_equal(e.grad, t.grad, "gradient")


def test_pad_sequence_keeps_integer_dtype_and_accepts_a_tensor():
    e_seqs = [ember.tensor([1, 2]), ember.tensor([3, 4, 5])]
    t_seqs = [torch.tensor([1, 2]), torch.tensor([3, 4, 5])]
    assert_equal(e_rnn.pad_sequence(e_seqs, padding_value=-1.5),
                 t_rnn.pad_sequence(t_seqs, padding_value=-1.5))
    stacked = np.arange(6.0).reshape(2, 3)
    assert_equal(e_rnn.pad_sequence(ember.tensor(stacked)),
                 t_rnn.pad_sequence(torch.tensor(stacked)))


def test_pad_sequence_errors():
    with pytest.raises(RuntimeError, match="empty list"):
        e_rnn.pad_sequence([])
    with pytest.raises(RuntimeError, match="padding_side"):
        e_rnn.pad_sequence([ember.ones(2)], padding_side="up")
    with pytest.raises(RuntimeError, match=r"sequence 1 has shape \(3, 2\)"):
        e_rnn.pad_sequence([ember.ones(2, 3), ember.ones(3, 2)])
    for call in (lambda m: m.pad_sequence([]),
                 lambda m, lib=torch: m.pad_sequence([lib.ones(2, 3), lib.ones(3, 2)])):
        with pytest.raises(RuntimeError):
            call(t_rnn)


# ---- pack_padded_sequence and pad_packed_sequence ----------------------------------------

PACK_CASES = [([5, 3, 3, 1], True), ([5, 5, 5, 5], True), ([1], True), ([2, 5, 1, 4], False),
              ([3, 1, 3, 2], False), ([4, 4, 1], False)]


@pytest.mark.parametrize("lengths_as", ["list", "tensor"])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths, enforce_sorted", PACK_CASES)
def test_pack_padded_then_pad_packed_match_torch(lengths, enforce_sorted, batch_first,
                                                 lengths_as):
    rng = np.random.default_rng(sum(lengths))
    steps, batch = max(lengths) + 1, len(lengths)  # one step longer than needed
    shape = (batch, steps, 2) if batch_first else (steps, batch, 2)
    e_x, t_x = both(rng.standard_normal(shape), requires_grad=True)
    e_lens = ember.tensor(lengths) if lengths_as == "tensor" else lengths
    t_lens = torch.tensor(lengths) if lengths_as == "tensor" else lengths
    e_packed = e_rnn.pack_padded_sequence(e_x, e_lens, batch_first, enforce_sorted)
    t_packed = t_rnn.pack_padded_sequence(t_x, t_lens, batch_first, enforce_sorted)
    assert_same_packed(e_packed, t_packed)
    for out_first in (False, True):
        for total in (None, steps + 2):
            e_pad, e_len = e_rnn.pad_packed_sequence(e_packed, out_first, 7.0, total)
            t_pad, t_len = t_rnn.pad_packed_sequence(t_packed, out_first, 7.0, total)
            assert_equal(e_pad, t_pad, "padded")
            assert_equal(e_len, t_len, "lengths")
    # Gradients flow back through packing and padding.
    upstream = rng.standard_normal(tuple(t_pad.shape))
    e_pad.backward(ember.tensor(upstream))
    t_pad.backward(torch.tensor(upstream))
    assert_equal(e_x.grad, t_x.grad, "gradient of the padded input")


def test_packed_sequence_is_a_tuple_with_torch_fields():
    packed = e_rnn.pack_sequence([ember.tensor([1, 2, 3]), ember.tensor([4, 5]),
                                  ember.tensor([6])])
    data, batch_sizes, sorted_indices, unsorted_indices = packed
    assert data.tolist() == [1, 4, 6, 2, 5, 3] and batch_sizes.tolist() == [3, 2, 1]
    assert sorted_indices is None and unsorted_indices is None
    assert e_rnn.PackedSequence._fields == t_rnn.PackedSequence._fields
    assert repr(packed).startswith("PackedSequence(data=tensor([1, 4, 6, 2, 5, 3]), "
                                   "batch_sizes=tensor([3, 2, 1]), sorted_indices=None")
    assert batch_sizes.dtype == ember.int64


def test_packed_sequence_to_and_constructor():
    packed = e_rnn.pack_sequence([ember.ones(3, 2), ember.ones(1, 2)])
    assert packed.to(ember.float32) is packed and packed.to("cpu") is packed
    double = packed.to(ember.float64)
    assert double.data.dtype == ember.float64 and double is not packed
    assert double.batch_sizes is packed.batch_sizes
    assert packed.double().data.dtype == ember.float64
    assert packed.long().data.dtype == ember.int64 and not packed.is_cuda
    rebuilt = e_rnn.PackedSequence(packed.data, packed.batch_sizes, ember.tensor([1, 0]))
    assert rebuilt.unsorted_indices.tolist() == [1, 0]
    from_pair = e_rnn.PackedSequence((packed.data, packed.batch_sizes))
    assert from_pair.batch_sizes is packed.batch_sizes and from_pair.sorted_indices is None


def test_invert_permutation():
    perm = [2, 0, 3, 1]
    assert e_rnn.invert_permutation(ember.tensor(perm)).tolist() == \
        t_rnn.invert_permutation(torch.tensor(perm)).tolist()
    assert e_rnn.invert_permutation(None) is None


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_and_unpack_sequence_round_trip(enforce_sorted):
    rng = np.random.default_rng(1)
    lengths = [4, 3, 3, 1] if enforce_sorted else [1, 4, 3, 4]
    arrays = [rng.standard_normal((n, 2)) for n in lengths]
    e_packed = e_rnn.pack_sequence([ember.tensor(a) for a in arrays], enforce_sorted)
    t_packed = t_rnn.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted)
    assert_same_packed(e_packed, t_packed)
    for e, t, a in zip(e_rnn.unpack_sequence(e_packed), t_rnn.unpack_sequence(t_packed),
                       arrays):
        assert_equal(e, t)
        np.testing.assert_array_equal(e.numpy(), a)


@pytest.mark.parametrize("batch_first", [False, True])
def test_unpad_sequence_matches_torch(batch_first):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((n, 4)) for n in (3, 1)]
    e_pad = e_rnn.pad_sequence([ember.tensor(a) for a in arrays], batch_first)
    t_pad = t_rnn.pad_sequence([torch.tensor(a) for a in arrays], batch_first)
    lengths = [3, 1]
    e_out = e_rnn.unpad_sequence(e_pad, ember.tensor(lengths), batch_first)
    t_out = t_rnn.unpad_sequence(t_pad, torch.tensor(lengths), batch_first)
    for e, t in zip(e_out, t_out):
        assert_equal(e, t)
    # torch transposes its input in place when batch_first is False; ember leaves it.
    assert tuple(e_pad.shape) == ((2, 3, 4) if batch_first else (3, 2, 4))


def test_pack_padded_sequence_errors_match_torch():
    x_e, x_t = both(np.zeros((5, 3, 2)))
    for lengths, enforce_sorted, match in (
        ([3, 5, 2], True, "must be sorted in decreasing order when `enforce_sorted` is True"),
        ([5, 3, 0], True, "Length of all samples has to be greater than 0"),
        ([5, 0, 3], False, "Length of all samples has to be greater than 0"),
        ([5, 3], True, r"Expected `len\(lengths\)` to be equal to batch_size, but got 2"),
    ):
        with pytest.raises(RuntimeError, match=match):
            t_rnn.pack_padded_sequence(x_t, lengths, enforce_sorted=enforce_sorted)
        with pytest.raises(RuntimeError, match=match):
            e_rnn.pack_padded_sequence(x_e, lengths, enforce_sorted=enforce_sorted)
    # torch reads past the input here; ember refuses.
    with pytest.raises(RuntimeError, match="exceeds the 5 time steps"):
        e_rnn.pack_padded_sequence(x_e, [6, 3, 2])


def test_pad_packed_sequence_total_length_too_short():
    e_packed = e_rnn.pack_sequence([ember.ones(4), ember.ones(2)])
    t_packed = t_rnn.pack_sequence([torch.ones(4), torch.ones(2)])
    match = "Expected total_length to be at least the length of the longest sequence"
    with pytest.raises(ValueError, match=match):
        t_rnn.pad_packed_sequence(t_packed, total_length=3)
    with pytest.raises(ValueError, match=match):
        e_rnn.pad_packed_sequence(e_packed, total_length=3)


def test_packed_sequence_through_an_rnn_is_exported_where_torch_has_it():
    assert ember.nn.utils.rnn.PackedSequence is e_rnn.PackedSequence
    for name in e_rnn.__all__:
        assert hasattr(t_rnn, name), name
