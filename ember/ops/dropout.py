"""(being written)"""

__all__ = []
FUNCTIONAL = []
METHODS = {}
