"""``add_rows``: ``out[index[k]] += rows[k]``, the gradient of a table looked up by index.

``nn.Embedding``'s weight gradient and ``LSTMSequenceFromTable``'s table gradient are both
this sum. ``np.add.at`` handles every row on its own (18 ms for 2,048 rows of 1,024
float32 into 65); a stable sort and ``np.add.reduceat`` sum each index's rows in one call
but pay ~0.7 us per distinct index (the ``transformer`` benchmark's embedding gradient,
1,024 rows of 128 into 1,000, took 0.57 ms); the compiled loop adds each row where it goes
in one pass (0.03 ms there, 0.2 ms for the 2,048 x 1,024 case).
"""

import numpy as np

from ember.backend.compiled import kernel

__all__ = ["add_rows"]


def add_rows(out, index, rows):
    """``out[index[k]] += rows[k]`` for every ``k``, each index's rows added in order of ``k``.

    Args:
        out: ``(V, ...)``, added into.
        index: ``(K,)`` integers in ``[0, V)`` (the caller checks them).
        rows: ``(K, ...)``, with ``out``'s trailing shape.
    """
    if index.size == 0 or out.size == 0:
        return
    if out.dtype in (np.float32, np.float64) and rows.dtype == out.dtype \
            and out.flags.c_contiguous and _add_rows.ready():
        _add_rows(out.reshape(out.shape[0], -1), index.astype(np.intp, copy=False),
                  np.ascontiguousarray(rows).reshape(index.size, -1))
        return
    order = np.argsort(index, kind="stable")
    ordered = index[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    out[ordered[starts]] += np.add.reduceat(rows[order], starts, axis=0)


@kernel(error_model="numpy")
def _add_rows(out, index, rows):
    """``out[index[i], :] += rows[i, :]`` for each ``i`` in order (2-D ``out`` and ``rows``)."""
    for i in range(index.size):
        r = index[i]
        for j in range(rows.shape[1]):
            out[r, j] += rows[i, j]
