"""ModelCheckpoint: save the whole training state at the end of epochs."""

import os

from ember.serialization import save
from ember.train.callbacks.callback import Callback
from ember.train.callbacks.monitor import Monitor

__all__ = ["ModelCheckpoint"]

SUFFIX = ".safetensors"


class ModelCheckpoint(Callback):
    """Write training-state checkpoints (model, optimizer, schedules, epoch, step, every
    random state; see ``ember.train.checkpoint``) that ``fit(resume_from=path)`` resumes
    from exactly and whose ``"model"`` entry is the model's state dict.

    Each file is written atomically by ``ember.save`` (a crash leaves the previous one
    whole). ModelCheckpoint runs after the other callbacks of the epoch, so the state it
    saves includes their changes (an lr step, early stopping's counters).

    Args:
        dirpath: the directory of the checkpoints (created if missing).
        filename: a ``str.format`` template of the file name, given ``epoch`` (1-based)
            and the epoch's logs, e.g. ``'epoch{epoch:02d}-{val_loss:.3f}'``;
            ``.safetensors`` is appended.
        monitor: the logged quantity that decides what is best.
        mode: ``'min'``, ``'max'`` or ``'auto'`` (from the name).
        save_best_only: write the templated file only when ``monitor`` improves on the
            best value so far.
        save_last: also write ``last.safetensors`` after every epoch: the file to resume
            from.
        every_n_epochs: write the templated file only every n-th epoch (0: never).
        verbose: 1 prints each file written.

    Attributes:
        best: the best value of ``monitor`` so far; ``best_model_path`` its file.
        last_model_path: the last file written.
    """

    saves_training_state = True

    def __init__(self, dirpath, filename="epoch{epoch:02d}", monitor="val_loss", mode="auto",
                 save_best_only=False, save_last=True, every_n_epochs=1, verbose=0):
        super().__init__()
        self.dirpath = dirpath
        self.filename = filename
        self.monitor = monitor
        self.mode = mode
        self.save_best_only = save_best_only
        self.save_last = save_last
        self.every_n_epochs = every_n_epochs
        self.verbose = verbose
        self._monitor = Monitor(monitor, mode, 0, "ModelCheckpoint")
        self.best = None
        self.best_model_path = None
        self.last_model_path = None

    def on_train_begin(self, logs=None):
        self._monitor.resolve(self.trainer)
        os.makedirs(self.dirpath, exist_ok=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        state = None
        if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
            state = self._save_templated(epoch, logs)
        if self.save_last:
            self._write(state, os.path.join(self.dirpath, "last" + SUFFIX))

    def _save_templated(self, epoch, logs):
        """Write the epoch's file if it is due; returns the state written, or None."""
        if self.save_best_only:
            current = self._monitor.value(logs)
            if current is None or not self._monitor.better(current, self.best):
                return None
            self.best = current
        path = os.path.join(self.dirpath, self._format(epoch, logs) + SUFFIX)
        if self.save_best_only:
            self.best_model_path = path
        return self._write(None, path)

    def _format(self, epoch, logs):
        try:
            return self.filename.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: filename {self.filename!r} names {e}, which is "
                           f"not in the logs ({', '.join(logs)}) nor 'epoch'") from None

    def _write(self, state, path):
        state = state if state is not None else self.trainer.training_state()
        save(state, path)
        self.last_model_path = path
        if self.verbose > 0:
            print(f"ModelCheckpoint: saved {path}")
        return state

    def state_dict(self):
        return {"best": self.best, "best_model_path": self.best_model_path}

    def load_state_dict(self, state):
        self.best, self.best_model_path = state["best"], state["best_model_path"]
