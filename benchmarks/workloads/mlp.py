"""``mlp``: a three-layer perceptron on 128 flat 784-pixel images, SGD with momentum."""

import numpy as np

from benchmarks.workloads.base import Workload, training_step


def reference_model(lib):
    """Linear 784→512, ReLU, Linear 512→256, ReLU, Linear 256→10, in ``lib``'s nn."""
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def model(framework, lib):
    """The ``mlp`` network for ``framework`` (the same layers in each)."""
    return reference_model(lib)


def data(rng):
    """The inputs and labels, drawn from ``rng``."""
    return {"inputs": rng.standard_normal((128, 784), dtype=np.float32),
            "targets": rng.integers(0, 10, 128)}


def build(framework, lib, arrays):
    """One training step of this workload in ``framework`` (see ``Workload.build``)."""
    net = model(framework, lib)
    optimizer = lib.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    return training_step(lib, net, optimizer, lib.nn.functional.cross_entropy, **arrays)


WORKLOADS = [Workload("mlp", "train", "128 × 784", data, build)]
