"""CSVLogger: one row of logs per epoch in a CSV file."""

import csv
import os

from ember.train.callbacks.callback import Callback

__all__ = ["CSVLogger"]


class CSVLogger(Callback):
    """Write each epoch's logs as a CSV row: ``epoch`` (0-based, as Keras writes it),
    then the logged names in sorted order; the header is written once.

    The file is flushed after each row, so it can be read while training runs.

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: add rows to an existing file (without a second header) instead of
            replacing it; what a resumed run wants.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = filename
        self.separator = separator
        self.append = append
        self.keys = None
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        has_rows = self.append and os.path.exists(self.filename) \
            and os.path.getsize(self.filename) > 0
        if has_rows:
            with open(self.filename, newline="") as f:
                self.keys = next(csv.reader(f, delimiter=self.separator))[1:]
        else:
            self.keys = None
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *self.keys],
                                          delimiter=self.separator, extrasaction="ignore")
            if self._file.tell() == 0:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
        self._file = self._writer = None
