"""``relu_`` and ``add_`` written straight into their input (NOTE [in-place without a
snapshot] in ``ember/ops/_inplace.py``): values, gradients and version-counter errors
against PyTorch, compiled kernels on and off."""

import numpy as np
import pytest
import torch

import ember
from ember.backend import activation_kernels

_MODIFIED = "modified by an inplace operation"


def _arr(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _grads(fn, *arrays):
    """``fn(lib, *leaves)``'s output and the leaves' grads after ``backward(g)``, per lib."""
    found = []
    for lib in (ember, torch):
        leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = fn(lib, *leaves)
        g = np.random.default_rng(9).standard_normal(tuple(out.shape)).astype(arrays[0].dtype)
        out.backward(lib.tensor(g))
        found.append([out.detach().numpy()] + [t.grad.numpy() for t in leaves])
    return found


def _assert_same(found, rtol=1e-6):
    for e, t in zip(*found):
        np.testing.assert_allclose(e, t, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_inplace_on_a_non_leaf_matches_torch(kernels, dtype):
    def fn(lib, x, w):
        h = x * w
        h.relu_()
        return h * 3

    _assert_same(_grads(fn, _arr(4, 5, dtype=dtype), _arr(4, 5, seed=1, dtype=dtype)))


def test_relu_inplace_of_a_large_tensor_in_pieces_matches_torch(split_everything):
    pytest.importorskip("numba")
    split_everything(activation_kernels, "_SPLIT_SIZE")

    def fn(lib, x):
        return lib.nn.functional.relu(x * 2, inplace=True)

    _assert_same(_grads(fn, _arr(64, 100)))


def test_residual_block_pattern_matches_torch(kernels):
    """``out += identity; relu_(out)`` after a relu_ and a product, as a ResNet block."""
    def fn(lib, x, w):
        out = (x * w).relu_() * w
        out += x
        return lib.relu_(out)

    _assert_same(_grads(fn, _arr(3, 8), _arr(3, 8, seed=2)))


def test_add_inplace_broadcast_and_self_aliasing_match_torch(kernels):
    def fn(lib, x, b):
        h = x * 1.5
        h += b          # b broadcasts over h's rows
        h.add_(h)       # other is self
        return h

    _assert_same(_grads(fn, _arr(4, 3), _arr(3, seed=3)))


def test_add_inplace_with_a_constant_tensor_and_a_dtype_change_match_torch():
    def fn(lib, x):
        h = x * 2
        h += lib.tensor(_arr(5, seed=4))                        # needs no grad
        h.add_(lib.tensor(_arr(5, seed=5, dtype=np.float64)))   # the general path
        return h

    _assert_same(_grads(fn, _arr(2, 5)))


def test_grad_fn_names_are_pytorchs():
    x = ember.tensor(_arr(3), requires_grad=True)
    h = x * 1
    h.relu_()
    assert h.grad_fn.name() == "ReluBackward0"
    h += x
    assert h.grad_fn.name() == "AddBackward0"


def test_writing_to_relu_inplace_output_later_raises_as_in_torch():
    for lib in (ember, torch):
        x = lib.tensor(_arr(4), requires_grad=True)
        h = x * 1
        h.relu_()       # saves its output, which is h
        h.mul_(2)       # overwrites it
        with pytest.raises(RuntimeError, match=_MODIFIED):
            h.sum().backward()


def test_writing_to_relu_output_later_raises_as_in_torch():
    for lib in (ember, torch):
        x = lib.tensor(_arr(4), requires_grad=True)
        y = (x * 1).relu()
        y.add_(1)
        with pytest.raises(RuntimeError, match=_MODIFIED):
            y.sum().backward()


def test_relu_inplace_of_a_tensor_saved_by_another_op_raises_as_in_torch():
    for lib in (ember, torch):
        x = lib.tensor(_arr(4), requires_grad=True)
        h = x * 1
        y = h * h       # saves h
        h.relu_()
        with pytest.raises(RuntimeError, match=_MODIFIED):
            y.sum().backward()


def test_relu_input_modified_after_relu_does_not_matter_as_in_torch():
    def fn(lib, x):
        h = x * 1
        y = h.relu()    # saves its output only
        h.add_(5)
        return y + h

    _assert_same(_grads(fn, _arr(6)))


def test_inplace_on_leaf_requiring_grad_still_raises():
    x = ember.tensor(_arr(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x.relu_()
    with pytest.raises(RuntimeError, match="leaf Variable"):
        x += ember.ones(3)
    assert np.array_equal(x.detach().numpy(), _arr(3))  # nothing was written


def test_relu_inplace_of_a_view_of_a_base_requiring_grad_matches_torch():
    def fn(lib, x):
        h = x * 1
        h[1].relu_()
        return h

    _assert_same(_grads(fn, _arr(3, 4)))


def test_no_grad_relu_and_add_write_in_place_and_bump_versions(kernels):
    x = ember.tensor(_arr(2, 3), requires_grad=True)
    expected = np.maximum(_arr(2, 3), 0) + 1
    with ember.no_grad():
        view = x.view(6)
        x.relu_()
        view += ember.ones(6)
    np.testing.assert_array_equal(x.detach().numpy(), expected)
    assert x._vbox[0] == 2 and x.is_leaf and x.requires_grad


def test_relu_inplace_keeps_nan_and_works_on_integers(kernels):
    x = ember.tensor([np.nan, -1.0, 2.0, -0.0])
    assert x.relu_() is x
    got = x.numpy()
    assert np.isnan(got[0]) and got[1:].tolist() == [0.0, 2.0, 0.0]
    n = ember.tensor([-3, 4])
    assert ember.relu_(n).tolist() == [0, 4] and n.tolist() == [0, 4]


def test_relu_inplace_on_a_read_only_view_raises():
    x = ember.tensor([1.0, -2.0]).expand(3, 2)
    with pytest.raises(RuntimeError, match="read-only"):
        x.relu_()


def test_double_backward_through_relu_inplace_matches_torch():
    found = []
    for lib in (ember, torch):
        x = lib.tensor(_arr(5), requires_grad=True)
        h = x * x
        h.relu_()
        (g,) = lib.autograd.grad(h.sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad((g * g).sum(), x)
        found.append([g.detach().numpy(), gg.numpy()])
    _assert_same(found)


def test_add_inplace_shape_errors_are_embers():
    y = ember.zeros(3)
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        y.add_(ember.ones(2, 3))
    with pytest.raises(ValueError, match="add"):
        y.add_(ember.ones(4))
    assert y.tolist() == [0.0, 0.0, 0.0] and y._vbox[0] == 0


def test_profiling_keeps_the_one_pass_path():
    """Under the profiler (an observer, not graph capture) relu_ still writes in place:
    its saved output is then h itself, whose later change backward catches."""
    x = ember.tensor(_arr(6), requires_grad=True)
    with ember.profiler.profile() as prof:
        h = x * 1
        h.relu_()
        h.mul_(2)
    assert "relu" in {e.key for e in prof.key_averages()}
    with pytest.raises(RuntimeError, match=_MODIFIED):
        h.sum().backward()
