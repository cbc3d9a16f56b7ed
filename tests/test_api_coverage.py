"""Every name issue "Tensors and autograd" promises exists where PyTorch users look for it."""

import pytest

import ember
import ember.nn.functional as F

TOP_LEVEL = """
tensor zeros ones full empty arange linspace eye rand randn randint randperm zeros_like ones_like
full_like empty_like rand_like randn_like randint_like from_numpy from_dlpack set_default_dtype
get_default_dtype manual_seed Generator float32 float64 float16 int64 int32 int8 uint8 bool
add sub mul div pow exp log log1p expm1 sqrt rsqrt abs sign neg reciprocal sin cos tan tanh
sigmoid erf floor ceil round relu clamp clip where maximum minimum eq ne lt le gt ge
logical_and logical_or logical_not logical_xor sum mean prod max min amax amin var std
logsumexp norm argmax argmin all any cumsum cumprod matmul mm bmm einsum outer reshape flatten
unflatten permute transpose squeeze unsqueeze broadcast_to repeat_interleave tile cat stack
split chunk unbind flip roll tril triu narrow gather scatter scatter_add index_select index_add
masked_fill masked_select take_along_dim nonzero topk sort argsort no_grad enable_grad
set_grad_enabled inference_mode softmax log_softmax conv1d conv2d conv_transpose2d
max_pool1d max_pool2d batch_norm layer_norm
group_norm dropout embedding cosine_similarity
""".split()

FUNCTIONAL = """
linear conv1d conv2d conv_transpose2d max_pool1d max_pool2d avg_pool2d adaptive_avg_pool2d
adaptive_max_pool2d batch_norm layer_norm group_norm dropout embedding softmax log_softmax
cross_entropy nll_loss mse_loss l1_loss smooth_l1_loss huber_loss binary_cross_entropy
binary_cross_entropy_with_logits kl_div cosine_similarity pad interpolate one_hot
scaled_dot_product_attention relu leaky_relu elu selu gelu silu mish softplus hardtanh hardswish
""".split()

METHODS = """
add sub mul div pow exp log log1p expm1 sqrt rsqrt abs sign neg reciprocal sin cos tan tanh
sigmoid floor ceil round relu clamp clip maximum minimum eq ne lt le gt ge logical_and
logical_or logical_not sum mean prod max min amax amin var std logsumexp norm argmax argmin all
any cumsum cumprod matmul mm bmm reshape view flatten unflatten permute transpose T mT squeeze
unsqueeze expand expand_as broadcast_to repeat tile split chunk unbind flip roll tril triu
narrow gather scatter scatter_add index_select index_add masked_fill masked_select nonzero topk
sort argsort add_ mul_ zero_ fill_ copy_ clamp_ masked_fill_ clip_ backward detach detach_
requires_grad_ retain_grad register_hook numpy item tolist size dim numel to float double long
int bool half clone contiguous softmax log_softmax __getitem__ __setitem__ __iter__ __dlpack__
__array__ __matmul__ __rpow__ __rtruediv__ __and__ __or__ __invert__
""".split()

AUTOGRAD = "grad backward Function no_grad enable_grad set_grad_enabled detect_anomaly".split()


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_top_level(name):
    assert hasattr(ember, name), f"ember.{name} is missing"


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional(name):
    assert hasattr(F, name), f"ember.nn.functional.{name} is missing"


@pytest.mark.parametrize("name", METHODS)
def test_tensor_method(name):
    assert hasattr(ember.Tensor, name), f"Tensor.{name} is missing"


@pytest.mark.parametrize("name", AUTOGRAD)
def test_autograd(name):
    assert hasattr(ember.autograd, name)


def test_testing_tools():
    assert callable(ember.testing.gradcheck) and callable(ember.testing.gradgradcheck)


def test_top_level_batch_norm_and_embedding_take_torch_argument_order():
    import numpy as np
    import torch

    x = np.random.default_rng(0).standard_normal((4, 3, 2))
    w, b, rm, rv = np.ones(3) * 2, np.ones(3) * 0.5, np.zeros(3), np.ones(3)
    mine = ember.batch_norm(*(ember.tensor(a) for a in (x, w, b, rm, rv)), True, 0.1, 1e-5, False)
    ref = torch.batch_norm(*(torch.tensor(a) for a in (x, w, b, rm, rv)), True, 0.1, 1e-5, False)
    np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-10)
    table = np.arange(12.0).reshape(4, 3)
    idx = [[0, 3], [2, 2]]
    np.testing.assert_array_equal(
        ember.embedding(ember.tensor(table), ember.tensor(idx)).numpy(),
        torch.embedding(torch.tensor(table), torch.tensor(idx)).numpy())
