"""Every case of the op table, captured as a graph: the reference interpreter and the
compiled executor (after ``optimize``) give eager's outputs, values and dtypes.

A case that cannot be captured is listed in ``NOT_TRACEABLE`` with the reason; the test
fails for a case that neither passes nor is listed, and for a listed case that passes
(the list must stay true). The list is empty: every case captures. Ops whose output
shape depends on the values (``nonzero``, ``masked_select``) pass too, because a graph is
specialized to the shapes of its example and runs here on that same example; running it
on other values is ``trace``'s check (tests/jit/test_trace.py). Cases run in float64 with
``trace(..., check=False)``; a test with the checking trace is in test_executor.py.
"""

import numpy as np
import pytest

import ember
import ember.jit
from ember.jit.executor import compile_graph
from ember.jit.interpreter import run
from ember.jit.passes import optimize
from tests.ops.harness import make_arrays, outputs_of, to_lib
from tests.ops.op_table import CASE_IDS, CASES

# spec name -> why its cases cannot be captured as a graph that is right for other inputs.
NOT_TRACEABLE = {
}


def _seed(spec, i):
    return (sum(map(ord, spec.name)) * 1000 + i) % (2 ** 32)


@pytest.fixture(scope="module", autouse=True)
def _numpy_kernels():
    # Compiled fused loops are checked in test_executor.py; here each distinct chain would
    # pay a Numba compilation, so the executor runs its NumPy paths.
    previous = ember.backend.use_compiled_kernels(False)
    yield
    ember.backend.use_compiled_kernels(previous)


def _split(spec, i):
    """The case's tensors (the graph's inputs) and a function of them alone."""
    args = to_lib(ember, make_arrays(spec.cases[i], _seed(spec, i)), np.float64,
                  requires_grad=False)
    slots = [k for k, a in enumerate(args) if isinstance(a, ember.Tensor)]

    def fn(*tensors):
        full = list(args)
        for k, t in zip(slots, tensors):
            full[k] = t
        return spec.fn(ember, *full)

    return fn, tuple(args[k] for k in slots)


def _check(spec, i):
    fn, tensors = _split(spec, i)
    ember.manual_seed(0)
    expected = outputs_of(fn(*tensors))
    traced = ember.jit.trace(fn, tensors, check=False)
    ember.manual_seed(0)
    interpreted = outputs_of(run(traced.graph, tensors, {}))
    _same(interpreted, expected, f"{spec.name}: interpreter")
    ember.manual_seed(0)
    outs = compile_graph(optimize(traced.graph))([t._data for t in tensors], {})
    executed = outputs_of(ember.jit.interpreter.rebuild(traced.graph.out_spec, outs))
    _same(executed, expected, f"{spec.name}: executor")


def _same(got, expected, what):
    assert len(got) == len(expected), f"{what}: {len(got)} outputs, eager {len(expected)}"
    for k, (g, e) in enumerate(zip(got, expected)):
        g = g._data if isinstance(g, ember.Tensor) else np.asarray(g)
        e = e._data if isinstance(e, ember.Tensor) else np.asarray(e)
        assert g.dtype == e.dtype, f"{what} output {k}: dtype {g.dtype} != eager {e.dtype}"
        assert g.shape == e.shape, f"{what} output {k}: shape {g.shape} != eager {e.shape}"
        if e.dtype.kind in "biu":
            np.testing.assert_array_equal(g, e, err_msg=f"{what} output {k}")
        else:
            np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-14, equal_nan=True,
                                       err_msg=f"{what} output {k}")


@pytest.mark.parametrize("spec,i", CASES, ids=CASE_IDS)
def test_graph_matches_eager(spec, i):
    reason = NOT_TRACEABLE.get(spec.name)
    if reason is None:
        _check(spec, i)
        return
    with pytest.raises(Exception):  # noqa: B017 - listed: must still fail to capture
        _check(spec, i)


def test_listed_names_are_in_the_table():
    names = {spec.name for spec, _ in CASES}
    assert set(NOT_TRACEABLE) <= names, sorted(set(NOT_TRACEABLE) - names)
