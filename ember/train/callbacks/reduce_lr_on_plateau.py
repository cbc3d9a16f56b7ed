"""ReduceLROnPlateau: cut the learning rate when a logged quantity stops improving."""

from ember.optim import lr_scheduler
from ember.train.callbacks.callback import Callback
from ember.train.callbacks.monitor import Monitor

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(Callback):
    """Multiply the lr by ``factor`` when ``monitor`` has not improved for a while.

    Delegates to ``ember.optim.lr_scheduler.ReduceLROnPlateau`` (made on the trainer's
    optimizer at the start of training, with ``threshold=min_delta`` in ``'abs'`` mode),
    so the counting is PyTorch's: the lr is cut after the epoch that makes more than
    ``patience`` epochs in a row without an improvement larger than ``min_delta``, then
    ``cooldown`` epochs pass before bad epochs count again. (Keras cuts after
    ``patience`` bad epochs: Keras' ``patience=p`` is ``patience=p - 1`` here.) The lr
    after the epoch is logged as ``'learning_rate'``.

    Args:
        monitor: the logged quantity to watch.
        factor: the factor of each cut (< 1).
        patience: the bad epochs to tolerate.
        verbose: 1 prints each cut.
        mode: ``'min'``, ``'max'`` or ``'auto'`` (from the name).
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs after a cut before bad epochs count again.
        min_lr: the lowest lr.

    Attributes:
        scheduler: the ``ember.optim.lr_scheduler.ReduceLROnPlateau`` doing the work.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_lr = min_lr
        self._monitor = Monitor(monitor, mode, min_delta, "ReduceLROnPlateau")
        self.scheduler = None

    def on_train_begin(self, logs=None):
        self.scheduler = lr_scheduler.ReduceLROnPlateau(
            self.trainer.optimizer, mode=self._monitor.resolve(self.trainer),
            factor=self.factor, patience=self.patience, threshold=self.min_delta,
            threshold_mode="abs", cooldown=self.cooldown, min_lr=self.min_lr)

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitor.value(logs)
        if current is not None:
            before = self.scheduler.get_last_lr()[0]
            self.scheduler.step(current)
            after = self.scheduler.get_last_lr()[0]
            if after < before and self.verbose > 0:
                print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                      f"{after}.")
        if logs is not None:
            logs["learning_rate"] = float(self.trainer.optimizer.param_groups[0]["lr"])

    def state_dict(self):
        return {"scheduler": self.scheduler.state_dict()} if self.scheduler else {}

    def load_state_dict(self, state):
        self.scheduler.load_state_dict(state["scheduler"])
