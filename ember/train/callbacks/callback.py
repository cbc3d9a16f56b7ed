"""``Callback``: hooks that the training loop calls at moments named like sentences, and
``CallbackList``, which calls them on every callback in order.

A callback reads ``self.trainer`` (and ``self.model``) and the ``logs`` dict it is given;
to stop training it sets ``self.trainer.stop_training = True``. Hooks receive 0-based
epoch and step indices, as in Keras.
"""

__all__ = ["Callback", "CallbackList"]

_BATCH_END_HOOKS = ("on_train_batch_end", "on_batch_end")


class Callback:
    """Base class of callbacks; every hook does nothing until a subclass overrides it.

    Hooks: ``on_train_begin/end(logs)``, ``on_epoch_begin/end(epoch, logs)``,
    ``on_train_batch_begin/end(step, logs)`` (by default they call the older names
    ``on_batch_begin/end``), ``on_test_begin/end(logs)``,
    ``on_test_batch_begin/end(step, logs)``, ``on_predict_begin/end(logs)``,
    ``on_predict_batch_begin/end(step, logs)``.

    A callback whose state must survive a resumed run (a counter, a best value, a
    schedule) gives ``state_dict()`` and ``load_state_dict(state)``; the training state
    that ``ModelCheckpoint`` saves holds them.

    Attributes:
        trainer: the ``Trainer`` running this callback (set by ``set_trainer``).
        params: what ``fit`` was asked: ``{"epochs": n, "steps": batches per epoch or
            None, "verbose": v}`` (set by ``set_params``).
        saves_training_state: True for callbacks that write the training state (they run
            after every other callback, so that what they save includes this epoch's
            changes: an lr step, early stopping's counters, the history).

    Example:
        >>> class Shout(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(f"epoch {epoch}: loss {logs['loss']:.2f}")
    """

    saves_training_state = False

    def __init__(self):
        self.trainer = None
        self.params = {}

    def set_trainer(self, trainer):
        self.trainer = trainer

    def set_params(self, params):
        self.params = params

    @property
    def model(self):
        return self.trainer.model if self.trainer is not None else None

    def state_dict(self):
        """The state a resumed run needs (plain values and tensors); ``{}`` if none."""
        return {}

    def load_state_dict(self, state):
        """Restore what ``state_dict`` returned."""

    def on_train_begin(self, logs=None):
        """Called once before the first epoch of ``fit``."""

    def on_train_end(self, logs=None):
        """Called once after the last epoch of ``fit``, with the last epoch's logs."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of each epoch."""

    def on_epoch_end(self, epoch, logs=None):
        """Called after each epoch (and its validation) with the epoch's logs: ``'loss'``,
        each metric, and their ``'val_'`` forms when there is validation data."""

    def on_train_batch_begin(self, step, logs=None):
        self.on_batch_begin(step, logs)

    def on_train_batch_end(self, step, logs=None):
        """Called after each optimizer step with the epoch's running loss and metrics."""
        self.on_batch_end(step, logs)

    def on_batch_begin(self, step, logs=None):
        """The older name of ``on_train_batch_begin``."""

    def on_batch_end(self, step, logs=None):
        """The older name of ``on_train_batch_end``."""

    def on_test_begin(self, logs=None):
        """Called before ``evaluate`` (and before the validation of each epoch)."""

    def on_test_end(self, logs=None):
        """Called after ``evaluate`` with its results (unprefixed names)."""

    def on_test_batch_begin(self, step, logs=None):
        pass

    def on_test_batch_end(self, step, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, step, logs=None):
        pass

    def on_predict_batch_end(self, step, logs=None):
        pass


class CallbackList:
    """Calls each hook on every callback: first those that do not save the training
    state, in the order given, then those that do."""

    def __init__(self, callbacks, trainer, params=None):
        callbacks = list(callbacks)
        self.callbacks = ([c for c in callbacks if not c.saves_training_state]
                          + [c for c in callbacks if c.saves_training_state])
        for callback in self.callbacks:
            callback.set_trainer(trainer)
            callback.set_params(params or {})

    @property
    def wants_batch_logs(self):
        """Whether any callback overrides a train-batch-end hook (else the loop skips
        computing running metrics after every batch)."""
        return any(name in vars(c) or getattr(type(c), name) is not getattr(Callback, name)
                   for c in self.callbacks for name in _BATCH_END_HOOKS)

    def __iter__(self):
        return iter(self.callbacks)

    def __getattr__(self, hook):
        if not (hook.startswith("on_") and hasattr(Callback, hook)):
            raise AttributeError(f"'CallbackList' object has no attribute '{hook}'")
        arity = 2 if "epoch" in hook or "batch" in hook else 1  # (index, logs) or (logs,)

        def call(*args):
            # Every hook gets its logs as a dict, positionally, so that functions given
            # to LambdaCallback may name the parameter as they like.
            args = [*args, *[None] * (arity - len(args))]
            args[-1] = {} if args[-1] is None else args[-1]
            for callback in self.callbacks:
                getattr(callback, hook)(*args)
        return call
