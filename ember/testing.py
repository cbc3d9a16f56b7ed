"""Tools for checking your own ops and Functions: numerical gradient checks."""

from ember.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]
