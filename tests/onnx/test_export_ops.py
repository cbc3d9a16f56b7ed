"""The export table against the op table: every op is exportable or says why not, and
every case of tests/ops/op_table.py made of exportable ops runs in ONNX Runtime with
eager ember's outputs (forward, float32)."""

import io

import numpy as np
import pytest

import ember
import ember.onnx
from ember.jit.ops import op_names
from ember.onnx import UnsupportedOperatorError
from ember.onnx.exporter import EXPORTABLE, NOT_EXPORTABLE
from tests.ops.harness import make_arrays, outputs_of, to_lib
from tests.ops.op_table import CASE_IDS, CASES

ort = pytest.importorskip("onnxruntime")

# Integer bitwise ops and scatter max/min exist from opset 18 on.
OPSET = 18


def test_every_op_is_exportable_or_listed_with_a_reason():
    names = set(op_names())
    assert not EXPORTABLE & set(NOT_EXPORTABLE)
    missing = sorted(names - EXPORTABLE - set(NOT_EXPORTABLE))
    assert not missing, f"classify these ops in ember/onnx/_export_ops.py: {missing}"
    stale = sorted((EXPORTABLE | set(NOT_EXPORTABLE)) - names)
    assert not stale, f"entries for ops that do not exist: {stale}"
    assert all(isinstance(r, str) and len(r) > 20 for r in NOT_EXPORTABLE.values())


def _seed(spec, i):
    return (sum(map(ord, spec.name)) * 1000 + i) % (2 ** 32)


def _traced_case(spec, i):
    """The case's function of its tensor inputs (other inputs closed over), traced."""
    arrays = make_arrays(spec.cases[i], _seed(spec, i))
    values = to_lib(ember, arrays, np.float32, requires_grad=False)
    slots = [k for k, (kind, _) in enumerate(arrays) if kind != "raw"]

    def fn(*tensors):
        full = list(values)
        for k, t in zip(slots, tensors):
            full[k] = t
        return spec.fn(ember, *full)

    tensors = tuple(values[k] for k in slots)
    return fn, tensors, ember.jit.trace(fn, tensors, check=False)


def _tensors_of(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _tensors_of(o)]
    return [out] if isinstance(out, ember.Tensor) else []


def _run(data, tensors):
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3  # no warnings about the shapes of unused values
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return session.run(None, {i.name: t.numpy() for i, t in zip(session.get_inputs(), tensors)})


def _params():
    return [pytest.param(*case, id=case_id) for case, case_id in zip(CASES, CASE_IDS)]


@pytest.mark.parametrize("spec,i", _params())
def test_op_table_case_exports_or_names_its_op(spec, i):
    case_id = f"{spec.name}-{i}"
    fn, tensors, traced = _traced_case(spec, i)
    blocked = {n.target for n in traced.graph.of_kind("call")} - EXPORTABLE
    buffer = io.BytesIO()
    if blocked:
        assert blocked <= set(NOT_EXPORTABLE)
        with pytest.raises(UnsupportedOperatorError) as info:
            ember.onnx.export(traced, tensors, buffer, opset_version=OPSET)
        assert info.value.op in blocked and info.value.op in str(info.value)
        assert buffer.getvalue() == b""
        return
    ember.onnx.export(traced, tensors, buffer, opset_version=OPSET)
    got = _run(buffer.getvalue(), tensors)
    with ember.no_grad():
        want = [t.numpy() for t in _tensors_of(outputs_of(fn(*tensors)))]
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want)):
        what = f"{case_id} output {k}"
        assert g.shape == w.shape and g.dtype == w.dtype, what
        if w.dtype.kind in "biu":
            np.testing.assert_array_equal(g, w, err_msg=what)
        else:
            np.testing.assert_allclose(g, w, atol=spec.atol32, rtol=spec.rtol32,
                                       equal_nan=True, err_msg=what)
