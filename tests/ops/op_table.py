"""The op table: every op's specification, gathered from one module per op family.

Generic checks (tests/ops/test_op_table.py) run over all of it; later layers (graph
capture, ONNX export) key their coverage tests by ``Spec.name``.
"""

from tests.ops.specs import (
    activation, arithmetic, attention, avg_pool, compare, conv, conv_transpose, distance, dropout,
    einsum, embedding, extrema, gather, index, join, linalg, loss, margin_loss, moments, norm, pad,
    pool, reduce, regression_loss, resize, scan, scatter, shape, softmax, sort, unary,
)

FAMILIES = (
    arithmetic, unary, compare, activation, softmax, reduce, moments, extrema, scan, sort, shape,
    join, index, gather, scatter, linalg, einsum, conv, conv_transpose, pool, avg_pool, pad, norm,
    loss, regression_loss, margin_loss, embedding, dropout, attention, distance, resize,
)
OP_TABLE = [spec for family in FAMILIES for spec in family.SPECS]
CASES = [(spec, i) for spec in OP_TABLE for i in range(len(spec.cases))]
CASE_IDS = [f"{spec.name}-{i}" for spec, i in CASES]
