"""Exact resume: a run stopped at an epoch end and resumed from its checkpoint ends with
the very weights of a run that never stopped."""

import random

import numpy as np
import pytest

import ember
from ember.data import DataLoader, Dataset
from ember.datasets import Digits
from ember.serialization import CheckpointError
from ember.train import Trainer
from ember.train.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    ReduceLROnPlateau,
)
from tests.train.helpers import assert_same_weights, mlp


class NoisyDigits(Dataset):
    """Digits with an augmentation that draws from NumPy's and Python's global
    generators, as many user transforms do: their states must be resumed too."""

    def __init__(self, train=True):
        self.digits = Digits(train=train, flatten=True)

    def __len__(self):
        return len(self.digits)

    def __getitem__(self, i):
        image, label = self.digits[i]
        noise = np.random.normal(0, 0.05, 64).astype(np.float32) * random.random()
        return image + ember.from_numpy(noise), label


class StopAfter(Callback):
    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            self.trainer.stop_training = True


def _run(seed, loader_seed, epochs, directory, resume_from=None, extra=()):
    """Build everything from scratch (as a new process would) and fit."""
    ember.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    generator = None if loader_seed is None else ember.Generator().manual_seed(loader_seed)
    train = DataLoader(NoisyDigits(), batch_size=64, shuffle=True, generator=generator)
    test = DataLoader(Digits(train=False, flatten=True), batch_size=128, shuffle=True)
    model = mlp(dropout=0.3)
    optimizer = ember.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = ember.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.8)
    trainer = Trainer(model, optimizer, "cross_entropy", metrics=["accuracy"],
                      scheduler=scheduler)
    callbacks = [EarlyStopping(monitor="val_loss", patience=20, restore_best_weights=False),
                 ReduceLROnPlateau(monitor="val_accuracy", patience=0, factor=0.5),
                 ModelCheckpoint(directory), *extra]
    history = trainer.fit(train, validation_data=test, epochs=epochs, callbacks=callbacks,
                          verbose=0, resume_from=resume_from)
    return model, optimizer, history


@pytest.mark.parametrize("loader_seed, stop_by_callback", [(None, False), (7, True)])
def test_resumed_run_ends_with_the_same_weights(tmp_path, loader_seed, stop_by_callback):
    straight, straight_opt, straight_history = _run(0, loader_seed, 4, tmp_path / "a")
    if stop_by_callback:
        _run(0, loader_seed, 4, tmp_path / "b", extra=[StopAfter(2)])
    else:
        _run(0, loader_seed, 2, tmp_path / "b")
    # Whatever happens between the two processes must not matter.
    ember.randn(10), np.random.rand(3), random.random()
    last = tmp_path / "b" / "last.safetensors"
    assert ember.load(last)["epoch"] == 2
    resumed, resumed_opt, history = _run(123, loader_seed, 4, tmp_path / "b", resume_from=last,
                                         extra=[StopAfter(99)] if stop_by_callback else [])
    assert_same_weights(straight, resumed)
    assert history.history == straight_history.history  # the history covers all 4 epochs
    assert history.epoch == [0, 1, 2, 3]
    assert resumed_opt.param_groups[0]["lr"] == straight_opt.param_groups[0]["lr"]
    # The learning rate really moved (StepLR and the plateau cuts both act).
    assert len(set(history.history["learning_rate"])) > 1


def test_resume_without_the_stop_diverges(tmp_path):
    # The check above could pass if nothing random mattered; it does: restarting from
    # epoch 2's weights with fresh random states gives other weights.
    straight, _, _ = _run(0, None, 4, tmp_path / "a")
    _run(0, None, 2, tmp_path / "b")
    state = ember.load(tmp_path / "b" / "last.safetensors")
    state["rng"]["ember"] = ember.Generator().manual_seed(5).get_state()
    ember.save(state, tmp_path / "b" / "tampered.safetensors")
    resumed, _, _ = _run(0, None, 4, tmp_path / "b",
                         resume_from=tmp_path / "b" / "tampered.safetensors")
    assert not np.array_equal(straight[0].weight.detach().numpy(),
                              resumed[0].weight.detach().numpy())


def test_resume_from_a_directory_and_what_the_file_holds(tmp_path):
    model, _, _ = _run(0, None, 1, tmp_path)
    state = ember.load(tmp_path / "last.safetensors")
    assert state["format"] == "ember.train" and state["version"] == 1
    assert state["epoch"] == 1 and state["step"] == 23  # ceil(1437 / 64) batches
    assert set(state["rng"]) == {"ember", "numpy", "python", "data"}
    assert set(state["callbacks"]) == {"LearningRateScheduler", "EarlyStopping",
                                       "ReduceLROnPlateau", "ModelCheckpoint", "History"}
    fresh = mlp()
    fresh.load_state_dict(state["model"])
    assert_same_weights(fresh, model)
    _, _, history = _run(5, None, 2, tmp_path, resume_from=tmp_path)  # a directory
    assert history.epoch == [0, 1]


def test_resume_checks_what_it_is_given(tmp_path):
    ember.save({"weight": ember.zeros(2)}, tmp_path / "weights.safetensors")
    with pytest.raises(CheckpointError, match="not a training-state checkpoint"):
        _run(0, None, 2, tmp_path, resume_from=tmp_path / "weights.safetensors")
    _run(0, 3, 1, tmp_path)  # a loader with its own generator...
    with pytest.raises(ValueError, match="holds 1 random generator state"):
        _run(0, None, 2, tmp_path, resume_from=tmp_path)  # ...resumed with one without
