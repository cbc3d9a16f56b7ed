"""``ember.utils.tensorboard``: PyTorch's ``SummaryWriter``, writing TensorBoard event files.

Needs the ``tensorboard`` package (``pip install ember[tensorboard]``) for its protocol
buffers; it is imported when the first writer is created, never by ``import ember``.
"""

from ember.utils.tensorboard.writer import FileWriter, SummaryWriter

__all__ = ["FileWriter", "SummaryWriter"]
