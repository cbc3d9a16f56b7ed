"""Schedulers made of schedulers: one after another (SequentialLR) or all at once (Chained)."""

from bisect import bisect_right

from ember._errors import type_error, value_error
from ember.optim.lr_scheduler.plateau import ReduceLROnPlateau
from ember.optim.lr_scheduler.scheduler import LRScheduler, _group_values, _set_group_value

__all__ = ["SequentialLR", "ChainedScheduler"]


class _Composite(LRScheduler):
    """State dicts that hold the state of every inner scheduler under ``'_schedulers'``."""

    def state_dict(self):
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        inner = state_dict.pop("_schedulers")
        self.__dict__.update(state_dict)
        for scheduler, saved in zip(self._schedulers, inner):
            scheduler.load_state_dict(saved)


class SequentialLR(_Composite):
    """Run ``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]``, and so on.

    Each scheduler starts from the initial lr when its turn comes.

    Args:
        optimizer: the optimizer all the schedulers act on.
        schedulers: the schedulers, in order.
        milestones: the epochs at which the next scheduler takes over
            (``len(schedulers) - 1`` of them).
        last_epoch: the index of the last epoch (-1 to start).

    Example:
        >>> import ember
        >>> from ember.optim.lr_scheduler import ExponentialLR, LinearLR
        >>> opt = ember.optim.SGD([ember.nn.Parameter(ember.zeros(1))], lr=1.0)
        >>> warmup = LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> decay = ExponentialLR(opt, gamma=0.5)
        >>> sched = SequentialLR(opt, [warmup, decay], milestones=[2])
        >>> lrs = []
        >>> for _ in range(4):
        ...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
        >>> lrs
        [0.75, 1.0, 0.5, 0.25]
    """

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        if len(schedulers) < 1:
            raise value_error("SequentialLR", "SequentialLR expects at least one scheduler, "
                              "but got no scheduler.")
        _check_schedulers("SequentialLR", optimizer, schedulers)
        if len(milestones) != len(schedulers) - 1:
            raise value_error("SequentialLR", "Sequential Schedulers expects number of "
                              "schedulers provided to be one more than the number of milestone "
                              f"points, but got number of schedulers {len(schedulers)} and the "
                              f"number of milestones to be equal to {len(milestones)}")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        # The inner schedulers each took a first step when built: undo them, then let only
        # the one that runs at epoch 0 take its first step.
        for group in optimizer.param_groups:
            _set_group_value(group, "lr", group["initial_lr"])
        self.recursive_undo()
        first = self._schedulers[bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def recursive_undo(self, sched=None):
        """Take back the first step of every (nested) scheduler's construction."""
        scheds = self if sched is None else sched
        if hasattr(scheds, "_schedulers"):
            for s in scheds._schedulers:
                self.recursive_undo(s)
        elif hasattr(scheds, "last_epoch"):
            scheds.last_epoch -= 1

    def step(self):
        """Advance by one epoch, handing over to the next scheduler at a milestone."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Composite):
    """Step every scheduler in the list at each ``step()``, so their effects multiply.

    Args:
        schedulers: chainable schedulers of one optimizer.
        optimizer: that optimizer (default: the first scheduler's).
    """

    def __init__(self, schedulers, optimizer=None):
        if len(schedulers) < 1:
            raise value_error("ChainedScheduler", "ChainedScheduler expects at least one "
                              "scheduler to be chained, but got no scheduler.")
        optimizer = optimizer or schedulers[0].optimizer
        _check_schedulers("ChainedScheduler", optimizer, schedulers)
        self._schedulers = schedulers
        self.optimizer = optimizer
        self._last_lr = _group_values(schedulers[-1].optimizer, "lr")

    def step(self):
        """Step each scheduler in turn."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _group_values(self._schedulers[-1].optimizer, "lr")


def _check_schedulers(kind, optimizer, schedulers):
    for i, scheduler in enumerate(schedulers):
        if not hasattr(scheduler, "optimizer"):
            raise type_error(kind, f"{kind} at index {i} should have `optimizer` as its "
                             "attribute.")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise value_error(kind, f"{kind} does not support `ReduceLROnPlateau` scheduler as "
                              "it requires additional kwargs to be specified when calling "
                              f"`step`, but got one at index {i} in the given schedulers "
                              "sequence.")
        if optimizer is not scheduler.optimizer:
            raise value_error(kind, f"{kind} expects all schedulers to belong to the same "
                              f"optimizer, but got scheduler {type(scheduler).__name__} at "
                              f"index {i} with a different optimizer.")
