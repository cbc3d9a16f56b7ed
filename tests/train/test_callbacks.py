"""Each callback's behaviour, driven through Trainer.fit as a user drives it."""

import csv
import math
import os

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember.nn import functional as F
from ember.train import Trainer, metrics
from ember.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TensorBoard,
    TerminateOnNaN,
)
from tests.train.helpers import assert_same_weights, toy_loader, weights


def _trainer(lr=0.05, **kwargs):
    ember.manual_seed(0)
    model = nn.Linear(3, 1)
    return Trainer(model, ember.optim.SGD(model.parameters(), lr=lr), "mse", **kwargs)


def _scripted(**values):
    """A callback that puts scripted values into the epoch logs (it runs first)."""
    return LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update(
        {name: seq[epoch] for name, seq in values.items()}))


def _fit(trainer, epochs, callbacks, validation=False):
    loader = toy_loader()
    return trainer.fit(loader, validation_data=toy_loader(seed=1) if validation else None,
                       epochs=epochs, callbacks=callbacks, verbose=0)


# ---- Callback, CallbackList, LambdaCallback ---------------------------------------------

class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        attr = super().__getattribute__(name)
        if name.startswith("on_") and callable(attr):
            calls = super().__getattribute__("calls")

            def record(*args):
                calls.append((name, *args[:-1]))
                return attr(*args)
            return record
        return attr


def test_hooks_come_in_order_with_their_aliases():
    recorder = Recorder()
    trainer = _trainer()
    x, y = ember.randn(4, 3), ember.randn(4, 1)
    batches = [(x[:2], y[:2]), (x[2:], y[2:])]
    trainer.fit(batches, validation_data=batches[:1], epochs=2, callbacks=[recorder],
                verbose=0)
    epoch = [("on_train_batch_begin", 0), ("on_batch_begin", 0), ("on_train_batch_end", 0),
             ("on_batch_end", 0), ("on_train_batch_begin", 1), ("on_batch_begin", 1),
             ("on_train_batch_end", 1), ("on_batch_end", 1), ("on_test_begin",),
             ("on_test_batch_begin", 0), ("on_test_batch_end", 0), ("on_test_end",)]
    assert recorder.calls == [("on_train_begin",),
                              ("on_epoch_begin", 0), *epoch, ("on_epoch_end", 0),
                              ("on_epoch_begin", 1), *epoch, ("on_epoch_end", 1),
                              ("on_train_end",)]
    recorder.calls.clear()
    trainer.evaluate(batches[:1], callbacks=[recorder])
    trainer.predict(batches[:1], callbacks=[recorder])
    assert recorder.calls == [("on_test_begin",), ("on_test_batch_begin", 0),
                              ("on_test_batch_end", 0), ("on_test_end",),
                              ("on_predict_begin",), ("on_predict_batch_begin", 0),
                              ("on_predict_batch_end", 0), ("on_predict_end",)]
    assert recorder.trainer is trainer and recorder.model is trainer.model
    assert recorder.params == {}  # predict's; fit's were {"epochs": 2, "steps": 2, ...}


def test_logs_reach_callbacks_and_lambda_callback():
    seen = []
    callback = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, dict(logs))),
                              on_train_begin=lambda logs: seen.append("begin"))
    history = _fit(_trainer(metrics=["mae"]), 2, [callback], validation=True)
    assert seen[0] == "begin"
    assert [e for e, _ in seen[1:]] == [0, 1]
    assert seen[2][1] == {name: values[1] for name, values in history.history.items()}
    with pytest.raises(TypeError, match="'on_epoch_finish' is not a callback hook"):
        LambdaCallback(on_epoch_finish=print)


def test_running_metrics_are_computed_per_batch_only_when_asked():
    class Counting(metrics.MeanAbsoluteError):
        computed = 0

        def compute(self):
            Counting.computed += 1
            return super().compute()

    _fit(_trainer(metrics=[Counting()]), 1, [])
    assert Counting.computed == 1  # once for the epoch's logs
    Counting.computed = 0
    _fit(_trainer(metrics=[Counting()]), 1, [LambdaCallback(on_batch_end=lambda s, l: None)])
    assert Counting.computed == 4 + 1  # each of the 4 batches, then the epoch


# ---- EarlyStopping ------------------------------------------------------------------------

@pytest.mark.parametrize("scores, options, stopped", [
    # Keras' rule: the wait counts every watched epoch and resets on an improvement.
    ([1.0, 0.9, 0.95, 0.96, 0.97, 0.5], {"patience": 2}, 3),
    ([1.0, 0.9, 0.95, 0.96, 0.97, 0.5], {"patience": 4}, None),
    ([1.0, 0.95, 0.9, 0.85, 0.8, 0.8], {"patience": 1, "min_delta": 0.1}, 1),
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], {"patience": 0}, 1),  # never at the first epoch
    # With a baseline not beaten, improvements no longer reset the wait.
    ([0.9, 0.9, 0.9, 0.9, 0.9, 0.9], {"patience": 3, "baseline": 0.5}, 2),
    ([0.9, 0.9, 0.9, 0.9, 0.9, 0.9], {"patience": 3}, 3),
    ([3.0, 2.0, 1.0, 1.0, 1.0, 1.0], {"patience": 1, "start_from_epoch": 3}, 4),
    # 'max' from the name: accuracy should grow.
    ([0.5, 0.6, 0.6, 0.55, 0.7, 0.8], {"patience": 2, "monitor": "val_accuracy"}, 3),
])
def test_early_stopping_stops_when_keras_does(scores, options, stopped):
    monitor = options.pop("monitor", "val_loss")
    stopper = EarlyStopping(monitor=monitor, **options)
    history = _fit(_trainer(), 6, [_scripted(**{monitor: scores}), stopper])
    expected_epochs = 6 if stopped is None else stopped + 1
    assert len(history.epoch) == expected_epochs
    assert stopper.stopped_epoch == (stopped or 0)


def test_early_stopping_restores_the_best_weights():
    kept = []
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: kept.append(weights(trainer.model)))
    trainer = _trainer()
    stopper = EarlyStopping(patience=2, restore_best_weights=True, verbose=1)
    history = _fit(trainer, 10, [record, _scripted(val_loss=[3, 1, 2, 2, 2, 0, 0, 0, 0, 0]),
                                 stopper])
    assert len(history.epoch) == 4 and stopper.best_epoch == 1
    assert not np.array_equal(kept[-1]["weight"], kept[1]["weight"])
    assert_same_weights(trainer.model, kept[1])


def test_early_stopping_mode_max_and_missing_monitor_warns():
    stopper = EarlyStopping(monitor="score", mode="max", patience=1)
    history = _fit(_trainer(), 5, [_scripted(score=[1, 2, 1, 1, 1]), stopper])
    assert len(history.epoch) == 3
    with pytest.warns(UserWarning, match="'val_loss', which is not in the logs"):
        _fit(_trainer(), 1, [EarlyStopping()])
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="lower")


# ---- ModelCheckpoint ---------------------------------------------------------------------

def test_model_checkpoint_writes_loadable_files(tmp_path):
    kept = []
    trainer = _trainer()
    record = LambdaCallback(on_epoch_end=lambda epoch, logs: kept.append(weights(trainer.model)))
    checkpoint = ModelCheckpoint(tmp_path, filename="epoch{epoch:02d}-{val_loss:.3f}")
    history = _fit(trainer, 3, [checkpoint, record], validation=True)
    names = [f"epoch{e + 1:02d}-{v:.3f}.safetensors"
             for e, v in enumerate(history.history["val_loss"])]
    assert sorted(os.listdir(tmp_path)) == sorted(names + ["last.safetensors"])  # no .tmp
    for epoch, name in enumerate(names):
        state = ember.load(tmp_path / name)
        model = nn.Linear(3, 1)
        model.load_state_dict(state["model"])
        assert_same_weights(model, kept[epoch])
        assert state["epoch"] == epoch + 1 and state["step"] == 4 * (epoch + 1)
    assert ember.load(tmp_path / "last.safetensors")["epoch"] == 3
    assert checkpoint.last_model_path == str(tmp_path / "last.safetensors")


def test_model_checkpoint_save_best_only_and_every_n_epochs(tmp_path):
    best = ModelCheckpoint(tmp_path / "best", filename="best-{epoch}", save_best_only=True,
                           save_last=False)
    _fit(_trainer(), 5, [_scripted(val_loss=[3, 2, 2.5, 1, 1.5]), best])
    assert sorted(os.listdir(tmp_path / "best")) == ["best-1.safetensors", "best-2.safetensors",
                                                     "best-4.safetensors"]
    assert best.best == 1 and best.best_model_path == str(tmp_path / "best" /
                                                          "best-4.safetensors")
    every = ModelCheckpoint(tmp_path / "every", every_n_epochs=2)
    _fit(_trainer(), 5, [every])
    assert sorted(os.listdir(tmp_path / "every")) == ["epoch02.safetensors",
                                                      "epoch04.safetensors", "last.safetensors"]


def test_model_checkpoint_saves_after_the_other_callbacks(tmp_path):
    # Listed first, it still runs last: the saved lr is the one after this epoch's step.
    trainer = _trainer(lr=1.0)
    schedule = ember.optim.lr_scheduler.StepLR(trainer.optimizer, step_size=1, gamma=0.5)
    _fit(trainer, 2, [ModelCheckpoint(tmp_path), LearningRateScheduler(schedule)])
    state = ember.load(tmp_path / "epoch01.safetensors")
    assert state["optimizer"]["param_groups"][0]["lr"] == 0.5
    assert state["callbacks"]["LearningRateScheduler"]["scheduler"]["last_epoch"] == 1


def test_model_checkpoint_names_a_missing_key(tmp_path):
    with pytest.raises(KeyError, match="names 'val_acc', which is not in the logs"):
        _fit(_trainer(), 1, [ModelCheckpoint(tmp_path, filename="{val_acc}")])


# ---- learning rates ----------------------------------------------------------------------

def _lrs_per_batch():
    seen = []
    return seen, LambdaCallback(on_train_batch_begin=lambda step, logs: seen.append(
        float(trainer_of[0].optimizer.param_groups[0]["lr"])))


trainer_of = [None]


def test_learning_rate_scheduler_with_a_function():
    trainer_of[0] = trainer = _trainer(lr=0.1)
    seen, record = _lrs_per_batch()
    history = _fit(trainer, 3, [LearningRateScheduler(lambda epoch, lr: 0.1 * 0.5 ** epoch),
                                record])
    assert history.history["learning_rate"] == [0.1, 0.05, 0.025]
    assert seen == [0.1] * 4 + [0.05] * 4 + [0.025] * 4


def _torch_lrs(make_scheduler, epochs, steps, per_batch):
    """The lr of every batch when PyTorch's scheduler is stepped the same way."""
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    scheduler = make_scheduler(torch.optim, optimizer)
    lrs = []
    for _ in range(epochs):
        for _ in range(steps):
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if per_batch:
                scheduler.step()
        if not per_batch:
            scheduler.step()
    return lrs


@pytest.mark.parametrize("make_scheduler, per_batch", [
    (lambda optim, opt: optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1), False),
    (lambda optim, opt: optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3), False),
    (lambda optim, opt: optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=16), True),
])
def test_learning_rate_scheduler_steps_as_pytorch_loops_do(make_scheduler, per_batch):
    trainer_of[0] = trainer = _trainer(lr=0.1)
    seen, record = _lrs_per_batch()
    scheduler = make_scheduler(ember.optim, trainer.optimizer)
    _fit(trainer, 4, [LearningRateScheduler(scheduler, step_per_batch=per_batch), record])
    np.testing.assert_allclose(seen, _torch_lrs(make_scheduler, 4, 4, per_batch), rtol=1e-12)


def test_trainer_scheduler_is_a_learning_rate_scheduler():
    trainer = _trainer(lr=1.0)
    trainer.scheduler = ember.optim.lr_scheduler.ExponentialLR(trainer.optimizer, gamma=0.5)
    history = _fit(trainer, 3, [])
    assert history.history["learning_rate"] == [1.0, 0.5, 0.25]


def test_plateau_scheduler_object_is_stepped_with_the_monitored_value():
    trainer = _trainer(lr=1.0)
    scheduler = ember.optim.lr_scheduler.ReduceLROnPlateau(trainer.optimizer, patience=0)
    history = _fit(trainer, 4, [_scripted(val_loss=[2, 1, 1, 1]),
                                LearningRateScheduler(scheduler)])
    # The lr each epoch trained with: cut after epochs 2 and 3.
    assert history.history["learning_rate"] == [1.0, 1.0, 1.0, 0.1]


def test_reduce_lr_on_plateau_cuts_when_pytorch_does():
    scores = [1.0, 0.9, 0.95, 0.9, 0.92, 0.93, 0.5, 0.6, 0.7, 0.8]
    trainer = _trainer(lr=1.0)
    callback = ReduceLROnPlateau(patience=1, factor=0.5, cooldown=1, min_delta=0.01)
    history = _fit(trainer, len(scores), [_scripted(val_loss=scores), callback])
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    reference = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, patience=1, factor=0.5, cooldown=1, threshold=0.01, threshold_mode="abs")
    expected = []
    for score in scores:
        reference.step(score)
        expected.append(optimizer.param_groups[0]["lr"])
    assert history.history["learning_rate"] == expected
    assert expected[-1] < 1.0  # it did cut


# ---- CSVLogger, TerminateOnNaN -----------------------------------------------------------

def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    history = _fit(_trainer(metrics=["mae"]), 2, [CSVLogger(path, separator=";")],
                   validation=True)
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    assert rows[0] == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [int(r[0]) for r in rows[1:]] == [0, 1]
    for i, name in enumerate(rows[0][1:], start=1):
        assert [float(r[i]) for r in rows[1:]] == history.history[name]
    _fit(_trainer(metrics=["mae"]), 1, [CSVLogger(path, separator=";", append=True)],
         validation=True)
    with open(path, newline="") as f:
        assert len(list(csv.reader(f, delimiter=";"))) == 4  # one header, three rows
    _fit(_trainer(metrics=["mae"]), 1, [CSVLogger(path, separator=";")], validation=True)
    with open(path, newline="") as f:
        assert len(list(csv.reader(f, delimiter=";"))) == 2  # replaced


def test_terminate_on_nan_stops_at_the_bad_batch(capsys):
    calls = [0]

    def loss(output, target):
        calls[0] += 1
        value = F.mse_loss(output, target)
        return value * math.nan if calls[0] == 3 else value

    trainer = _trainer()
    trainer.loss_fn = loss
    stopper = TerminateOnNaN()
    history = _fit(trainer, 5, [stopper])
    assert stopper.stopped_step == (0, 2) and trainer.global_step == 3
    assert history.epoch == [0] and math.isnan(history.history["loss"][0])
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out


# ---- TensorBoard --------------------------------------------------------------------------

def _scalars(directory):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    reader = EventAccumulator(str(directory), size_guidance={"scalars": 0, "histograms": 0})
    reader.Reload()
    return reader


def test_tensorboard_writes_what_tensorboard_reads(tmp_path):
    trainer = _trainer(metrics=["mae"])
    board = TensorBoard(tmp_path, update_freq=2, histogram_freq=1)
    history = _fit(trainer, 3, [board], validation=True)
    train, validation = _scalars(tmp_path / "train"), _scalars(tmp_path / "validation")
    for name in ("loss", "mae"):
        events = train.Scalars(f"epoch_{name}")
        assert [e.step for e in events] == [0, 1, 2]
        np.testing.assert_allclose([e.value for e in events], history.history[name],
                                   rtol=1e-6)
        val_events = validation.Scalars(f"epoch_{name}")
        np.testing.assert_allclose([e.value for e in val_events],
                                   history.history[f"val_{name}"], rtol=1e-6)
    assert [e.step for e in train.Scalars("batch_loss")] == [2, 4, 6, 8, 10, 12]
    assert {"weight", "bias"} <= set(train.Tags()["histograms"])
    assert board._writers == {}  # closed at the end
