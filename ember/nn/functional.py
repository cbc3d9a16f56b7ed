"""``ember.nn.functional``: the math of layers and losses, as functions (PyTorch's ``F``).

Each function is defined once in its op family under ``ember/ops/``; this module only
re-exports them, family by family.
"""

from ember.ops.activation import (
    celu,
    celu_,
    elu,
    elu_,
    gelu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    hardtanh_,
    leaky_relu,
    leaky_relu_,
    logsigmoid,
    mish,
    prelu,
    relu,
    relu6,
    relu_,
    rrelu,
    rrelu_,
    selu,
    selu_,
    silu,
    softplus,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
    threshold_,
)
from ember.ops.attention import (
    scaled_dot_product_attention,
)
from ember.ops.avg_pool import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
)
from ember.ops.conv import (
    conv1d,
    conv2d,
    conv3d,
)
from ember.ops.conv_transpose import (
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
)
from ember.ops.distance import (
    cosine_similarity,
    normalize,
    pairwise_distance,
    pdist,
)
from ember.ops.dropout import (
    alpha_dropout,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    feature_alpha_dropout,
)
from ember.ops.einsum import (
    bilinear,
)
from ember.ops.embedding import (
    embedding,
    embedding_bag,
    one_hot,
)
from ember.ops.linalg import (
    linear,
)
from ember.ops.binary_loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    kl_div,
)
from ember.ops.loss import (
    cross_entropy,
    nll_loss,
)
from ember.ops.margin_loss import (
    cosine_embedding_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from ember.ops.norm import (
    batch_norm,
    group_norm,
    instance_norm,
    layer_norm,
    rms_norm,
)
from ember.ops.pad import (
    pad,
)
from ember.ops.pool import (
    adaptive_max_pool1d,
    adaptive_max_pool1d_with_indices,
    adaptive_max_pool2d,
    adaptive_max_pool2d_with_indices,
    max_pool1d,
    max_pool1d_with_indices,
    max_pool2d,
    max_pool2d_with_indices,
    max_unpool1d,
    max_unpool2d,
)
from ember.ops.regression_loss import (
    gaussian_nll_loss,
    huber_loss,
    l1_loss,
    mse_loss,
    poisson_nll_loss,
    smooth_l1_loss,
)
from ember.ops.resize import (
    interpolate,
)
from ember.ops.softmax import (
    gumbel_softmax,
    log_softmax,
    softmax,
    softmin,
)
from ember.ops.unary import (
    sigmoid,
    tanh,
)

# isort: split
# After the op families: transformer.py reads F.relu when it is imported.
from ember.nn.modules.attention import multi_head_attention_forward
