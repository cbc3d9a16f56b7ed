"""Graph passes: plain functions from a ``Graph`` to a new ``Graph``.

Each returns a new graph and leaves its argument untouched, so passes compose and a
graph can be compared before and after:

- ``eliminate_dead_code``: drop nodes nothing depends on;
- ``eliminate_common_subexpressions``: compute each repeated expression once;
- ``fold_constants``: precompute calls whose inputs are all constants;
- ``fuse_elementwise``: chains of elementwise ops become one ``FusedElementwise`` node;
- ``plan_memory``: where buffers die and which ops may write into a dead input;
- ``optimize``: all of them in order (what the compiled executor runs).
"""

from ember.jit.passes._fused import FusedElementwise
from ember.jit.passes.common_subexpressions import eliminate_common_subexpressions
from ember.jit.passes.constant_folding import fold_constants
from ember.jit.passes.dead_code import eliminate_dead_code
from ember.jit.passes.fusion import fuse_elementwise
from ember.jit.passes.memory import PlannedGraph, plan_memory
from ember.jit.passes.pipeline import optimize

__all__ = ["eliminate_dead_code", "eliminate_common_subexpressions", "fold_constants",
           "fuse_elementwise", "plan_memory", "optimize", "PlannedGraph", "FusedElementwise"]
