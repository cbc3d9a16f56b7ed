"""Imports only go downward through ember's layers (DESIGN.md), and ember never imports
torch or pickle."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1] / "ember"

# Layer of each package/module, top (0) to bottom; a module may import only from its
# own layer or lower-numbered ones.
LAYERS = [
    ("ember._dtype", "ember._errors", "ember._format", "ember._threads", "ember._cpu_share",
     "ember._malloc", "ember._first_collection", "ember.backend"),
    ("ember.tensor", "ember.autograd", "ember.random", "ember.creation"),
    # autograd.functional (jacobian, hessian) is built on ops such as stack.
    ("ember.ops", "ember.autograd.functional"),
    # data (and its torch-style path ember.utils.data) uses tensors and ops, never nn.
    ("ember.nn", "ember.testing", "ember.data", "ember.utils", "ember.datasets"),
    ("ember.optim",),
    # serialization needs only tensors and dtypes (DESIGN.md lists it after data).
    ("ember.serialization",),
    # graph capture and execution (DESIGN.md's graph layer), then export to ONNX.
    ("ember.jit",),
    ("ember.onnx",),
    # The TensorBoard writer captures graphs through nn modules and autograd's observers; it
    # sits above train, whose TensorBoard callback writes through it.
    ("ember.utils.tensorboard",),
    # train drives nn, optim and data, and saves through serialization.
    ("ember.train",),
    # tools: the profiler watches ops through autograd's observers; nothing below uses it.
    ("ember.profiler",),
]


def layer_of(module):
    """The layer of the longest listed name that ``module`` is or lies inside."""
    best, layer = "", len(LAYERS)  # the package root and anything newer sit at the bottom
    for i, names in enumerate(LAYERS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and len(n) > len(best):
                best, layer = n, i
    return layer


def imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, path


def test_imports_only_go_downward():
    bad = []
    for name, path in modules():
        if name == "ember":
            continue
        mine = layer_of(name)
        for imported in imports(path):
            if imported.startswith("ember.") and imported != "ember" and layer_of(imported) > mine:
                bad.append(f"{name} imports {imported}")
    assert not bad, "upward imports:\n" + "\n".join(sorted(set(bad)))


def test_no_torch_or_pickle_in_ember():
    bad = [f"{name}: {imp}" for name, path in modules() for imp in imports(path)
           if imp.split(".")[0] in {"torch", "pickle", "cloudpickle", "dill"}]
    assert not bad, bad


def test_import_is_light():
    code = ("import sys, ember; heavy = [m for m in ('torch', 'scipy', 'matplotlib', 'pandas', "
            "'numba', 'tensorboard') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_layers_load_on_first_use():
    # Not at import (they and their stdlib imports took 10-15 ms of it), yet reachable the
    # way users reach them. The stdlib modules count only where NumPy did not import them
    # already (NumPy 2.4 imports inspect, 2.3 does not).
    code = ("import sys, numpy; before = set(sys.modules); import ember; "
            "lazy = ('ember.serialization', 'ember.data', 'ember.datasets', 'ember.utils', "
            "'ember.jit', 'dataclasses', 'inspect', 'secrets'); "
            "print([m for m in lazy if m in sys.modules and m not in before]); "
            "from ember.serialization import save, load; "
            "print(ember.save is save, ember.load is load, "
            "ember.data.DataLoader is ember.utils.data.DataLoader, "
            "{'save', 'data', 'datasets', 'utils'} <= set(dir(ember)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "True True True True"]
