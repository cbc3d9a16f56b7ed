"""Learning-rate schedules with PyTorch's names, semantics and state dicts.

    >>> import ember
    >>> opt = ember.optim.SGD([ember.nn.Parameter(ember.zeros(1))], lr=1.0)
    >>> sched = StepLR(opt, step_size=2, gamma=0.5)
    >>> for epoch in range(4):
    ...     opt.step()
    ...     sched.step()
    >>> sched.get_last_lr()
    [0.25]

``scheduler.py`` holds the base class; the schedules are grouped by kind: factors
(``decay.py``), cosines (``cosine.py``), per-batch cycles (``cyclic.py``), combinations
(``composite.py``) and the metric-driven ``ReduceLROnPlateau`` (``plateau.py``).
"""

from ember.optim.lr_scheduler.composite import ChainedScheduler, SequentialLR
from ember.optim.lr_scheduler.cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from ember.optim.lr_scheduler.cyclic import CyclicLR, OneCycleLR
from ember.optim.lr_scheduler.decay import (
    ConstantLR, ExponentialLR, LambdaLR, LinearLR, MultiplicativeLR, MultiStepLR, PolynomialLR,
    StepLR,
)
from ember.optim.lr_scheduler.plateau import ReduceLROnPlateau
from ember.optim.lr_scheduler.scheduler import LRScheduler, _LRScheduler  # noqa: F401

__all__ = [
    "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
    "ExponentialLR", "SequentialLR", "CosineAnnealingLR", "ChainedScheduler",
    "ReduceLROnPlateau", "CyclicLR", "CosineAnnealingWarmRestarts", "OneCycleLR",
    "PolynomialLR", "LRScheduler",
]
