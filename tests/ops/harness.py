"""The op-specification table's machinery: one spec drives every generic check of an op.

A ``Spec`` names an op and gives a function ``fn(lib, *inputs)`` written once for
both libraries: ``lib`` is ``ember`` or ``torch``, so ``lambda m, x: m.exp(x)`` or
``lambda m, x, w: m.nn.functional.conv2d(x, w)`` runs the same call in each. Each
case lists the inputs:

- a shape tuple, or ``F(shape, low, high, noncontig)``: a random float tensor that
  requires grad (float64 for gradients; ``noncontig`` makes it a transposed view);
- ``I(shape, low, high)``: random int64 (indices), ``B(shape)``: random bools,
  ``Arr(array)``: this exact array as a tensor (no grad);
- anything else (numbers, tuples, None) is passed through as is.

The generic checks (``tests/ops/test_op_table.py``): forward equals PyTorch's in
float64 and float32, gradients equal PyTorch's for a random upstream gradient, and
``gradcheck``/``gradgradcheck`` pass against finite differences.
"""

import dataclasses
from typing import Any, Callable

import numpy as np
import pytest
import torch

import ember


@dataclasses.dataclass
class F:
    shape: tuple
    low: float = -2.0
    high: float = 2.0
    noncontig: bool = False


@dataclasses.dataclass
class I:  # noqa: E742 - short on purpose, it is written in every table row
    shape: tuple
    low: int = 0
    high: int = 3


@dataclasses.dataclass
class B:
    shape: tuple


@dataclasses.dataclass
class Arr:
    array: Any


@dataclasses.dataclass
class Spec:
    """One op's row in the table.

    Attributes:
        name: the op's name (coverage key for the graph and export tables).
        fn: ``fn(lib, *inputs)`` returning a tensor or a tuple of tensors.
        cases: lists of inputs (see the module docstring).
        grad: compare gradients with PyTorch's.
        gradcheck, gradgradcheck: check against finite differences (first, second order).
        float32: also compare the forward in float32.
        atol, rtol: tolerances for float64; float32 uses ``atol32``/``rtol32``.
        outputs: indices of outputs to differentiate (default: all floating outputs).
    """

    name: str
    fn: Callable
    cases: list
    grad: bool = True
    gradcheck: bool = True
    gradgradcheck: bool = True
    float32: bool = True
    atol: float = 1e-7
    rtol: float = 1e-6
    atol32: float = 1e-5
    rtol32: float = 1e-4
    outputs: tuple = None

    def ids(self):
        return [f"{self.name}-{i}" for i in range(len(self.cases))]


def make_arrays(case, seed):
    """The NumPy values of a case's inputs (float64 for floats)."""
    rng = np.random.default_rng(seed)
    out = []
    for item in case:
        if isinstance(item, tuple) and all(isinstance(s, int) for s in item):
            item = F(item)
        if isinstance(item, F):
            shape = item.shape[::-1] if item.noncontig else item.shape
            arr = rng.uniform(item.low, item.high, shape)
            out.append(("float", arr.T if item.noncontig else arr))
        elif isinstance(item, I):
            out.append(("const", rng.integers(item.low, item.high, item.shape)))
        elif isinstance(item, B):
            out.append(("const", rng.random(item.shape) < 0.5))
        elif isinstance(item, Arr):
            out.append(("const", np.asarray(item.array)))
        else:
            out.append(("raw", item))
    return out


def to_lib(lib, arrays, dtype=np.float64, requires_grad=True):
    """Tensors of ``lib`` for the case's arrays; float inputs require grad."""
    made = []
    for kind, value in arrays:
        if kind == "raw":
            made.append(value)
            continue
        arr = value.astype(dtype) if kind == "float" else value
        if not arr.flags.c_contiguous and kind == "float":
            # A transposed view of a contiguous array: a non-contiguous leaf tensor.
            t = lib.from_numpy(np.ascontiguousarray(arr.T)).T.detach()
        else:
            t = lib.from_numpy(np.array(arr, copy=True))
        if kind == "float" and requires_grad:
            t.requires_grad_(True)
        made.append(t)
    return made


def outputs_of(result):
    if isinstance(result, (tuple, list)):
        return list(result)
    return [result]


def as_numpy(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    if isinstance(t, ember.Tensor):
        return t.detach().numpy()
    return np.asarray(t)


def assert_close(mine, ref, atol, rtol, what):
    a, b = as_numpy(mine), as_numpy(ref)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != PyTorch's {b.shape}"
    if b.dtype.kind in "biu":
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        np.testing.assert_allclose(a, b, atol=atol, rtol=rtol, err_msg=what, equal_nan=True)


def float_inputs(tensors, arrays):
    return [t for t, (kind, _) in zip(tensors, arrays) if kind == "float"]


def raises_like_torch(call):
    """``call(lib)`` raises in PyTorch, and in ember an error of the same type; its text."""
    try:
        call(torch)
    except Exception as exc:  # noqa: BLE001 - any error type, compared below
        expected = type(exc)
    else:
        pytest.fail("PyTorch did not raise")
    with pytest.raises(expected) as info:
        call(ember)
    return str(info.value)
