"""LearningRateScheduler: drive the learning rate from a schedule function or from any
``ember.optim.lr_scheduler`` object."""

from ember.optim.lr_scheduler import ReduceLROnPlateau
from ember.train.callbacks.callback import Callback

__all__ = ["LearningRateScheduler"]


class LearningRateScheduler(Callback):
    """Set the learning rate each epoch (or each batch).

    With a function ``schedule(epoch, lr) -> new lr`` (Keras' form; 0-based epoch), the
    lr of every parameter group is set at the start of each epoch. With a scheduler
    object (``StepLR``, ``OneCycleLR``...), its ``step()`` is called after each epoch, or
    after each optimizer step when ``step_per_batch`` is True (as OneCycleLR and CyclicLR
    expect); a ``ReduceLROnPlateau`` is stepped with the epoch's ``monitor`` value. The
    lr the epoch trained with is logged as ``'learning_rate'``. ``Trainer(scheduler=s)``
    adds ``LearningRateScheduler(s)`` in front of the other callbacks.

    Args:
        schedule: a function ``(epoch, lr) -> lr`` or an lr scheduler over the trainer's
            optimizer.
        step_per_batch: step a scheduler object after every batch instead of every epoch.
        monitor: for ReduceLROnPlateau, the logged value to step with; None uses
            ``'val_loss'`` when the logs have it, else ``'loss'``.
        verbose: 1 prints the lr a schedule function sets.
    """

    def __init__(self, schedule, step_per_batch=False, monitor=None, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.step_per_batch = step_per_batch
        self.monitor = monitor
        self.verbose = verbose
        self._is_function = not hasattr(schedule, "state_dict")
        if self._is_function and step_per_batch:
            raise ValueError("LearningRateScheduler: step_per_batch applies to scheduler "
                             "objects; a schedule function is called once per epoch")
        self._lr = None

    def _groups(self):
        return self.trainer.optimizer.param_groups

    def on_epoch_begin(self, epoch, logs=None):
        if self._is_function:
            lr = float(self.schedule(epoch, float(self._groups()[0]["lr"])))
            for group in self._groups():
                group["lr"] = lr
            if self.verbose > 0:
                print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")
        self._lr = float(self._groups()[0]["lr"])

    def on_train_batch_begin(self, step, logs=None):
        if self.step_per_batch:
            self._lr = float(self._groups()[0]["lr"])

    def on_train_batch_end(self, step, logs=None):
        if self.step_per_batch:
            self.schedule.step()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._lr is not None:
            logs["learning_rate"] = self._lr
        if self._is_function or self.step_per_batch:
            return
        if isinstance(self.schedule, ReduceLROnPlateau):
            monitor = self.monitor or ("val_loss" if "val_loss" in (logs or {}) else "loss")
            self.schedule.step(logs[monitor])
        else:
            self.schedule.step()

    def state_dict(self):
        return {} if self._is_function else {"scheduler": self.schedule.state_dict()}

    def load_state_dict(self, state):
        if "scheduler" in state:
            self.schedule.load_state_dict(state["scheduler"])
