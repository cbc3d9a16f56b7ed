"""The frameworks the suite times, each set up to use every core of the machine.

ember computes with NumPy, whose BLAS (OpenBLAS in NumPy's wheels) starts one thread per
core by default; PyTorch is told ``torch.set_num_threads(os.cpu_count())``, as
WORKLOADS.md asks.

TensorFlow/Keras and JAX are named by WORKLOADS.md but have no code paths here: neither
is installed on the machine the suite was written on, and code that was never run is not
a measurement. ``--frameworks tensorflow`` says so instead of failing obscurely.
"""

import importlib
import importlib.metadata
import importlib.util
import os

IMPLEMENTED = ("ember", "torch", "ember-compiled")
NOT_WRITTEN = ("tensorflow", "jax")
LABELS = {"ember": "ember", "torch": "PyTorch", "tensorflow": "TensorFlow", "jax": "JAX",
          "ember-compiled": "ember compiled"}
# Variants run a framework's own code another way: ember-compiled is ember's workload step
# passed through ember.compile (captured once as a graph, then replayed).
MODULE = {"ember-compiled": "ember"}


def load(name):
    """Imports framework ``name`` and sets it up to use all cores."""
    lib = importlib.import_module(MODULE.get(name, name))
    if name == "torch":
        lib.set_num_threads(os.cpu_count())
    return lib


def installed(name):
    """Whether ``name`` can be imported here (without importing it)."""
    return importlib.util.find_spec(name) is not None


def version(name):
    """The installed version of ``name``'s distribution, or None."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def check(names):
    """The frameworks to run, in order; a ValueError naming any that cannot run."""
    problems = []
    for name in names:
        if name in NOT_WRITTEN:
            problems.append(f"{name}: the suite has no {LABELS[name]} code paths yet (it was "
                            f"not installed where the suite was written, so they were left out)")
        elif name not in IMPLEMENTED:
            problems.append(f"{name}: unknown framework (choose from "
                            f"{', '.join(IMPLEMENTED + NOT_WRITTEN)})")
        elif not installed(MODULE.get(name, name)):
            problems.append(f"{name}: not installed in this environment")
    if problems:
        raise ValueError("; ".join(problems))
    return list(names)
