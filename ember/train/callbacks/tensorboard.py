"""TensorBoard: write the logs as TensorBoard scalars, through
``ember.utils.tensorboard.SummaryWriter``."""

import os

from ember.train.callbacks.callback import Callback

__all__ = ["TensorBoard"]


class TensorBoard(Callback):
    """Log each epoch's values to TensorBoard event files, as Keras lays them out.

    Training values go to ``log_dir/train`` and validation values to
    ``log_dir/validation``, both under the tag ``epoch_<name>`` (``val_loss`` becomes
    ``epoch_loss`` in the validation run), so TensorBoard draws the two curves of a
    quantity in one chart; the step is the (0-based) epoch, as in Keras. ``update_freq=n`` also writes
    the running training values every n batches as ``batch_<name>`` (step: the global
    batch count), and ``histogram_freq=n`` the histogram of every parameter every n
    epochs. Open the result with ``tensorboard --logdir <log_dir>``.

    Needs the ``tensorboard`` extra (``pip install ember[tensorboard]``) for the writer;
    it is imported when training begins.

    Args:
        log_dir: the directory of the runs.
        update_freq: ``'epoch'``, or write batch values every this many batches.
        histogram_freq: write parameter histograms every this many epochs (0: never).
    """

    def __init__(self, log_dir="logs", update_freq="epoch", histogram_freq=0):
        super().__init__()
        if update_freq != "epoch" and not (isinstance(update_freq, int) and update_freq > 0):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch' or a positive int, "
                             f"not {update_freq!r}")
        self.log_dir = log_dir
        self.update_freq = update_freq
        self.histogram_freq = histogram_freq
        self._writers = {}

    def _writer(self, run):
        if run not in self._writers:
            from ember.utils.tensorboard import SummaryWriter

            self._writers[run] = SummaryWriter(os.path.join(self.log_dir, run))
        return self._writers[run]

    def on_train_begin(self, logs=None):
        self._writer("train")

    def on_train_batch_end(self, step, logs=None):
        if self.update_freq == "epoch" or self.trainer.global_step % self.update_freq:
            return
        writer = self._writer("train")
        for name, value in (logs or {}).items():
            writer.add_scalar(f"batch_{name}", float(value), self.trainer.global_step)

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            run = "validation" if name.startswith("val_") else "train"
            tag = "epoch_" + name.removeprefix("val_")
            self._writer(run).add_scalar(tag, float(value), epoch)
        if self.histogram_freq and (epoch + 1) % self.histogram_freq == 0:
            writer = self._writer("train")
            for name, param in self.model.named_parameters():
                writer.add_histogram(name, param.detach(), epoch)
        for writer in self._writers.values():
            writer.flush()

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}
