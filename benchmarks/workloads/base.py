"""What every workload is made of: its arrays, a model per framework, and one step.

A workload's data is a dict of NumPy arrays drawn once from a fixed seed, so every
framework (each in its own interpreter) sees the same numbers; each framework wraps them
without copying (``from_numpy``). Each family module writes its model once against
PyTorch's API (``reference_model(lib)``), which builds the same network in any framework
that has that API: PyTorch itself, and ember, where the smoke test uses it to check that
ember's own model (from ``ember.models`` where it exists) has the same parameters.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SEED = 0


@dataclass(frozen=True)
class Workload:
    """One row of the benchmark table.

    Attributes:
        name: the row's name in WORKLOADS.md (``mlp``, ``infer-lenet``, ...).
        kind: ``"train"`` (timed as steps/s) or ``"infer"`` (timed as latency).
        batch: the input's shape, as WORKLOADS.md writes it.
        data: ``data(rng) -> dict`` of the NumPy input arrays.
        build: ``build(framework, lib, arrays) -> step``: a callable running one training
            step or one inference call, with the model and optimizer made inside.
    """

    name: str
    kind: str
    batch: str
    data: Callable
    build: Callable

    def arrays(self):
        """The workload's input arrays, the same in every interpreter (fixed seed)."""
        return self.data(np.random.default_rng(SEED))


def training_step(lib, model, optimizer, loss_fn, inputs, targets):
    """One training step as WORKLOADS.md defines it, over fixed arrays.

    Args:
        lib: the framework's module (``ember`` or ``torch``).
        model: the framework's module, put in training mode.
        optimizer: the framework's optimizer over ``model``'s parameters.
        loss_fn: ``loss_fn(output, targets) -> scalar``.
        inputs, targets: NumPy arrays, wrapped once without copying.

    Returns:
        ``step()``: zero the gradients, forward, loss, backward, optimizer step; returns
        the loss tensor.
    """
    model.train()
    x, y = lib.from_numpy(inputs), lib.from_numpy(targets)

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def inference_call(lib, model, inputs):
    """One inference call: eval mode, no gradient tracking, over a fixed array.

    Returns:
        ``call()``: the model's output for ``inputs``.
    """
    model.eval()
    x = lib.from_numpy(inputs)

    def call():
        with lib.no_grad():
            return model(x)

    return call


def sequence_loss(lib, vocab):
    """Cross-entropy over all positions: ``(N, L, vocab)`` logits against ``(N, L)`` ids."""
    cross_entropy = lib.nn.functional.cross_entropy

    def loss(logits, targets):
        return cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1))

    return loss
