"""Deferred gradients: an input's gradient handed on as factors, for the one node that can
use them without the whole array.

An LSTM layer fed by an embedding lookup (``ember/nn/modules/_lstm_seq.py``) makes the
gradient of its input ``x = E[index]`` as the product ``dG W_ih`` of every position's gates'
gradients ``dG (L N, 4H)`` with ``W_ih (4H, D)``, and the lookup's backward then adds those
rows into ``E``'s gradient by index. Summed per index first, the same gradient is ``T W_ih``
with ``T`` the gates' gradients summed per distinct row, which the layer makes anyway for
``W_ih``'s own gradient: on the ``lstm`` benchmark a (65 x 1,024) @ (1,024 x 64) product in
place of a (2,048 x 1,024) @ (1,024 x 64) one, a transpose and a scatter-add.

Nobody else may see ``x``'s gradient for that to hold, so a node returns a ``RowsGradient``
only when ``deferrable(x)`` says so (a backward with no graph to build, no profiler or
anomaly mode, no hook or ``retain_grad`` on ``x``, and the lookup's gradient unscaled), and
the engine hands it on only to a lookup node that nothing else fed yet; a second gradient
for the lookup, a node hook, or ``autograd.grad`` asking for ``x`` gets the whole gradient
(``materialize``), so results never depend on which path ran.
"""

import numpy as np

from ember.autograd.grad_mode import GradMode
from ember.autograd.node import Anomaly, Observers
from ember.tensor import Tensor

__all__ = ["RowsGradient", "deferrable"]


def deferrable(x):
    """True when ``x``'s gradient may be handed on as a ``RowsGradient`` (see the module
    docstring): ``x`` is a plain lookup's output that nothing else watches."""
    node = x.grad_fn
    if GradMode.enabled or Observers.active or Anomaly.enabled:
        return False
    takes = getattr(node, "takes_rows_gradient", None)
    return takes is not None and node._hooks is None and takes()


class RowsGradient:
    """The gradient of a lookup's output ``x (…, D)`` as ``table @ right`` rows by index.

    ``table (K, M)`` holds the upstream gradients summed per distinct row, ``rows (K,)`` the
    lookup index each of those rows came from, ``right (M, D)`` the factor they share, and
    ``materialize()`` makes ``x``'s whole gradient (a Tensor) for any other use.
    """

    __slots__ = ("make", "right", "rows", "table")

    def __init__(self, table, rows, right, make):
        self.table, self.rows, self.right, self.make = table, rows, right, make

    def materialize(self):
        """``x``'s gradient as a Tensor."""
        return Tensor._make(self.make())

    def summed_rows(self, count):
        """The gradient of the looked-up ``(count, D)`` weight: ``table @ right`` placed at
        ``rows``, zeros elsewhere."""
        summed = self.table @ self.right
        out = np.zeros((count, summed.shape[1]), summed.dtype)
        out[self.rows] = summed
        return out
