"""Optimizers and learning-rate schedules with PyTorch's names, options and state dicts.

    >>> import ember
    >>> w = ember.nn.Parameter(ember.zeros(3))
    >>> opt = ember.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> sched = ember.optim.lr_scheduler.StepLR(opt, step_size=10)
"""

from ember.optim import lr_scheduler
from ember.optim.adadelta import Adadelta
from ember.optim.adagrad import Adagrad
from ember.optim.adam import Adam
from ember.optim.adamw import AdamW
from ember.optim.optimizer import Optimizer
from ember.optim.rmsprop import RMSprop
from ember.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "lr_scheduler"]
