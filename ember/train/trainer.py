"""``Trainer``: Keras' ``fit``/``evaluate``/``predict`` for an ember model, as a short loop
plus callbacks."""

import contextlib
import os

from ember.autograd.grad_mode import no_grad
from ember.nn import functional as F
from ember.ops.join import cat
from ember.train import checkpoint
from ember.train import metrics as metrics_lib
from ember.train.callbacks.callback import CallbackList
from ember.train.callbacks.lr_scheduler import LearningRateScheduler
from ember.train.callbacks.progress import ProgressBar
from ember.train.history import History

__all__ = ["Trainer"]


class Trainer:
    """Train, evaluate and run a model over batches of ``(inputs, targets)``.

    One training step is exactly the hand-written one: ``optimizer.zero_grad()``,
    ``output = model(x)``, ``loss = loss_fn(output, y)``, ``loss.backward()``,
    ``optimizer.step()``; everything else (schedules, checkpoints, early stopping,
    progress, logging) is a callback. ``x`` may be a tensor, a tuple/list of tensors
    (``model(*x)``) or a dict (``model(**x)``).

    Args:
        model: the ``ember.nn.Module`` to train.
        optimizer: an ``ember.optim`` optimizer over the model's parameters.
        loss: a function ``loss(output, target)`` (``F.cross_entropy``, an
            ``nn.CrossEntropyLoss()``...) or the name of one in ``ember.nn.functional``,
            with or without its ``_loss`` suffix: ``'cross_entropy'``, ``'mse'``,
            ``'l1'``, ``'nll'``, ``'binary_cross_entropy_with_logits'``...
        metrics: metric names or ``ember.train.metrics.Metric`` objects (see there).
        scheduler: an ``ember.optim.lr_scheduler`` scheduler stepped after each epoch
            (the same as ``callbacks=[LearningRateScheduler(scheduler)]``).

    Attributes:
        stop_training: set it to True (from a callback) to end ``fit`` after the
            current batch's epoch.
        epoch: the (0-based) epoch running or last run; ``global_step`` the number of
            optimizer steps taken.

    Example:
        >>> import ember
        >>> from ember.data import DataLoader, TensorDataset
        >>> _ = ember.manual_seed(0)
        >>> x = ember.randn(64, 4); y = (x.sum(1) > 0).long()
        >>> model = ember.nn.Linear(4, 2)
        >>> trainer = Trainer(model, ember.optim.SGD(model.parameters(), lr=0.5),
        ...                   "cross_entropy", metrics=["accuracy"])
        >>> history = trainer.fit(DataLoader(TensorDataset(x, y), batch_size=16), epochs=3,
        ...                       verbose=0)
        >>> sorted(history.history)
        ['accuracy', 'loss']
    """

    def __init__(self, model, optimizer, loss, metrics=(), scheduler=None):
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self.metrics = metrics
        self.scheduler = scheduler
        self.loss_fn = _loss_function(loss)
        self.metric_objects = [metrics_lib.get(m) for m in metrics]
        self.stop_training = False
        self.epoch = 0
        self.global_step = 0
        self._fit_run = None
        self._at_epoch_end = False

    # ---- fit ----------------------------------------------------------------------------

    def fit(self, train_data, validation_data=None, epochs=1, callbacks=None, verbose=1,
            resume_from=None):
        """Train for ``epochs`` epochs; returns the ``History``.

        Args:
            train_data: an ``ember.data.DataLoader`` or any re-iterable of
                ``(inputs, targets)`` batches.
            validation_data: the same for validation after each epoch, or None.
            epochs: the epoch to stop at (a resumed run counts the epochs it resumes).
            callbacks: ``ember.train.callbacks`` objects.
            verbose: 0 silent, 1 a progress bar per epoch (only when standard output is
                a terminal), 2 one line per epoch.
            resume_from: a training-state checkpoint (``ModelCheckpoint`` writes them;
                a directory means its ``last.safetensors``): restores the model, the
                optimizer, the callbacks' states, the history and every random state,
                then continues with the next epoch, so that the result is bit for bit
                that of a run never interrupted. The data and callbacks given must be
                built as in the first run.

        Returns:
            History: ``history.history[name]`` per epoch.
        """
        history = History()
        callbacks = self._callbacks(callbacks, history, verbose, epochs, train_data)
        self._fit_run = (callbacks, train_data, validation_data)
        self.stop_training = False
        callbacks.on_train_begin()
        start = 0
        if resume_from is not None:
            state = checkpoint.load_training_state(_resume_path(resume_from))
            start = checkpoint.restore(state, self, callbacks, train_data, validation_data)
        logs = {}
        for epoch in range(start, epochs):
            self.epoch, self._at_epoch_end = epoch, False
            callbacks.on_epoch_begin(epoch)
            logs = self._train_epoch(train_data, callbacks)
            if validation_data is not None:
                val_logs = self._test_loop(validation_data, callbacks)
                logs.update({f"val_{name}": value for name, value in val_logs.items()})
            self._at_epoch_end = True
            callbacks.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        callbacks.on_train_end(logs)
        return history

    def _callbacks(self, callbacks, history, verbose, epochs, train_data):
        """The scheduler's callback, the user's, the history, then the progress bar."""
        scheduler = [LearningRateScheduler(self.scheduler)] if self.scheduler is not None else []
        progress = [ProgressBar(verbose)] if verbose else []
        params = {"epochs": epochs, "steps": _length(train_data), "verbose": verbose}
        return CallbackList([*scheduler, *(callbacks or []), history, *progress], self, params)

    def _train_epoch(self, data, callbacks):
        self.model.train()
        tracked = self._reset_tracking()
        batch_logs = callbacks.wants_batch_logs
        for step, batch in enumerate(data):
            callbacks.on_train_batch_begin(step)
            x, y = _split(batch, "fit")
            output, loss = self.train_step(x, y)
            self.global_step += 1
            self._track(tracked, output, y, loss)
            callbacks.on_train_batch_end(step, _logs(tracked) if batch_logs else {})
            if self.stop_training:
                break
        return _logs(tracked)

    def train_step(self, x, y):
        """One optimizer step on one batch; returns the detached output and loss."""
        self.optimizer.zero_grad()
        output = _call(self.model, x)
        loss = self.loss_fn(output, y)
        loss.backward()
        self.optimizer.step()
        return _detach(output), loss.detach()

    def training_state(self):
        """The training state at the end of the current epoch (see
        ``ember.train.checkpoint``), for ``on_epoch_end`` or ``on_train_end``.

        Raises:
            RuntimeError: called before an epoch ended (in a batch hook, say): ember
                resumes at epoch boundaries only.
        """
        if self._fit_run is None or not self._at_epoch_end:
            raise RuntimeError("Trainer.training_state: the training state is captured at "
                               "the end of an epoch (on_epoch_end, on_train_end); ember "
                               "resumes training at epoch boundaries only")
        return checkpoint.capture(self, *self._fit_run)

    # ---- evaluate and predict ---------------------------------------------------------

    def evaluate(self, data, callbacks=None):
        """The loss and metrics over ``data`` (batches of ``(inputs, targets)``), in eval
        mode and without gradients: ``{'loss': ..., 'accuracy': ...}``. The loss is the
        batch-size-weighted mean of the batch losses."""
        callbacks = CallbackList(callbacks or [], self)
        return self._test_loop(data, callbacks)

    def _test_loop(self, data, callbacks):
        tracked = self._reset_tracking()
        callbacks.on_test_begin()
        with _eval_mode(self.model), no_grad():
            for step, batch in enumerate(data):
                callbacks.on_test_batch_begin(step)
                x, y = _split(batch, "evaluate")
                output = _call(self.model, x)
                self._track(tracked, output, y, self.loss_fn(output, y))
                callbacks.on_test_batch_end(step, {})
        logs = _logs(tracked)
        callbacks.on_test_end(logs)
        return logs

    def predict(self, data, callbacks=None):
        """The model's outputs over ``data``, concatenated along the batch dimension.

        Batches may be inputs alone or ``(inputs, targets)`` tuples/lists (the targets
        are ignored). Runs in eval mode without gradients. A model returning a tuple of
        tensors gives a tuple of concatenations.
        """
        callbacks = CallbackList(callbacks or [], self)
        outputs = []
        callbacks.on_predict_begin()
        with _eval_mode(self.model), no_grad():
            for step, batch in enumerate(data):
                callbacks.on_predict_batch_begin(step)
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                outputs.append(_call(self.model, x))
                callbacks.on_predict_batch_end(step, {"outputs": outputs[-1]})
        callbacks.on_predict_end()
        if outputs and isinstance(outputs[0], tuple):
            return tuple(cat(list(parts)) for parts in zip(*outputs))
        return cat(outputs) if outputs else None

    # ---- running loss and metrics -----------------------------------------------------

    def _reset_tracking(self):
        loss = metrics_lib.Mean(name="loss")
        for metric in self.metric_objects:
            metric.reset()
        return [loss, *self.metric_objects]

    @staticmethod
    def _track(tracked, output, y, loss):
        tracked[0].update(loss.item(), weight=_batch_size(y))
        for metric in tracked[1:]:
            metric.update(output, y)


def _logs(tracked):
    return {metric.name: metric.compute() for metric in tracked}


def _loss_function(loss):
    if callable(loss):
        return loss
    if isinstance(loss, str):
        for name in (loss, loss + "_loss"):
            if name.endswith(("_loss", "entropy", "entropy_with_logits", "kl_div")) \
                    and callable(getattr(F, name, None)):
                return getattr(F, name)
        raise ValueError(f"Trainer: unknown loss {loss!r}; give a function or the name of a "
                         f"loss in ember.nn.functional ('cross_entropy', 'mse', 'l1', "
                         f"'nll', 'binary_cross_entropy', ...)")
    raise TypeError(f"Trainer: loss must be a function or a name, not {type(loss).__name__}")


def _split(batch, where):
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch
    kind = f"a {type(batch).__name__} of {len(batch)}" if isinstance(batch, (tuple, list)) \
        else f"a {type(batch).__name__}"
    raise ValueError(f"Trainer.{where}: each batch must be a pair (inputs, targets); got {kind}")


def _detach(output):
    if isinstance(output, tuple):
        return tuple(_detach(o) for o in output)
    return output.detach() if hasattr(output, "detach") else output


def _call(model, x):
    if isinstance(x, dict):
        return model(**x)
    if isinstance(x, (tuple, list)):
        return model(*x)
    return model(x)


def _batch_size(y):
    shape = getattr(y, "shape", None)
    return shape[0] if shape else len(y)


def _length(data):
    try:
        return len(data)
    except TypeError:
        return None


def _resume_path(path):
    return os.path.join(path, "last.safetensors") if os.path.isdir(path) else path


@contextlib.contextmanager
def _eval_mode(model):
    """Eval mode inside the block, the model's previous mode after it."""
    training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(training)
