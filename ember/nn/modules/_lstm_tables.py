"""Input projections as rows of a table, for the whole-sequence LSTM op
(``ember/nn/modules/_lstm_seq.py``).

An input that is the unchanged output of an embedding lookup (``lookup_of``) holds one
row per distinct index: the input projections are then made for those rows only, and
``w_ih``'s gradient from the gates' gradients summed per row (``distinct_rows``). At the
benchmark's sizes this takes two of the op's products away (2 x 134M multiply-adds); the
op's forward and backward at two threads, five pairs of processes taking turns on a noisy
machine: 25.0-30.4 ms against 29.8-36.6 ms.

The input's own gradient goes to the lookup as those sums times ``w_ih`` when nothing else
sees it (``ember.autograd.deferred``), which saves a third product of that size (the eager
``lstm`` step 1.056-1.065x faster, medians of 20 alternating pairs in one process); with a
hook, ``retain_grad`` or ``autograd.grad`` on the lookup it is made whole, as before. The
compiled training step gets the same saving from its ``project_embeddings`` pass
(``ember/jit/passes/embedding_projection.py``), which feeds the layer a table of the
embedding's rows (``LSTMSequenceFromTable``).
"""

import numpy as np

from ember._errors import index_error, runtime_error
from ember.autograd.node import Observers
from ember.backend.index_kernels import add_rows
from ember.ops.embedding import TakeRows

__all__ = ["check_index", "distinct_rows", "lookup_of", "table_grad"]


def lookup_of(x):
    """The indices ``x`` was looked up with, when ``x`` is the unchanged output of a plain
    embedding lookup (positions with one index then hold one row), else None.

    Never while a graph is captured: the indices would be frozen into it (the compiled
    step's ``project_embeddings`` pass folds the lookup into the layer there).
    """
    node = x.grad_fn
    if type(node) is not TakeRows or not node.plain or x._vbox[0] or x._base is not None:
        return None
    if x._data.ndim != 3 or node.index.shape != x.shape[:-1]:
        return None
    if any(getattr(w, "captures_graph", False) for w in Observers.active):
        return None
    return node.index


def distinct_rows(x, lookup):
    """``(distinct, index, present)`` with ``x[p] == distinct[index[p]]`` for ``x`` looked up
    with ``lookup`` (see ``lookup_of``), ``present[k]`` the lookup index of ``distinct[k]``,
    when there are at most half as many distinct rows as positions; else None.

    The projections ``x W_ih^T`` are then made for the distinct rows only, and the weight's
    gradient from the gates' gradients summed per row: on the ``lstm`` benchmark (65
    indices, 2,048 positions) it saves two products of 2,048 x 64 x 1,024 multiply-adds
    a step. The rows are taken from ``x`` itself, never from the embedding's weight, which
    may have changed since the lookup.
    """
    flat = lookup.reshape(-1).astype(np.intp, copy=False)
    if not flat.size:
        return None
    counts = np.bincount(flat)
    present = np.flatnonzero(counts)
    if 2 * present.size > flat.size:
        return None
    remap = np.zeros(counts.size, np.intp)
    remap[present] = np.arange(present.size)
    index = remap[lookup]
    where = np.empty(present.size, np.intp)
    where[index.reshape(-1)] = np.arange(flat.size)  # a position of each row (any one)
    return x.reshape(flat.size, x.shape[-1])[where], index, present


def table_grad(d_rows, flat, index, rows):
    """The gradient of the ``rows``-row table the forward gathered ``index`` (time-major)
    from: each position's gates' gradients ``flat`` (a view of ``d_rows``, the padded
    buffer) summed into its index's row; ``(rows, 4H)``, a view of padded rows."""
    # Whole padded rows (flat's rows are not contiguous: add_rows would copy them all),
    # the spare columns zeroed first, then dropped.
    padded = d_rows.reshape(flat.shape[0], d_rows.shape[2])
    padded[:, flat.shape[1]:] = 0
    table = np.zeros((rows, padded.shape[1]), d_rows.dtype)
    add_rows(table, index.reshape(-1), padded)
    return table[:, :flat.shape[1]]


def check_index(index, rows):
    """Refuse a table's index that is not of integers or points outside its ``rows``."""
    if index.dtype.kind not in "iu":
        raise runtime_error("lstm", f"expected indices of an integer dtype, got {index.dtype}")
    if index.size and (index.min() < 0 or index.max() >= rows):
        bad = index.min() if index.min() < 0 else index.max()
        raise index_error("lstm", f"index {bad} is out of range for a table of {rows} rows")
