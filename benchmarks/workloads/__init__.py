"""The seven reference workloads of ../shared/benchmarks/WORKLOADS.md, one module per
family (``mlp``, ``lenet``, ``resnet8``, ``lstm``, ``transformer``), in the table's order.

    >>> from benchmarks.workloads import WORKLOADS
    >>> list(WORKLOADS)
    ['mlp', 'lenet', 'resnet8', 'lstm', 'transformer', 'infer-lenet', 'infer-transformer']
"""

from benchmarks.workloads import lenet, lstm, mlp, resnet8, transformer
from benchmarks.workloads.base import Workload

FAMILIES = {"mlp": mlp, "lenet": lenet, "resnet8": resnet8, "lstm": lstm,
            "transformer": transformer}

_ALL = [w for family in FAMILIES.values() for w in family.WORKLOADS]
WORKLOADS = {w.name: w for w in sorted(_ALL, key=lambda w: w.kind == "infer")}
