"""Neural-network building blocks: Module, Parameter, containers and ``functional``."""

from ember.nn import functional
from ember.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from ember.nn.module import Module
from ember.nn.parameter import Buffer, Parameter

__all__ = ["functional", "Module", "Parameter", "Buffer", "Sequential", "ModuleList",
           "ModuleDict", "ParameterList", "ParameterDict"]
