"""Graphs from eager code: capture (``trace``), the graph IR, passes and execution.

``trace`` runs a module or function once on example inputs and records its ops into a
``Graph`` (``graph.py``) that prints like Python; ``TracedModule`` runs it.
"""

from ember.jit.errors import GraphInputError, TraceError
from ember.jit.graph import Graph, Node, Value
from ember.jit.traced import TracedModule, trace

__all__ = ["trace", "TracedModule", "Graph", "Node", "Value", "TraceError", "GraphInputError"]

from ember.jit.compile import CompiledFunction, CompiledModule, compile

__all__ += ["compile", "CompiledModule", "CompiledFunction"]

from ember.jit.control_flow import cond, while_loop

__all__ += ["cond", "while_loop"]

from ember.jit.saved import SavedModelError, load, save

__all__ += ["SavedModelError", "load", "save"]
