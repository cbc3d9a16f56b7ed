"""``lenet`` (training, 64 images, Adam) and ``infer-lenet`` (one image): LeNet-5 on
1×28×28 inputs."""

import numpy as np

from benchmarks.workloads.base import Workload, inference_call, training_step


def reference_model(lib):
    """LeNet-5 in ``lib``'s nn, the layers of ``ember.models.LeNet5``.

    Conv2d(1, 6, 5, padding=2), ReLU, MaxPool2d(2), Conv2d(6, 16, 5), ReLU, MaxPool2d(2),
    Flatten, Linear 400→120, ReLU, Linear 120→84, ReLU, Linear 84→10.
    """
    nn = lib.nn
    features = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(inplace=True), nn.MaxPool2d(2),
    )
    classifier = nn.Sequential(
        nn.Linear(400, 120), nn.ReLU(inplace=True), nn.Linear(120, 84),
        nn.ReLU(inplace=True), nn.Linear(84, 10),
    )
    return nn.Sequential(features, nn.Flatten(), classifier)


def model(framework, lib):
    """ember's zoo model for ember; the reference model elsewhere."""
    if framework == "ember":
        import ember.models

        return ember.models.lenet5()
    return reference_model(lib)


def _images(rng, n):
    return rng.standard_normal((n, 1, 28, 28), dtype=np.float32)


def train_data(rng):
    """The training inputs and labels, drawn from ``rng``."""
    return {"inputs": _images(rng, 64), "targets": rng.integers(0, 10, 64)}


def infer_data(rng):
    """The one inference input, drawn from ``rng``."""
    return {"inputs": _images(rng, 1)}


def build_train(framework, lib, arrays):
    """One training step of this workload in ``framework`` (see ``Workload.build``)."""
    net = model(framework, lib)
    optimizer = lib.optim.Adam(net.parameters(), lr=1e-3)
    return training_step(lib, net, optimizer, lib.nn.functional.cross_entropy, **arrays)


def build_infer(framework, lib, arrays):
    """One inference call of this workload in ``framework`` (see ``Workload.build``)."""
    return inference_call(lib, model(framework, lib), arrays["inputs"])


WORKLOADS = [
    Workload("lenet", "train", "64 × 1×28×28", train_data, build_train),
    Workload("infer-lenet", "infer", "1 × 1×28×28", infer_data, build_infer),
]
