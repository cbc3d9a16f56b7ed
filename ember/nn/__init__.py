"""Neural-network building blocks: Module, Parameter, containers, layers, ``init`` and
``functional``."""

from ember.nn import functional, init, modules, utils
from ember.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from ember.nn.module import Module
from ember.nn.modules import *  # noqa: F403 - every layer, listed in modules.__all__
from ember.nn.parameter import Buffer, Parameter

__all__ = [
    "Buffer",
    "Module",
    "ModuleDict",
    "ModuleList",
    "Parameter",
    "ParameterDict",
    "ParameterList",
    "Sequential",
    "functional",
    "init",
]
__all__ += modules.__all__
