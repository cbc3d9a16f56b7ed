"""TerminateOnNaN: stop training as soon as the loss is NaN or infinite."""

import math

from ember.train.callbacks.callback import Callback

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stop training after the batch whose loss makes the epoch's running loss NaN or
    infinite (the epoch ends there; its logs and ``on_epoch_end`` still come).

    Attributes:
        stopped_step: the (epoch, step) of that batch, or None.
    """

    def __init__(self):
        super().__init__()
        self.stopped_step = None

    def on_train_batch_end(self, step, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {step}: Invalid loss, terminating training")
            self.stopped_step = (self.trainer.epoch, step)
            self.trainer.stop_training = True
