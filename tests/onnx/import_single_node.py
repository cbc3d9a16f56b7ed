"""One ONNX node as a model, run by onnxruntime (the oracle) and by ``ember.onnx.load``."""

import numpy as np
import onnx
import onnxruntime
from onnx import helper, numpy_helper

import ember
import ember.onnx


class Init:
    """An input given as an initializer (a weight, or a constant such as axes)."""

    def __init__(self, array):
        self.array = np.asarray(array)


def model_of(op, args, attrs, opset, n_out, output_types=None):
    inputs, inits, names = [], [], []
    for i, arg in enumerate(args):
        if arg is None:
            names.append("")
            continue
        name = f"in{i}"
        names.append(name)
        if isinstance(arg, Init):
            inits.append(numpy_helper.from_array(arg.array, name))
        else:
            elem = helper.np_dtype_to_tensor_dtype(np.asarray(arg).dtype)
            inputs.append(helper.make_tensor_value_info(name, elem, np.shape(arg)))
    outs = [f"out{i}" for i in range(n_out)]
    node = helper.make_node(op, names, outs, name=f"the_{op.lower()}", **attrs)
    if output_types is None:
        out_infos = [onnx.ValueInfoProto(name=o) for o in outs]
    else:
        out_infos = [helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(a.dtype),
                                                   a.shape) for o, a in zip(outs, output_types)]
    graph = helper.make_graph([node], "single", inputs, out_infos, initializer=inits)
    # IR version 10 (ONNX 1.16): one every onnxruntime this project supports can read.
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=10)


def _feeds(args):
    return {f"in{i}": np.asarray(a) for i, a in enumerate(args)
            if a is not None and not isinstance(a, Init)}


def run_both(op, args, attrs=None, opset=17, n_out=1):
    """(ember's outputs, onnxruntime's outputs) as lists of arrays."""
    attrs = attrs or {}
    untyped = model_of(op, args, attrs, opset, n_out)
    session = onnxruntime.InferenceSession(untyped.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    expected = session.run(None, _feeds(args))
    # The checker ember.onnx.load runs wants typed outputs: onnxruntime's types.
    model = model_of(op, args, attrs, opset, n_out, output_types=expected)
    loaded = ember.onnx.load(model)
    got = loaded(*[ember.tensor(v) for v in _feeds(args).values()])
    got = list(got) if isinstance(got, tuple) else [got]
    return [g.detach().numpy() for g in got], expected


def assert_matches_onnxruntime(op, args, attrs=None, opset=17, n_out=1, rtol=1e-5,
                               atol=1e-6):
    got, expected = run_both(op, args, attrs, opset, n_out)
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        assert g.dtype == e.dtype, f"output {i}: dtype {g.dtype} != {e.dtype}"
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol, err_msg=f"{op} output {i}")
