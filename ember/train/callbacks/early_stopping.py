"""EarlyStopping: stop training when a watched quantity has stopped improving."""

from ember.train.callbacks.callback import Callback
from ember.train.callbacks.monitor import Monitor

__all__ = ["EarlyStopping"]


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs (Keras' rule).

    Each epoch from ``start_from_epoch`` on counts one more epoch of waiting; an epoch
    whose value beats the best so far by more than ``min_delta`` becomes the best and
    resets the wait (if it also beats ``baseline``, when one is given). Training stops at
    the end of the first epoch (not the very first) after which ``patience`` epochs or
    more have passed without such an improvement.

    Args:
        monitor: the logged quantity to watch.
        min_delta: the smallest change that counts as an improvement.
        patience: the epochs without improvement to tolerate.
        verbose: 1 prints when training stops and when weights are restored.
        mode: ``'min'``, ``'max'`` or ``'auto'`` (from the name, see ``Monitor``).
        baseline: a value to beat; until an epoch beats it, the wait keeps counting.
        restore_best_weights: at the end of training, load the weights of the best epoch
            (the first watched epoch's if none improved).
        start_from_epoch: epochs of warm-up that are not watched.

    Attributes:
        stopped_epoch: the (0-based) epoch after which training stopped, or 0.
        best, best_epoch: the best value seen and its (0-based) epoch.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = min_delta
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._monitor = Monitor(monitor, mode, min_delta, "EarlyStopping")
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        self._reset()
        self._monitor.resolve(self.trainer)

    def on_epoch_end(self, epoch, logs=None):
        current = self._monitor.value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self._keep_weights(epoch)
        self.wait += 1
        if self._monitor.better(current, self.best):
            self.best = current
            if self.restore_best_weights:
                self._keep_weights(epoch)
            self.best_epoch = epoch
            if self.baseline is None or self._monitor.better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: "
                      f"{self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)

    def _keep_weights(self, epoch):
        self.best_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.best_epoch = epoch

    def state_dict(self):
        return {"wait": self.wait, "stopped_epoch": self.stopped_epoch, "best": self.best,
                "best_epoch": self.best_epoch, "best_weights": self.best_weights}

    def load_state_dict(self, state):
        for name in ("wait", "stopped_epoch", "best", "best_epoch"):
            setattr(self, name, state[name])
        weights = state["best_weights"]
        self.best_weights = None if weights is None else {k: v.clone()
                                                          for k, v in weights.items()}
