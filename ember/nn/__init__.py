"""Neural-network building blocks. (Layers arrive with the modules issue.)"""

from ember.nn import functional

__all__ = ["functional"]
