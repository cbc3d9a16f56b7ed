"""ResNets: torchvision's ImageNet ResNet-18/34/50, and the CIFAR ResNet-8/20/56.

Both use the same blocks: ``BasicBlock`` (two 3×3 convolutions) and ``Bottleneck``
(1×1, 3×3, 1×1), each adding a shortcut, which is a 1×1 convolution and a batch norm
(``downsample``) where the shape changes. Module names are torchvision's, so state dicts
move between the two.
"""

from ember.models._weights import refuse_pretrained
from ember.nn import init
from ember.nn.containers import Sequential
from ember.nn.module import Module
from ember.nn.modules.activation import ReLU
from ember.nn.modules.batchnorm import BatchNorm2d
from ember.nn.modules.conv import Conv2d
from ember.nn.modules.linear import Linear
from ember.nn.modules.normalization import GroupNorm
from ember.nn.modules.pooling import AdaptiveAvgPool2d, MaxPool2d

__all__ = ["BasicBlock", "Bottleneck", "CifarResNet", "ResNet", "resnet8", "resnet18",
           "resnet20", "resnet34", "resnet50", "resnet56"]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """A 3×3 convolution without bias, padded to keep the size (at stride 1)."""
    return Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                  groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """A 1×1 convolution without bias."""
    return Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``, two 3×3 convolutions.

    Args:
        inplanes, planes: input and output channels.
        stride: the stride of ``conv1`` (2 halves the size).
        downsample: the shortcut's module (None: the identity).
        groups, base_width: must be 1 and 64 (only ``Bottleneck`` widens or groups).
        dilation: must be 1.
        norm_layer: the normalization's constructor, called with a channel count
            (default ``BatchNorm2d``).
    """

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = BatchNorm2d if norm_layer is None else norm_layer
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class Bottleneck(Module):
    """``relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x))``.

    A 1×1 convolution to ``width = planes * base_width / 64 * groups`` channels, a 3×3
    (strided, grouped, dilated) one, and a 1×1 one to ``4 * planes`` channels. The stride
    is on the 3×3 convolution (ResNet v1.5, as torchvision).

    Args:
        inplanes: input channels.
        planes: output channels / 4.
        stride, groups, dilation: of the 3×3 convolution.
        downsample: the shortcut's module (None: the identity).
        base_width: width per group (64: a plain ResNet; 128: a wide one).
        norm_layer: the normalization's constructor (default ``BatchNorm2d``).
    """

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = BatchNorm2d if norm_layer is None else norm_layer
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class _ResNetBase(Module):
    """Stage building and initialization shared by the ImageNet and CIFAR ResNets."""

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        """A stage: ``blocks`` blocks, the first with ``stride`` and the shortcut."""
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                    norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups,
                        self.base_width, previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                         dilation=self.dilation, norm_layer=norm_layer)
                   for _ in range(1, blocks)]
        return Sequential(*layers)

    def _init_weights(self, zero_init_residual):
        """Convolutions ``kaiming_normal_`` (fan_out, ReLU); norms weight 1, bias 0; with
        ``zero_init_residual`` each block's last norm weight 0, so blocks start as
        identities."""
        for m in self.modules():
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (BatchNorm2d, GroupNorm)):
                init.constant_(m.weight, 1)
                init.constant_(m.bias, 0)
        if not zero_init_residual:
            return
        for m in self.modules():
            if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                init.constant_(m.bn3.weight, 0)
            elif isinstance(m, BasicBlock) and m.bn2.weight is not None:
                init.constant_(m.bn2.weight, 0)


class ResNet(_ResNetBase):
    """The ImageNet ResNet: a 7×7 stride-2 stem, max pooling, four stages, a classifier.

    ``conv1`` (64 channels, 7×7, stride 2), ``bn1``, ``relu``, ``maxpool`` (3×3, stride 2),
    ``layer1``..``layer4`` (64, 128, 256, 512 planes; strides 1, 2, 2, 2), ``avgpool``
    (global), ``fc`` (Linear to ``num_classes``). The output size is 1/32 of the input
    before pooling; any input of at least ``32×32`` works (``224×224`` is the usual).

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: the number of blocks of each of the four stages.
        num_classes: the number of outputs.
        zero_init_residual: initialize each block's last norm weight to 0.
        groups, width_per_group: of the 3×3 convolutions of ``Bottleneck`` blocks
            (ResNeXt, wide ResNet).
        replace_stride_with_dilation: three bools, for stages 2-4: dilate instead of
            striding.
        norm_layer: the normalization's constructor (default ``BatchNorm2d``).

    Shape:
        input ``(N, 3, H, W)``, output ``(N, num_classes)``.
    """

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64, replace_stride_with_dilation=None, norm_layer=None):
        super().__init__()
        self._norm_layer = norm_layer = BatchNorm2d if norm_layer is None else norm_layer
        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element "
                             f"tuple, got {replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = ReLU(inplace=True)
        self.maxpool = MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        dilate = replace_stride_with_dilation
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=dilate[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=dilate[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=dilate[2])
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.fc = Linear(512 * block.expansion, num_classes)
        self._init_weights(zero_init_residual)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


class CifarResNet(_ResNetBase):
    """The CIFAR ResNet of He et al. (2016), with 1×1 convolution shortcuts.

    ``conv1`` (3×3, 16 channels), ``bn1``, ``relu``, then ``layer1``..``layer3`` of ``n``
    ``BasicBlock`` each (16, 32, 64 channels; strides 1, 2, 2; a 1×1 convolution and a
    batch norm as shortcut where the shape changes), ``avgpool`` (global), ``fc``
    (Linear 64 → ``num_classes``): ``6n + 2`` layers. Initialized as ``ResNet``. Made for
    ``3×32×32`` images; any size works.

    Args:
        layers: the number of blocks of each of the three stages (``[n, n, n]``).
        num_classes: the number of outputs.
        zero_init_residual: initialize each block's last norm weight to 0.
        norm_layer: the normalization's constructor (default ``BatchNorm2d``).

    Shape:
        input ``(N, 3, H, W)``, output ``(N, num_classes)``.
    """

    def __init__(self, layers, num_classes=10, zero_init_residual=False, norm_layer=None):
        super().__init__()
        self._norm_layer = norm_layer = BatchNorm2d if norm_layer is None else norm_layer
        self.inplanes = 16
        self.dilation = 1
        self.groups = 1
        self.base_width = 64
        self.conv1 = conv3x3(3, self.inplanes)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = ReLU(inplace=True)
        self.layer1 = self._make_layer(BasicBlock, 16, layers[0])
        self.layer2 = self._make_layer(BasicBlock, 32, layers[1], stride=2)
        self.layer3 = self._make_layer(BasicBlock, 64, layers[2], stride=2)
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.fc = Linear(64, num_classes)
        self._init_weights(zero_init_residual)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


def _resnet(name, block, layers, weights, kwargs):
    refuse_pretrained(name, weights, kwargs)
    return ResNet(block, layers, **kwargs)


def _cifar_resnet(name, n, weights, kwargs):
    refuse_pretrained(name, weights, kwargs)
    return CifarResNet([n, n, n], **kwargs)


def resnet18(*, weights=None, progress=True, **kwargs):
    """ResNet-18: ``BasicBlock`` stages of 2, 2, 2, 2; 11,689,512 parameters (1000 classes).

    Args:
        weights: must be None; ember does not download pretrained weights (load a state
            dict file instead: the parameter names are torchvision's).
        progress: accepted for torchvision compatibility; unused.
        **kwargs: for ``ResNet``: ``num_classes``, ``zero_init_residual``, ``groups``,
            ``width_per_group``, ``replace_stride_with_dilation``, ``norm_layer``; and
            ``pretrained=False``.

    Returns:
        A ``ResNet`` in training mode, for ``3×224×224`` images (or smaller, down to 32×32).

    Example:
        >>> import ember
        >>> model = resnet18(num_classes=10).eval()
        >>> model(ember.randn(1, 3, 32, 32)).shape
        ember.Size([1, 10])
    """
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], weights, kwargs)


def resnet34(*, weights=None, progress=True, **kwargs):
    """ResNet-34: ``BasicBlock`` stages of 3, 4, 6, 3; 21,797,672 parameters (1000 classes).

    Arguments as ``resnet18``.
    """
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], weights, kwargs)


def resnet50(*, weights=None, progress=True, **kwargs):
    """ResNet-50: ``Bottleneck`` stages of 3, 4, 6, 3; 25,557,032 parameters (1000 classes).

    Arguments as ``resnet18``.
    """
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], weights, kwargs)


def resnet8(*, weights=None, progress=True, **kwargs):
    """CIFAR ResNet-8: one ``BasicBlock`` per stage; 78,042 parameters (10 classes).

    The model of the ``resnet8`` benchmark workload, for ``3×32×32`` images.

    Args:
        weights: must be None; ember does not download pretrained weights.
        progress: accepted for symmetry with the ImageNet models; unused.
        **kwargs: for ``CifarResNet``: ``num_classes`` (default 10),
            ``zero_init_residual``, ``norm_layer``; and ``pretrained=False``.

    Returns:
        A ``CifarResNet`` in training mode.

    Example:
        >>> import ember
        >>> resnet8()(ember.randn(2, 3, 32, 32)).shape
        ember.Size([2, 10])
    """
    return _cifar_resnet("resnet8", 1, weights, kwargs)


def resnet20(*, weights=None, progress=True, **kwargs):
    """CIFAR ResNet-20: three ``BasicBlock`` per stage; 272,474 parameters (10 classes).

    (269,722 of them without the two 1×1 convolution shortcuts, as in the paper's
    parameter-free option A.) Arguments as ``resnet8``.
    """
    return _cifar_resnet("resnet20", 3, weights, kwargs)


def resnet56(*, weights=None, progress=True, **kwargs):
    """CIFAR ResNet-56: nine ``BasicBlock`` per stage; 855,770 parameters (10 classes).

    (853,018 of them without the two 1×1 convolution shortcuts.) Arguments as
    ``resnet8``.
    """
    return _cifar_resnet("resnet56", 9, weights, kwargs)
