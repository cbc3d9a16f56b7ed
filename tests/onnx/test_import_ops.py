"""The importer's operator table, one node at a time, against onnxruntime: the attribute
and input forms of different opsets, the padding and layout rules the zoo models do not
reach, and the recurrent ops' gate orders. Plus gradients through an imported graph."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

import ember
import ember.onnx
from ember.testing import gradcheck
from tests.onnx.import_single_node import (
    Init,
    assert_matches_onnxruntime,
    model_of,
    run_both,
)

RNG = np.random.default_rng(0)


def rand(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def ints(*values):
    return Init(np.array(values, dtype=np.int64))


X3 = rand(2, 1, 4)
X4 = rand(2, 3, 7, 6)

CASES = {
    # Axes: an attribute before opset 13 (Squeeze, Unsqueeze, Split, ReduceSum) or 18
    # (the other reductions), an input since.
    "squeeze_attr_11": ("Squeeze", [X3], {"axes": [1]}, 11),
    "squeeze_input_13": ("Squeeze", [X3, ints(-2)], {}, 13),
    "squeeze_all_13": ("Squeeze", [X3], {}, 13),
    "unsqueeze_attr_11": ("Unsqueeze", [X3], {"axes": [0, -1]}, 11),
    "unsqueeze_input_13": ("Unsqueeze", [X3, ints(0, 4)], {}, 13),
    "reduce_mean_attr_13": ("ReduceMean", [X4], {"axes": [1, -1], "keepdims": 0}, 13),
    "reduce_mean_input_18": ("ReduceMean", [X4, ints(1, 3)], {"keepdims": 0}, 18),
    "reduce_mean_all_18": ("ReduceMean", [X4], {}, 18),
    "reduce_mean_noop_18": ("ReduceMean", [X4], {"noop_with_empty_axes": 1}, 18),
    "reduce_sum_attr_11": ("ReduceSum", [X4], {"axes": [2]}, 11),
    "reduce_sum_input_13": ("ReduceSum", [X4, ints(0, 2)], {"keepdims": 0}, 13),
    "reduce_max_18": ("ReduceMax", [X4, ints(-1)], {}, 18),
    "argmax_last": ("ArgMax", [np.array([[1, 3, 3], [2, 2, 0]], np.float32)],
                    {"axis": 1, "select_last_index": 1}, 17),
    "softmax_11_flattens": ("Softmax", [X4], {"axis": 1}, 11),
    "softmax_13": ("Softmax", [X4], {"axis": 1}, 13),
    "log_softmax_13": ("LogSoftmax", [X4], {}, 13),
    # Slicing: negative steps, clamped bounds, the attribute form of opset 9.
    "slice_negative_step": ("Slice", [X4, ints(-1, 5), ints(-100, 0), ints(2, 3),
                                      ints(-2, -1)], {}, 17),
    "slice_clamped": ("Slice", [X4, ints(1, -3), ints(2**62, 100), ints(1, 2)], {}, 17),
    "slice_attrs_9": ("Slice", [X4], {"starts": [1], "ends": [-1], "axes": [3]}, 9),
    "gather_negative": ("Gather", [X4, ints(-1, 0, 2)], {"axis": 2}, 17),
    "gather_scalar_index": ("Gather", [X4, Init(np.array(-2, np.int64))], {"axis": 1}, 17),
    "gather_elements": ("GatherElements", [rand(3, 4), Init(
        np.array([[0, 2, 1, 0], [2, 2, 0, 1]], np.int64))], {"axis": 0}, 17),
    "gather_nd": ("GatherND", [rand(3, 4, 2), Init(np.array([[0, 1], [2, -1]], np.int64))],
                  {}, 17),
    "split_attr_11": ("Split", [rand(7, 2)], {"axis": 0, "split": [3, 4]}, 11, 2),
    "split_input_13": ("Split", [rand(2, 7), ints(2, 5)], {"axis": 1}, 13, 2),
    "split_num_outputs_18": ("Split", [rand(2, 7)], {"axis": 1, "num_outputs": 3}, 18, 3),
    "concat": ("Concat", [rand(2, 3), rand(2, 1)], {"axis": -1}, 17),
    "expand_both_ways": ("Expand", [rand(3, 1), ints(2, 1, 4)], {}, 17),
    "tile": ("Tile", [rand(2, 3), ints(2, 1)], {}, 17),
    "transpose_default": ("Transpose", [X4], {}, 17),
    "flatten_0": ("Flatten", [X4], {"axis": 0}, 17),
    "flatten_negative": ("Flatten", [X4], {"axis": -1}, 17),
    "reshape_zero_copies": ("Reshape", [X4, ints(0, -1, 6)], {}, 17),
    "trilu_lower_k": ("Trilu", [rand(2, 4, 5), Init(np.array(1, np.int64))], {"upper": 0}, 17),
    "trilu_upper": ("Trilu", [rand(4, 5)], {}, 17),
    "range": ("Range", [Init(np.array(2, np.int64)), Init(np.array(11, np.int64)),
                        Init(np.array(3, np.int64))], {}, 17),
    "where": ("Where", [rand(3, 4) > 0, rand(3, 4), rand(1, 4)], {}, 17),
    "cast": ("Cast", [rand(3, 4) * 4], {"to": 7}, 17),
    "shape_start_end": ("Shape", [X4], {"start": 1, "end": -1}, 17),
    "constant_of_shape": ("ConstantOfShape", [ints(2, 3)], {}, 17),
    # Integer arithmetic truncates (Div) and follows the divisor's or dividend's sign (Mod).
    "div_int": ("Div", [np.array([7, -7, 7, -7], np.int64), np.array([2, 2, -2, -2], np.int64)],
                {}, 17),
    "mod_int": ("Mod", [np.array([7, -7, 7, -7], np.int64), np.array([3, 3, -3, -3], np.int64)],
                {}, 17),
    "fmod_float": ("Mod", [rand(5) * 5, rand(5) + 3], {"fmod": 1}, 17),
    "pow": ("Pow", [np.abs(rand(3, 4)) + 0.1, rand(4)], {}, 17),
    "max_variadic": ("Max", [rand(3, 4), rand(4), rand(3, 1)], {}, 17),
    "mean_variadic": ("Mean", [rand(3, 4), rand(4)], {}, 17),
    "cumsum_reverse_exclusive": ("CumSum", [rand(3, 4), Init(np.array(1, np.int64))],
                                 {"reverse": 1, "exclusive": 1}, 17),
    "gemm_transposes": ("Gemm", [rand(4, 3), rand(5, 4), rand(5)],
                        {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0}, 17),
    "matmul_batched": ("MatMul", [rand(2, 3, 4), rand(4, 5)], {}, 17),
    "einsum": ("Einsum", [rand(2, 3, 4), rand(2, 4, 5)], {"equation": "bij,bjk->bik"}, 17),
    # Activations with their ONNX defaults (HardSigmoid's alpha is 0.2, not torch's 1/6).
    "hard_sigmoid": ("HardSigmoid", [rand(3, 4) * 4], {}, 17),
    "hard_swish": ("HardSwish", [rand(3, 4) * 4], {}, 17),
    "leaky_relu": ("LeakyRelu", [rand(3, 4)], {"alpha": 0.2}, 17),
    "selu": ("Selu", [rand(3, 4)], {}, 17),
    "gelu_tanh_20": ("Gelu", [rand(3, 4)], {"approximate": "tanh"}, 20),
    "prelu": ("PRelu", [rand(2, 3, 4), Init(rand(3, 1))], {}, 17),
    "clip_inputs_11": ("Clip", [rand(3, 4), Init(np.float32(-0.5)), Init(np.float32(0.3))],
                       {}, 11),
    "clip_attrs_6": ("Clip", [rand(3, 4)], {"min": -0.2}, 6),
    "erf": ("Erf", [rand(3, 4)], {}, 17),
    # Windows: explicit and SAME padding, unequal sides, ceil mode, what averages count.
    "conv_same_upper_stride": ("Conv", [X4, Init(rand(4, 3, 3, 2))],
                               {"auto_pad": "SAME_UPPER", "strides": [2, 2]}, 17),
    "conv_same_lower": ("Conv", [X4, Init(rand(4, 3, 2, 2))], {"auto_pad": "SAME_LOWER"}, 17),
    "conv_unequal_pads_groups": ("Conv", [rand(1, 4, 6, 6), Init(rand(6, 2, 3, 3)),
                                          Init(rand(6))],
                                 {"pads": [0, 1, 2, 0], "group": 2, "dilations": [1, 2]}, 17),
    "conv_1d": ("Conv", [rand(2, 3, 9), Init(rand(5, 3, 3))], {"pads": [1, 1],
                                                               "strides": [2]}, 17),
    "conv_transpose": ("ConvTranspose", [rand(1, 3, 4, 5), Init(rand(3, 2, 3, 3))],
                       {"strides": [2, 2], "pads": [1, 0, 0, 1], "output_padding": [1, 1]},
                       17),
    "max_pool_unequal_ceil": ("MaxPool", [X4], {"kernel_shape": [3, 2], "strides": [2, 2],
                                                "pads": [1, 0, 0, 1], "ceil_mode": 1}, 17),
    "max_pool_same": ("MaxPool", [X4], {"kernel_shape": [3, 3], "auto_pad": "SAME_UPPER",
                                        "strides": [2, 2]}, 17),
    "average_pool_exclude_pad": ("AveragePool", [X4], {"kernel_shape": [3, 3],
                                                       "pads": [1, 1, 1, 1]}, 17),
    "average_pool_include_pad": ("AveragePool", [X4], {"kernel_shape": [3, 3],
                                                       "pads": [1, 1, 1, 1],
                                                       "count_include_pad": 1}, 17),
    "average_pool_unequal_exclude": ("AveragePool", [X4], {"kernel_shape": [2, 3],
                                                           "pads": [1, 0, 0, 2]}, 17),
    "global_average_pool": ("GlobalAveragePool", [X4], {}, 17),
    "global_max_pool": ("GlobalMaxPool", [X4], {}, 17),
    "batch_norm": ("BatchNormalization", [X4, Init(rand(3)), Init(rand(3)), Init(rand(3)),
                                          Init(np.abs(rand(3)) + 0.5)], {"epsilon": 1e-3}, 15),
    "layer_norm_axis": ("LayerNormalization", [X4, Init(rand(7, 6)), Init(rand(7, 6))],
                        {"axis": -2}, 17),
    "instance_norm": ("InstanceNormalization", [X4, Init(rand(3)), Init(rand(3))], {}, 17),
    # Resize in the forms F.interpolate shares (PyTorch's exporter writes these).
    "resize_nearest_scales": ("Resize", [X4, None, Init(np.array([1, 1, 2, 3], np.float32))],
                              {"mode": "nearest", "nearest_mode": "floor",
                               "coordinate_transformation_mode": "asymmetric"}, 13),
    "resize_linear_sizes": ("Resize", [X4, None, None, ints(2, 3, 10, 9)],
                            {"mode": "linear"}, 13),
    "resize_linear_corners": ("Resize", [X4, None, Init(np.array([1, 1, 2, 2], np.float32))],
                              {"mode": "linear",
                               "coordinate_transformation_mode": "align_corners"}, 13),
    "resize_cubic": ("Resize", [X4, None, Init(np.array([1, 1, 2, 2], np.float32))],
                     {"mode": "cubic", "cubic_coeff_a": -0.75}, 13),
    "top_k": ("TopK", [rand(3, 7), ints(3)], {"axis": 1}, 17, 2),
    "top_k_smallest": ("TopK", [rand(5, 4), ints(2)], {"axis": 0, "largest": 0}, 17, 2),
    "pad_reflect": ("Pad", [X4, ints(0, 0, 1, 2, 0, 0, 2, 1)], {"mode": "reflect"}, 17),
    "pad_edge_axes_18": ("Pad", [X4, ints(1, 2), None, ints(-1)], {"mode": "edge"}, 18),
    "pad_constant_value": ("Pad", [X4, ints(0, 1, 0, 0, 0, 2, 0, 0),
                                   Init(np.float32(1.5))], {}, 17),
}


@pytest.mark.parametrize("case", list(CASES))
def test_op_matches_onnxruntime(case):
    op, args, attrs, opset, *n_out = CASES[case]
    assert_matches_onnxruntime(op, args, attrs, opset, n_out[0] if n_out else 1)


# ---- recurrent ops: ONNX's gate orders, directions and states --------------------------

T, N, I, H = 5, 3, 4, 6


def _rnn_args(gates, directions, with_states, cell=False):
    args = [rand(T, N, I), Init(rand(directions, gates * H, I) * 0.5),
            Init(rand(directions, gates * H, H) * 0.5),
            Init(rand(directions, 2 * gates * H) * 0.5), None]
    if with_states:
        args += [rand(directions, N, H)] + ([rand(directions, N, H)] if cell else [])
    return args


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_lstm_matches_onnxruntime(direction):
    dirs = 2 if direction == "bidirectional" else 1
    assert_matches_onnxruntime("LSTM", _rnn_args(4, dirs, True, cell=True),
                               {"hidden_size": H, "direction": direction}, 17, 3, rtol=1e-4,
                               atol=1e-5)


def test_lstm_with_peepholes_and_full_sequence_lengths():
    args = _rnn_args(4, 1, True, cell=True)
    args[4] = np.full(N, T, np.int32)
    args.append(Init(rand(1, 3 * H)))
    assert_matches_onnxruntime("LSTM", args, {"hidden_size": H}, 17, 3, rtol=1e-4, atol=1e-5)


def test_sequences_of_different_lengths_are_refused():
    args = _rnn_args(4, 1, False)
    args[4] = np.array([T, T - 1, T], np.int32)
    with pytest.raises(ValueError, match="LSTM node 'the_lstm'.*different lengths"):
        run_both("LSTM", args, {"hidden_size": H}, 17, 1)


def test_lstm_without_bias_or_states():
    args = [rand(T, N, I), Init(rand(1, 4 * H, I)), Init(rand(1, 4 * H, H))]
    assert_matches_onnxruntime("LSTM", args, {"hidden_size": H}, 17, 3, rtol=1e-4, atol=1e-5)


def test_lstm_batch_first_layout_matches_the_sequence_first_one():
    # onnxruntime refuses layout=1, so the oracle is its layout=0 result, transposed.
    args = _rnn_args(4, 2, True, cell=True)
    attrs = {"hidden_size": H, "direction": "bidirectional"}
    _, (y, y_h, y_c) = run_both("LSTM", args, attrs, 17, 3)
    batch_first = [args[0].transpose(1, 0, 2)] + args[1:5] + [a.transpose(1, 0, 2)
                                                               for a in args[5:]]
    expected = [y.transpose(2, 0, 1, 3), y_h.transpose(1, 0, 2), y_c.transpose(1, 0, 2)]
    model = model_of("LSTM", batch_first, {**attrs, "layout": 1}, 17, 3, expected)
    got = ember.onnx.load(model)(*[ember.tensor(a) for a in batch_first
                                   if a is not None and not isinstance(a, Init)])
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g.detach().numpy(), e, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("linear_before_reset", [0, 1])
def test_gru_matches_onnxruntime(linear_before_reset):
    assert_matches_onnxruntime("GRU", _rnn_args(3, 2, True),
                               {"hidden_size": H, "direction": "bidirectional",
                                "linear_before_reset": linear_before_reset}, 17, 2,
                               rtol=1e-4, atol=1e-5)


def test_rnn_matches_onnxruntime():
    assert_matches_onnxruntime("RNN", _rnn_args(1, 1, True), {"hidden_size": H}, 17, 2,
                               rtol=1e-4, atol=1e-5)


def test_gradients_through_an_imported_lstm_are_numerically_right():
    onnx = pytest.importorskip("onnx")
    args = [rand(T, N, I), Init(rand(1, 4 * H, I) * 0.5), Init(rand(1, 4 * H, H) * 0.5),
            Init(rand(1, 8 * H) * 0.5)]
    model = model_of("LSTM", args, {"hidden_size": H}, 17, 1)
    model.graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.DOUBLE
    for init in model.graph.initializer:
        array = onnx.numpy_helper.to_array(init).astype(np.float64)
        init.CopyFrom(onnx.numpy_helper.from_array(array, init.name))
    model.graph.output[0].CopyFrom(onnx.helper.make_tensor_value_info(
        "out0", onnx.TensorProto.DOUBLE, [T, 1, N, H]))
    loaded = ember.onnx.load(model)
    x = ember.tensor(args[0].astype(np.float64), requires_grad=True)
    assert gradcheck(lambda x: loaded(x), (x,))
    # The weights: central differences of a random weighting of the output.
    weighting = ember.tensor(RNG.standard_normal((T, 1, N, H)))
    (loaded(x) * weighting).sum().backward()
    for param in loaded.parameters():
        array = param.detach().numpy()  # shares the parameter's memory
        for flat in RNG.choice(array.size, 4, replace=False):
            index = np.unravel_index(flat, array.shape)
            losses = []
            for step in (1e-6, -2e-6):
                array[index] += step
                with ember.no_grad():
                    losses.append(float((loaded(x) * weighting).sum()))
            array[index] += 1e-6
            numeric = (losses[0] - losses[1]) / 2e-6
            assert abs(param.grad.numpy()[index] - numeric) < 1e-6 + 1e-4 * abs(numeric)
