"""The op table: every op's specification, gathered from one module per op family.

Generic checks (tests/ops/test_op_table.py) run over all of it; later layers (graph
capture, ONNX export) key their coverage tests by ``Spec.name``.
"""

from tests.ops.specs import (
    activation, arithmetic, attention, compare, conv, distance, dropout, embedding, index, join,
    linalg, loss, norm, pool, reduce, resize, shape, unary,
)

FAMILIES = (
    arithmetic, unary, compare, activation, reduce, shape, join, index, linalg, conv, pool, norm,
    loss, embedding, dropout, attention, distance, resize,
)
OP_TABLE = [spec for family in FAMILIES for spec in family.SPECS]
CASES = [(spec, i) for spec in OP_TABLE for i in range(len(spec.cases))]
CASE_IDS = [f"{spec.name}-{i}" for spec, i in CASES]
