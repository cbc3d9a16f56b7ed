"""default_collate and default_convert against torch's, on the same Python and NumPy
inputs: structure, container types, dtypes and values; then ember's error messages."""

from collections import namedtuple

import numpy as np
import pytest
import torch
from torch.utils.data import default_collate as torch_collate
from torch.utils.data import default_convert as torch_convert

import ember
from ember.data import default_collate, default_convert
from ember.data.collate import collate, default_collate_fn_map
from tests.data.compare import canon

Point = namedtuple("Point", ["x", "y"])


def arr(*shape, dtype=np.float32, start=0):
    return (np.arange(int(np.prod(shape))) + start).reshape(shape).astype(dtype)


# Each case builds the batch for one library (tensors must be that library's).
CASES = {
    "ints": lambda lib: [1, 2, 3],
    "floats": lambda lib: [1.0, 2.5],
    "int_then_float": lambda lib: [1, 2.5],
    "float_then_int": lambda lib: [2.5, 1],
    "bools": lambda lib: [True, False],
    "np_float32": lambda lib: [np.float32(1.5), np.float32(2)],
    "np_int32": lambda lib: [np.int32(1), np.int32(-2)],
    "np_float64": lambda lib: [np.float64(1.5), np.float64(2)],
    "np_bool": lambda lib: [np.bool_(True), np.bool_(False)],
    "np_float16_arrays": lambda lib: [arr(2, dtype=np.float16), arr(2, dtype=np.float16)],
    "np_uint8_images": lambda lib: [arr(2, 3, dtype=np.uint8), arr(2, 3, dtype=np.uint8, start=6)],
    "np_0d": lambda lib: [np.array(1.0), np.array(2.0)],
    "np_int64": lambda lib: [arr(3, dtype=np.int64), arr(3, dtype=np.int64, start=3)],
    "tensors": lambda lib: [lib.tensor(arr(2, 2)), lib.tensor(arr(2, 2, start=4))],
    "int_tensors_0d": lambda lib: [lib.tensor(3), lib.tensor(4)],
    "strings": lambda lib: ["a", "bc"],
    "bytes": lambda lib: [b"x", b"y"],
    "tuples": lambda lib: [(1, "a"), (2, "b")],
    "lists": lambda lib: [[1, 2.0], [3, 4.0]],
    "dicts": lambda lib: [{"x": arr(2), "y": 0}, {"x": arr(2, start=2), "y": 1}],
    "namedtuples": lambda lib: [Point(1, arr(2)), Point(2, arr(2))],
    "nested": lambda lib: [
        {"image": lib.tensor(arr(1, 2)), "meta": ("a", 1.5, [np.int16(3)]), "label": True},
        {"image": lib.tensor(arr(1, 2, start=2)), "meta": ("b", 2.5, [np.int16(4)]),
         "label": False},
    ],
    "extra_keys_ignored": lambda lib: [{"a": 1}, {"a": 2, "b": 3}],
}


@pytest.mark.parametrize("name", CASES)
def test_default_collate_matches_torch(name):
    make = CASES[name]
    assert canon(default_collate(make(ember))) == canon(torch_collate(make(torch)))


CONVERT_CASES = {
    "int": lambda lib: 3,
    "float": lambda lib: 2.5,
    "string": lambda lib: "abc",
    "array": lambda lib: arr(2, 2),
    "np_scalar": lambda lib: np.float64(1.0),
    "np_int_scalar": lambda lib: np.int32(7),
    "string_array": lambda lib: np.array(["a", "b"]),
    "tuple": lambda lib: (1, arr(2)),
    "namedtuple": lambda lib: Point(np.array(0), 1),
    "dict": lambda lib: {"x": arr(3, dtype=np.int64), "y": [arr(1), "s"]},
    "tensor": lambda lib: lib.tensor([1.0, 2.0]),
}


@pytest.mark.parametrize("name", CONVERT_CASES)
def test_default_convert_matches_torch(name):
    make = CONVERT_CASES[name]
    assert canon(default_convert(make(ember))) == canon(torch_convert(make(torch)))


def test_numpy_arrays_become_tensors_without_a_copy_of_their_dtype():
    out = default_collate([arr(2, dtype=np.int32), arr(2, dtype=np.int32)])
    assert out.dtype == ember.int32


def test_collate_keeps_the_autograd_graph_like_torch():
    data = [arr(3, dtype=np.float64), arr(3, dtype=np.float64, start=3)]
    grads = []
    for lib, collate_fn in ((ember, default_collate), (torch, torch_collate)):
        xs = [lib.tensor(a, requires_grad=True) for a in data]
        (collate_fn(xs) * lib.tensor([[1.0], [2.0]], dtype=lib.float64)).sum().backward()
        grads.append([x.grad.tolist() for x in xs])
    assert grads[0] == grads[1]


# ---- errors ----------------------------------------------------------------------------

def both_raise(make, exc_type):
    """Run the case through both libraries; return ember's message after checking that
    torch raises the same type."""
    with pytest.raises(exc_type):
        torch_collate(make(torch))
    with pytest.raises(exc_type) as info:
        default_collate(make(ember))
    return info.value.args[0] if exc_type is KeyError else str(info.value)


def test_unsupported_type_names_type_and_position():
    message = both_raise(lambda lib: [object(), object()], TypeError)
    assert message == ("default_collate: batch must contain tensors, numpy arrays, numbers, "
                       "dicts or lists; found <class 'object'> at batch[0]")
    message = both_raise(lambda lib: [{"a": (1, object())}], TypeError)
    assert message.endswith("found <class 'object'> at batch[0]['a'][1]")


def test_string_arrays_are_unsupported():
    message = both_raise(lambda lib: [np.array(["a"]), np.array(["b"])], TypeError)
    assert message.endswith("; found <U1 at batch[0]")


def test_tensors_of_different_sizes():
    message = both_raise(lambda lib: [lib.zeros(3), lib.zeros(4)], RuntimeError)
    assert message == ("default_collate: stack expects each tensor to be equal size, but got "
                       "(3,) at entry 0 and (4,) at entry 1")
    message = both_raise(lambda lib: [arr(2, 2), arr(2, 2), arr(2, 3)], RuntimeError)
    assert message == ("default_collate: stack expects each tensor to be equal size, but got "
                       "(2, 2) at entry 0 and (2, 3) at entry 2")
    message = both_raise(lambda lib: [{"x": [lib.zeros(3)]}, {"x": [lib.zeros(1)]}],
                         RuntimeError)
    assert message.endswith("but got (3,) at entry 0 and (1,) at entry 1 "
                            "(field ['x'][0] of each sample)")


def test_mixed_types_in_one_field():
    message = both_raise(lambda lib: [lib.zeros(2), 1], TypeError)
    assert message == ("default_collate: batch[0] is Tensor but batch[1] is int; every entry "
                       "needs the same type")
    message = both_raise(lambda lib: [(1, 2), (1, "x")], TypeError)
    assert message == ("default_collate: batch[0][1] is int but batch[1][1] is str; every "
                       "entry needs the same type")


def test_samples_of_different_lengths():
    message = both_raise(lambda lib: [(1, 2), (1,)], RuntimeError)
    assert message == ("each element in list of batch should be of equal size: batch[0] has 2 "
                       "fields but batch[1] has 1")


def test_missing_key():
    message = both_raise(lambda lib: [{"a": 1, "b": 3}, {"a": 2}], KeyError)
    assert message == "default_collate: batch[0]['b'] exists but batch[1] has no key 'b'"


# ---- custom collate maps ---------------------------------------------------------------

class Box:
    def __init__(self, v):
        self.v = v


def test_collate_with_an_extended_map():
    def collate_box(batch, *, collate_fn_map):
        return Box(sum(b.v for b in batch))

    custom = {**default_collate_fn_map, Box: collate_box}
    out = collate([{"b": Box(1), "n": 1}, {"b": Box(2), "n": 2}], collate_fn_map=custom)
    assert out["b"].v == 3 and out["n"].tolist() == [1, 2]


def test_default_map_is_read_only():
    with pytest.raises(TypeError):
        default_collate_fn_map[Box] = None
