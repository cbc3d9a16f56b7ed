"""``resnet8``: the CIFAR ResNet-8 on 32 images of 3×32×32, SGD with momentum and weight
decay."""

import numpy as np

from benchmarks.workloads.base import Workload, training_step


def reference_model(lib):
    """ResNet-8 in ``lib``'s nn, laid out as ``ember.models.resnet8``.

    Conv3×3(3→16)+BN+ReLU; one basic block per stage of 16, 32, 64 channels (strides 1, 2,
    2): conv3×3-BN-ReLU-conv3×3-BN plus the shortcut (1×1 conv + BN where the shape
    changes), then ReLU; global average pooling; Linear 64→10. Convolutions have no bias.
    """
    nn = lib.nn

    def conv(cin, cout, size, stride=1):
        return nn.Conv2d(cin, cout, size, stride=stride, padding=size // 2, bias=False)

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1, self.bn1 = conv(cin, cout, 3, stride), nn.BatchNorm2d(cout)
            self.conv2, self.bn2 = conv(cout, cout, 3), nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(conv(cin, cout, 1, stride), nn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            out += identity
            return self.relu(out)

    class ResNet8(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.bn1, self.relu = conv(3, 16, 3), nn.BatchNorm2d(16), nn.ReLU(True)
            self.layer1 = nn.Sequential(BasicBlock(16, 16, 1))
            self.layer2 = nn.Sequential(BasicBlock(16, 32, 2))
            self.layer3 = nn.Sequential(BasicBlock(32, 64, 2))
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.relu(self.bn1(self.conv1(x)))
            x = self.layer3(self.layer2(self.layer1(x)))
            return self.fc(self.avgpool(x).flatten(1))

    return ResNet8()


def model(framework, lib):
    """ember's zoo model for ember; the reference model elsewhere."""
    if framework == "ember":
        import ember.models

        return ember.models.resnet8()
    return reference_model(lib)


def data(rng):
    """The inputs and labels, drawn from ``rng``."""
    return {"inputs": rng.standard_normal((32, 3, 32, 32), dtype=np.float32),
            "targets": rng.integers(0, 10, 32)}


def build(framework, lib, arrays):
    """One training step of this workload in ``framework`` (see ``Workload.build``)."""
    net = model(framework, lib)
    optimizer = lib.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    return training_step(lib, net, optimizer, lib.nn.functional.cross_entropy, **arrays)


WORKLOADS = [Workload("resnet8", "train", "32 × 3×32×32", data, build)]
