"""``Monitor``: which logged quantity a callback watches, and which way is better."""

import math
import warnings

__all__ = ["Monitor"]

# Names that improve upwards when the trainer has no metric of that name to ask.
_HIGHER_IS_BETTER = ("acc", "accuracy", "auc", "precision", "recall", "f1")


class Monitor:
    """Reads ``logs[monitor]`` and compares it with a reference value.

    Args:
        monitor: the key in the epoch logs (``'val_loss'``, ``'accuracy'``...).
        mode: ``'min'``, ``'max'`` or ``'auto'``: from the name (``'loss'`` is minimized),
            else from the trainer's metric of that name (``higher_is_better``), else
            from the name (accuracy, auc, precision, recall, f1 are maximized, anything
            else minimized; Keras raises for a name it cannot place).
        min_delta: how much better than the reference counts as better.
        owner: the callback's name, for messages.
    """

    def __init__(self, monitor, mode, min_delta, owner):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', not {mode!r}")
        self.monitor, self.mode, self.min_delta, self.owner = monitor, mode, abs(min_delta), \
            owner

    def resolve(self, trainer):
        """Fix ``'auto'`` to ``'min'`` or ``'max'`` (called once the trainer is known)."""
        if self.mode == "auto":
            self.mode = "max" if _higher_is_better(self.monitor, trainer) else "min"
        return self.mode

    @property
    def worst(self):
        return math.inf if self.resolve(None) == "min" else -math.inf

    def value(self, logs):
        """``logs[monitor]`` as a float, or None (with a warning) when it is missing."""
        logs = logs or {}
        if self.monitor not in logs:
            warnings.warn(f"{self.owner} watches '{self.monitor}', which is not in the logs; "
                          f"the logged names are {', '.join(logs) or 'none'}", stacklevel=3)
            return None
        return float(logs[self.monitor])

    def better(self, value, reference):
        """Whether ``value`` beats ``reference`` by more than ``min_delta`` (None: yes)."""
        if reference is None:
            return True
        if self.resolve(None) == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference


def _higher_is_better(monitor, trainer):
    name = monitor.removeprefix("val_")
    if name == "loss":
        return False
    for metric in getattr(trainer, "metric_objects", ()):
        if metric.name == name:
            return metric.higher_is_better
    return name in _HIGHER_IS_BETTER or name.startswith(("top_k", "f1"))
