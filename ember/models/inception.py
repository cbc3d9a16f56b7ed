"""Inception-v3, with torchvision's layout, names, initialization and outputs."""

from collections import namedtuple

from ember.models._weights import refuse_pretrained
from ember.nn import functional as F
from ember.nn import init
from ember.nn.module import Module
from ember.nn.modules.batchnorm import BatchNorm2d
from ember.nn.modules.conv import Conv2d
from ember.nn.modules.dropout import Dropout
from ember.nn.modules.linear import Linear
from ember.nn.modules.pooling import AdaptiveAvgPool2d, MaxPool2d
from ember.ops.join import cat

__all__ = ["BasicConv2d", "Inception3", "InceptionA", "InceptionAux", "InceptionB",
           "InceptionC", "InceptionD", "InceptionE", "InceptionOutputs", "inception_v3"]

InceptionOutputs = namedtuple("InceptionOutputs", ["logits", "aux_logits"])
InceptionOutputs.__doc__ = """What ``Inception3`` returns in training mode with
    ``aux_logits``: the main ``logits`` and those of the auxiliary classifier."""


class BasicConv2d(Module):
    """``relu(bn(conv(x)))``: a convolution without bias, batch norm (eps 0.001), ReLU.

    Args:
        in_channels, out_channels: of the convolution.
        **kwargs: the convolution's ``kernel_size``, ``stride``, ``padding``.
    """

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__()
        self.conv = Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)), inplace=True)


class InceptionA(Module):
    """Four branches concatenated: 1×1 (64); 1×1, 5×5 (64); 1×1, 3×3, 3×3 (96); 3×3
    average pool, 1×1 (``pool_features``). Keeps the size."""

    def __init__(self, in_channels, pool_features, conv_block=None):
        super().__init__()
        conv_block = BasicConv2d if conv_block is None else conv_block
        self.branch1x1 = conv_block(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = conv_block(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = conv_block(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = conv_block(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = conv_block(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = conv_block(96, 96, kernel_size=3, padding=1)
        self.branch_pool = conv_block(in_channels, pool_features, kernel_size=1)

    def forward(self, x):
        branch1x1 = self.branch1x1(x)
        branch5x5 = self.branch5x5_2(self.branch5x5_1(x))
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return cat([branch1x1, branch5x5, branch3x3dbl, branch_pool], 1)


class InceptionB(Module):
    """Grid reduction (stride 2): 3×3 (384); 1×1, 3×3, 3×3 (96); 3×3 max pool."""

    def __init__(self, in_channels, conv_block=None):
        super().__init__()
        conv_block = BasicConv2d if conv_block is None else conv_block
        self.branch3x3 = conv_block(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = conv_block(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = conv_block(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = conv_block(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        branch3x3 = self.branch3x3(x)
        branch3x3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        branch_pool = F.max_pool2d(x, kernel_size=3, stride=2)
        return cat([branch3x3, branch3x3dbl, branch_pool], 1)


class InceptionC(Module):
    """Factorized 7×7 branches (1×7 and 7×1 convolutions with ``channels_7x7``), each
    branch ending with 192 channels; four branches, 768 channels. Keeps the size."""

    def __init__(self, in_channels, channels_7x7, conv_block=None):
        super().__init__()
        conv_block = BasicConv2d if conv_block is None else conv_block
        c7 = channels_7x7
        row, col = {"kernel_size": (1, 7), "padding": (0, 3)}, {"kernel_size": (7, 1),
                                                                  "padding": (3, 0)}
        self.branch1x1 = conv_block(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = conv_block(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = conv_block(c7, c7, **row)
        self.branch7x7_3 = conv_block(c7, 192, **col)
        self.branch7x7dbl_1 = conv_block(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = conv_block(c7, c7, **col)
        self.branch7x7dbl_3 = conv_block(c7, c7, **row)
        self.branch7x7dbl_4 = conv_block(c7, c7, **col)
        self.branch7x7dbl_5 = conv_block(c7, 192, **row)
        self.branch_pool = conv_block(in_channels, 192, kernel_size=1)

    def forward(self, x):
        branch1x1 = self.branch1x1(x)
        branch7x7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        branch7x7dbl = x
        for conv in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                     self.branch7x7dbl_4, self.branch7x7dbl_5):
            branch7x7dbl = conv(branch7x7dbl)
        branch_pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return cat([branch1x1, branch7x7, branch7x7dbl, branch_pool], 1)


class InceptionD(Module):
    """Grid reduction (stride 2): 1×1, 3×3 (320); 1×1, 1×7, 7×1, 3×3 (192); max pool."""

    def __init__(self, in_channels, conv_block=None):
        super().__init__()
        conv_block = BasicConv2d if conv_block is None else conv_block
        self.branch3x3_1 = conv_block(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = conv_block(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = conv_block(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = conv_block(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = conv_block(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = conv_block(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        branch3x3 = self.branch3x3_2(self.branch3x3_1(x))
        branch7x7x3 = x
        for conv in (self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3,
                     self.branch7x7x3_4):
            branch7x7x3 = conv(branch7x7x3)
        branch_pool = F.max_pool2d(x, kernel_size=3, stride=2)
        return cat([branch3x3, branch7x7x3, branch_pool], 1)


class InceptionE(Module):
    """Expanded filter banks: 1×1 (320); 1×1 then 1×3 and 3×1 side by side (2·384);
    1×1, 3×3, then 1×3 and 3×1 (2·384); average pool, 1×1 (192). Keeps the size."""

    def __init__(self, in_channels, conv_block=None):
        super().__init__()
        conv_block = BasicConv2d if conv_block is None else conv_block
        row, col = {"kernel_size": (1, 3), "padding": (0, 1)}, {"kernel_size": (3, 1),
                                                                  "padding": (1, 0)}
        self.branch1x1 = conv_block(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = conv_block(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = conv_block(384, 384, **row)
        self.branch3x3_2b = conv_block(384, 384, **col)
        self.branch3x3dbl_1 = conv_block(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = conv_block(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = conv_block(384, 384, **row)
        self.branch3x3dbl_3b = conv_block(384, 384, **col)
        self.branch_pool = conv_block(in_channels, 192, kernel_size=1)

    def forward(self, x):
        branch1x1 = self.branch1x1(x)
        branch3x3 = self.branch3x3_1(x)
        branch3x3 = cat([self.branch3x3_2a(branch3x3), self.branch3x3_2b(branch3x3)], 1)
        branch3x3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        branch3x3dbl = cat([self.branch3x3dbl_3a(branch3x3dbl),
                            self.branch3x3dbl_3b(branch3x3dbl)], 1)
        branch_pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return cat([branch1x1, branch3x3, branch3x3dbl, branch_pool], 1)


class InceptionAux(Module):
    """The auxiliary classifier on ``Mixed_6e`` (``768×17×17`` at 299×299 inputs): 5×5
    stride-3 average pool, 1×1 (128), 5×5 (768), global average pool, Linear."""

    def __init__(self, in_channels, num_classes, conv_block=None):
        super().__init__()
        conv_block = BasicConv2d if conv_block is None else conv_block
        self.conv0 = conv_block(in_channels, 128, kernel_size=1)
        self.conv1 = conv_block(128, 768, kernel_size=5)
        # As in torchvision: read by Inception3's initialization only for modules that
        # are themselves a Conv2d or Linear, so only fc's is used.
        self.conv1.stddev = 0.01
        self.fc = Linear(768, num_classes)
        self.fc.stddev = 0.001

    def forward(self, x):
        x = self.conv1(self.conv0(F.avg_pool2d(x, kernel_size=5, stride=3)))
        return self.fc(F.adaptive_avg_pool2d(x, (1, 1)).flatten(1))


class Inception3(Module):
    """Inception-v3 (Szegedy et al., 2016), for ``3×299×299`` images.

    A stem of ``BasicConv2d`` (``Conv2d_1a_3x3`` .. ``Conv2d_4a_3x3``) and two max pools
    (``35×35`` left), ``Mixed_5b/5c/5d`` (``InceptionA``), ``Mixed_6a`` (``InceptionB``,
    to ``17×17``), ``Mixed_6b``..``6e`` (``InceptionC``), ``Mixed_7a`` (``InceptionD``, to
    ``8×8``), ``Mixed_7b/7c`` (``InceptionE``, 2048 channels), global average pool,
    dropout and ``fc``; ``AuxLogits`` (``InceptionAux``) classifies ``Mixed_6e``'s output
    in training. 27,161,264 parameters with 1000 classes and the auxiliary classifier
    (23,834,568 without). Inputs of at least ``75×75`` work in eval mode, and without
    ``aux_logits``; the auxiliary classifier needs ``299×299``.

    Args:
        num_classes: the number of outputs.
        aux_logits: build the auxiliary classifier (used in training mode only).
        transform_input: map inputs normalized with ImageNet's mean and std to the
            ``[-1, 1]`` scaling the original weights were trained with.
        inception_blocks: the seven block constructors ``[BasicConv2d, InceptionA, ...,
            InceptionE, InceptionAux]`` (default these).
        init_weights: initialize every convolution and linear weight from
            ``trunc_normal_(std=0.1, a=-2, b=2)`` (std 0.001 for ``AuxLogits.fc``) and
            batch norms to weight 1, bias 0 (None, the default, means True). Else the
            layers keep their default initialization.
        dropout: the dropout probability before ``fc``.

    Shape:
        input ``(N, 3, H, W)``; output ``(N, num_classes)``, or in training mode with
        ``aux_logits`` an ``InceptionOutputs(logits, aux_logits)`` of two of them.
    """

    def __init__(self, num_classes=1000, aux_logits=True, transform_input=False,
                 inception_blocks=None, init_weights=None, dropout=0.5):
        super().__init__()
        if inception_blocks is None:
            inception_blocks = [BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD,
                                InceptionE, InceptionAux]
        if len(inception_blocks) != 7:
            raise ValueError(f"length of inception_blocks should be 7 instead of "
                             f"{len(inception_blocks)}")
        conv_block, block_a, block_b, block_c, block_d, block_e, block_aux = inception_blocks
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.Conv2d_1a_3x3 = conv_block(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = conv_block(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = conv_block(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = conv_block(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = conv_block(80, 192, kernel_size=3)
        self.maxpool2 = MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = block_a(192, pool_features=32)
        self.Mixed_5c = block_a(256, pool_features=64)
        self.Mixed_5d = block_a(288, pool_features=64)
        self.Mixed_6a = block_b(288)
        self.Mixed_6b = block_c(768, channels_7x7=128)
        self.Mixed_6c = block_c(768, channels_7x7=160)
        self.Mixed_6d = block_c(768, channels_7x7=160)
        self.Mixed_6e = block_c(768, channels_7x7=192)
        self.AuxLogits = block_aux(768, num_classes) if aux_logits else None
        self.Mixed_7a = block_d(768)
        self.Mixed_7b = block_e(1280)
        self.Mixed_7c = block_e(2048)
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.dropout = Dropout(p=dropout)
        self.fc = Linear(2048, num_classes)
        if init_weights is None or init_weights:
            for m in self.modules():
                _init_inception(m)

    def _transform_input(self, x):
        if not self.transform_input:
            return x
        channels = [x[:, c].unsqueeze(1) * (std / 0.5) + (mean - 0.5) / 0.5
                    for c, (mean, std) in enumerate(_IMAGENET_MEAN_STD)]
        return cat(channels, 1)

    def forward(self, x):
        x = self._transform_input(x)
        for name in _STEM_AND_MIXED_6:
            x = getattr(self, name)(x)
        aux = self.AuxLogits(x) if self.AuxLogits is not None and self.training else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        x = self.fc(self.dropout(self.avgpool(x)).flatten(1))
        if self.training and self.aux_logits:
            return InceptionOutputs(x, aux)
        return x


_IMAGENET_MEAN_STD = [(0.485, 0.229), (0.456, 0.224), (0.406, 0.225)]
_STEM_AND_MIXED_6 = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1",
                     "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c",
                     "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"]


def _init_inception(m):
    if isinstance(m, (Conv2d, Linear)):
        stddev = float(m.stddev) if hasattr(m, "stddev") else 0.1
        init.trunc_normal_(m.weight, mean=0.0, std=stddev, a=-2, b=2)
    elif isinstance(m, BatchNorm2d):
        init.constant_(m.weight, 1)
        init.constant_(m.bias, 0)


def inception_v3(*, weights=None, progress=True, **kwargs):
    """Inception-v3 (see ``Inception3``): 27,161,264 parameters with 1000 classes.

    In training mode with ``aux_logits`` (the default) the model returns
    ``InceptionOutputs(logits, aux_logits)``; in eval mode, the logits.

    Args:
        weights: must be None; ember does not download pretrained weights (load a state
            dict file instead: the parameter names are torchvision's).
        progress: accepted for torchvision compatibility; unused.
        **kwargs: for ``Inception3``: ``num_classes``, ``aux_logits``,
            ``transform_input``, ``init_weights``, ``inception_blocks``, ``dropout``; and
            ``pretrained=False``.

    Returns:
        An ``Inception3`` in training mode.

    Example:
        >>> import ember
        >>> model = inception_v3(num_classes=10, aux_logits=False).eval()
        >>> model(ember.randn(1, 3, 75, 75)).shape
        ember.Size([1, 10])
    """
    refuse_pretrained("inception_v3", weights, kwargs)
    return Inception3(**kwargs)
