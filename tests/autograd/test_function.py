"""Custom ember.autograd.Function, compared with the same Function written for torch."""

import numpy as np
import pytest
import torch

import ember
from ember.testing import gradcheck, gradgradcheck


def make_cube(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x ** 3 * k

        @staticmethod
        def backward(ctx, grad_out):
            (x,) = ctx.saved_tensors
            return grad_out * 3 * x ** 2 * ctx.k, None

    return Cube


def test_custom_function_matches_torch_and_gradchecks():
    arr = np.array([0.5, -1.0, 2.0])
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(arr, requires_grad=True)
        make_cube(lib).apply(x, 2.0).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(*grads)
    x = ember.tensor(arr, requires_grad=True)
    cube = make_cube(ember)
    assert gradcheck(lambda t: cube.apply(t, 2.0), (x,))
    assert gradgradcheck(lambda t: cube.apply(t, 2.0), (x,))


def test_needs_input_grad_and_non_tensor_args():
    seen = {}

    class Probe(ember.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, scale):
            seen["needs"] = ctx.needs_input_grad
            return a * b * scale

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    a = ember.ones(2, requires_grad=True)
    Probe.apply(a, ember.ones(2), 3.0).sum().backward()
    assert seen["needs"] == (True, False, False)


def test_multiple_outputs_and_mark_non_differentiable():
    class SortWithIndex(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            order = np.argsort(x.numpy())
            idx = ember.from_numpy(order)
            ctx.mark_non_differentiable(idx)
            ctx.order = order
            return ember.from_numpy(x.numpy()[order].copy()), idx

        @staticmethod
        def backward(ctx, grad_values, grad_idx):
            out = np.zeros_like(grad_values.numpy())
            out[ctx.order] = grad_values.numpy()
            return ember.from_numpy(out)

    x = ember.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, idx = SortWithIndex.apply(x)
    assert not idx.requires_grad and values.requires_grad
    (values * ember.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.tolist() == [100.0, 1.0, 10.0]


def test_wrong_number_of_gradients_is_a_clear_error():
    class Bad(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    x = ember.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(x).sum().backward()


def test_saved_tensor_modified_in_place_is_detected():
    class Twice(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2

    x = ember.ones(2, requires_grad=True)
    h = x * 1
    y = Twice.apply(h)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_saving_an_output():
    class Exp(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = ember.from_numpy(np.exp(x.numpy()))
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    x = ember.tensor([0.0, 1.0], dtype=ember.float64, requires_grad=True)
    Exp.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.0, 1.0]))
    assert gradgradcheck(Exp.apply, (ember.tensor([0.3], dtype=ember.float64,
                                                  requires_grad=True),))


def test_once_differentiable_and_setup_context_style():
    class Square(ember.autograd.Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(inputs[0])

        @staticmethod
        @ember.autograd.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x

    x = ember.tensor([3.0], requires_grad=True)
    Square.apply(x).backward()
    assert x.grad.item() == 6.0


def test_function_returning_input_unchanged():
    class Identity(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 5

    x = ember.ones(2, requires_grad=True)
    y = Identity.apply(x)
    assert y is not x and x.is_leaf
    y.sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
