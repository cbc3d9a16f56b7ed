"""LambdaCallback: a callback made of functions given for some hooks."""

from ember.train.callbacks.callback import Callback

__all__ = ["LambdaCallback"]


class LambdaCallback(Callback):
    """Call the given functions at the hooks named by the keywords.

    The functions take the hook's arguments: ``on_epoch_end=lambda epoch, logs: ...``,
    ``on_train_begin=lambda logs: ...``, ``on_batch_end=lambda step, logs: ...``; any
    hook of ``Callback`` can be given.

    Example:
        >>> losses = []
        >>> keep = LambdaCallback(on_epoch_end=lambda epoch, logs: losses.append(logs["loss"]))
    """

    def __init__(self, **hooks):
        super().__init__()
        for name, fn in hooks.items():
            if not (name.startswith("on_") and hasattr(Callback, name)):
                raise TypeError(f"LambdaCallback: {name!r} is not a callback hook")
            if fn is not None:
                setattr(self, name, fn)
