"""``ember.nn.functional``: the math of layers and losses, as functions (PyTorch's ``F``)."""

from ember.ops import FAMILIES as _FAMILIES

for _family in _FAMILIES:
    globals().update({_name: getattr(_family, _name) for _name in _family.FUNCTIONAL})
del _family
