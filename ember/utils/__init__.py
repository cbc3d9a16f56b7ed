"""``ember.utils``: PyTorch's ``torch.utils`` paths for what ember keeps elsewhere
(``ember.utils.data`` is ``ember.data``)."""

from ember.utils import data

__all__ = ["data"]
