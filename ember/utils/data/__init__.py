"""``ember.utils.data``: PyTorch's path to ``ember.data`` (``from ember.utils.data import
DataLoader``), including its submodules ``dataset``, ``sampler`` and ``dataloader``."""

import sys

from ember.data import *  # noqa: F403 - the re-export is this module's purpose
from ember.data import __all__  # noqa: F401
from ember.data import dataset, loader, sampler

# PyTorch code also imports from the submodules (``torch.utils.data.dataset``, ...).
for _name, _module in {"dataset": dataset, "sampler": sampler, "dataloader": loader}.items():
    sys.modules[f"{__name__}.{_name}"] = _module
del _name, _module, sys
