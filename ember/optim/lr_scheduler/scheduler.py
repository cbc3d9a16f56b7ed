"""``LRScheduler``: the base of every learning-rate schedule, with PyTorch's semantics.

A scheduler rewrites ``group['lr']`` of each of its optimizer's parameter groups when
``step()`` is called (once per epoch, or per batch for OneCycleLR). Most schedules are
*chainable*: ``get_lr`` scales the group's current lr rather than recomputing it from
``base_lrs``, so two schedulers on one optimizer compose, as in PyTorch. Construction
performs a first step (``last_epoch`` goes from -1 to 0) in "initial mode", which some
schedules use to leave the lr untouched.

The scheduler's ``state_dict`` is its ``__dict__`` without the optimizer, under
PyTorch's attribute names, so scheduler checkpoints move between the two frameworks.
"""

import warnings

import numpy as np

from ember._errors import type_error, value_error
from ember.optim.optimizer import Optimizer
from ember.tensor import Tensor

__all__ = ["LRScheduler", "_LRScheduler"]

EPOCH_DEPRECATION_WARNING = (
    "The epoch parameter in `scheduler.step()` was not necessary and is being deprecated "
    "where possible. Please use `scheduler.step()` to step the scheduler. During the "
    "deprecation, if epoch is different from None, the closed form is used instead of the "
    "new chainable form, where available."
)


class LRScheduler:
    """Base class of the learning-rate schedulers.

    Subclasses implement ``get_lr()`` (the next lr of every group, read after
    ``last_epoch`` was advanced) and, when a closed form exists, ``_get_closed_form_lr()``
    (used by the deprecated ``step(epoch)``).

    Args:
        optimizer: the optimizer whose learning rates this scheduler sets.
        last_epoch: the index of the last epoch; -1 starts a new schedule (and records
            each group's ``'initial_lr'``), other values resume one.
    """

    _get_lr_called_within_step = False
    _is_initial = False

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise type_error(type(self).__name__,
                             f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", _copy(group["lr"]))
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   "when resuming a scheduler with last_epoch >= 0; load the "
                                   "optimizer's state dict first")
        self.base_lrs = _group_values(optimizer, "initial_lr")
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        """Reset the step count and take the first step in initial mode."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def state_dict(self):
        """Every attribute except the optimizer (PyTorch's layout)."""
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore the attributes a ``state_dict()`` holds."""
        self.__dict__.update(state_dict)

    def get_last_lr(self):
        """The learning rate of each group as this scheduler last set it."""
        return self._last_lr

    def get_lr(self):
        """The next learning rate of each parameter group (called by ``step``)."""
        raise NotImplementedError

    def step(self, epoch=None):
        """Advance the schedule by one epoch and write the new lrs into the optimizer.

        Call it after ``optimizer.step()``. ``epoch`` (deprecated, as in PyTorch) jumps
        to that epoch using the closed form where the schedule has one.
        """
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`. You should "
                "call them in the opposite order: `optimizer.step()` before "
                "`lr_scheduler.step()`. Failure to do this will result in skipping the first "
                "value of the learning rate schedule.", UserWarning, stacklevel=2)
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATION_WARNING, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        self._get_lr_called_within_step = True
        try:
            if epoch is None:
                self.last_epoch += 1
                values = self.get_lr()
            else:
                self.last_epoch = epoch
                closed_form = getattr(self, "_get_closed_form_lr", None)
                values = closed_form() if closed_form is not None else self.get_lr()
        finally:
            self._get_lr_called_within_step = False
        for group, lr in zip(self.optimizer.param_groups, values):
            _set_group_value(group, "lr", lr)
        self._last_lr = _group_values(self.optimizer, "lr")


class _LRScheduler(LRScheduler):
    """The old name of ``LRScheduler``, kept because older code subclasses it."""


def _warn_if_called_outside_step(scheduler):
    if not scheduler._get_lr_called_within_step:
        warnings.warn("To get the last learning rate computed by the scheduler, please use "
                      "`get_last_lr()`.", UserWarning, stacklevel=3)


def _copy(value):
    return Tensor._make(np.array(value._data)) if isinstance(value, Tensor) else value


def _group_values(optimizer, key):
    """``[group[key] for each group]``, tensors copied so the list never aliases a group."""
    return [_copy(group[key]) for group in optimizer.param_groups]


def _set_group_value(group, key, value):
    """Set ``group[key]``; a tensor lr is filled in place, so whoever holds it sees the change."""
    if isinstance(group[key], Tensor):
        group[key]._data[...] = value._data if isinstance(value, Tensor) else value
    else:
        group[key] = value


def _per_group(name, optimizer, value):
    """One value per parameter group, from a single value or a list of them."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise value_error(name, f"{name} must have the same length as "
                              f"optimizer.param_groups. {name} has {len(value)} values, "
                              f"param_groups has {len(optimizer.param_groups)}.")
        return [_copy(v) for v in value]
    return [_copy(value)] * len(optimizer.param_groups)

