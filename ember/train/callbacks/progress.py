"""ProgressBar: a tqdm bar per epoch with the running loss and metrics, or one line per
epoch; ``fit(verbose=1 or 2)`` adds it."""

import sys
import time

from ember.train.callbacks.callback import Callback

__all__ = ["ProgressBar"]


class ProgressBar(Callback):
    """Show training progress on a stream (standard output by default).

    ``verbose=1``: a tqdm bar per epoch, its postfix the running loss and metrics, and
    the validation results once the epoch ends; nothing at all when the stream is not a
    terminal (a log file or a pipe gets no bar redrawn hundreds of times).
    ``verbose=2``: one line per epoch, terminal or not:
    ``Epoch 3/10 - 1.2s - loss: 0.3121 - accuracy: 0.9050 - val_loss: ...``.
    ``verbose=0``: nothing.

    Args:
        verbose: 0, 1 or 2.
        file: the stream to write to; None means ``sys.stdout`` as it is when training
            begins.
    """

    def __init__(self, verbose=1, file=None):
        super().__init__()
        if verbose not in (0, 1, 2):
            raise ValueError(f"ProgressBar: verbose must be 0, 1 or 2, not {verbose!r}")
        self.verbose = verbose
        self.file = file
        self._stream = self._bar = self._tqdm = None
        self._start = 0.0

    def on_train_begin(self, logs=None):
        self._stream = self.file if self.file is not None else sys.stdout
        self._tqdm = None
        if self.verbose == 1 and _is_terminal(self._stream):
            self._tqdm = _import_tqdm()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        if self._tqdm is not None:
            self._bar = self._tqdm(total=self.params.get("steps"), desc=self._title(epoch),
                                   file=self._stream, unit="batch", leave=True,
                                   dynamic_ncols=True)

    def on_train_batch_end(self, step, logs=None):
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs), refresh=False)
            self._bar.update(1)

    def on_epoch_end(self, epoch, logs=None):
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs), refresh=False)
            self._bar.close()
            self._bar = None
        elif self.verbose == 2:
            seconds = time.perf_counter() - self._start
            print(f"{self._title(epoch)} - {seconds:.1f}s - {format_logs(logs)}",
                  file=self._stream, flush=True)

    def on_train_end(self, logs=None):
        if self._bar is not None:  # training stopped inside an epoch
            self._bar.close()
            self._bar = None

    def _title(self, epoch):
        epochs = self.params.get("epochs")
        return f"Epoch {epoch + 1}/{epochs}" if epochs else f"Epoch {epoch + 1}"


def format_logs(logs):
    """``'loss: 0.3121 - accuracy: 0.9050'``: Keras' way of showing logs."""
    return " - ".join(f"{name}: {_number(value)}" for name, value in (logs or {}).items())


def _number(value):
    value = float(value)
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.4e}"


def _is_terminal(stream):
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def _import_tqdm():
    try:
        from tqdm import tqdm
    except ImportError:
        raise ImportError("ember.train's progress bar needs tqdm: pip install ember[train] "
                          "(or pass verbose=2 for one line per epoch, verbose=0 for none)") \
            from None
    return tqdm
