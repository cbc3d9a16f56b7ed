"""The profiler's names for ops: PyTorch's operator names where they differ from ember's.

An observer sees an op's class, inputs and parameters, not the op object, so the label
is a function of those: by default the class name in snake case (``LogSoftmax`` ->
``log_softmax``), else a row of ``LABELS`` keyed by the class name. A row is a string, or
a function of the parameters for ops whose name depends on them (``conv2d``). A test
checks that every op overriding ``op_name`` (the name of its error messages) has a row.
"""

import re

__all__ = ["LABELS", "op_label"]


def _nd(prefix, attr):
    """``conv2d`` from the number of spatial dims of the parameter ``attr``."""
    def label(params):
        geometry = params.get(attr)
        dims = getattr(geometry, "stride", None) or getattr(geometry, "in_size", None)
        return f"{prefix}{len(dims)}d" if dims is not None else prefix
    return label


def _index_op(params):
    ix = params.get("ix")
    return getattr(ix, "op", None) or "index"


def _amax_or_amin(params):
    name = getattr(params.get("reduce"), "__name__", "max")
    return "a" + name.removeprefix("a")


LABELS = {
    # the forward ops whose ``op_name`` depends on their parameters
    "Conv": _nd("conv", "geom"),
    "ConvTranspose": _nd("conv_transpose", "geom"),
    "Take": _index_op,
    "AddAt": _index_op,
    "Put": _index_op,
    "Einsum": "einsum",
    # PyTorch's names where the snake-cased class name is not
    "MaxPool": _nd("max_pool", "windows"),
    "AvgPool": _nd("avg_pool", "windows"),
    "Cast": "to",
    "MatMul": "matmul",
    "Linear": "linear",
    "CrossEntropyProb": "cross_entropy",
    "BinaryCrossEntropy": "binary_cross_entropy",
    "MSELoss": "mse_loss",
    "TakeRows": "embedding",
    "PutRows": "embedding_backward",
    "OneHot": "one_hot",
    "ClampScalar": "clamp",
    "ClampTensor": "clamp",
    "PowScalar": "pow",
    "RPowScalar": "pow",
    "RreluTrain": "rrelu",
    "Attention": "scaled_dot_product_attention",
    "AttentionBackward": "scaled_dot_product_attention_backward",
    "Resample": "interpolate",
    "EuclideanDist": "cdist",
    "VectorNorm": "linalg_vector_norm",
    "Moments": "var_mean",
    "Normalize": "normalization",
    "ConstantPad": "constant_pad_nd",
    "RunPad": "pad",
    "TakeAlong": "gather",
    "PutAlong": "scatter_add",
    "ScatterExtreme": "scatter_reduce",
    "ScatterProd": "scatter_reduce",
    "Triangle": lambda params: "triu" if params.get("upper") else "tril",
    "Extreme": _amax_or_amin,
    "ArgExtreme": lambda params: getattr(params.get("arg"), "__name__", "argmax"),
    "MaxDim": "max",
    "MinDim": "min",
    "MedianDim": "median",
    "IsNan": "isnan",
    "IsInf": "isinf",
    "IsPosInf": "isposinf",
    "IsNegInf": "isneginf",
    "IsFinite": "isfinite",
    "IsClose": "isclose",
    "SignBit": "signbit",
    "NanToNum": "nan_to_num",
    "NanMean": "nanmean",
    "NanSum": "nansum",
    "LogSumExp": "logsumexp",
    "LogAddExp": "logaddexp",
    "Logsigmoid": "log_sigmoid",
    "AddCDiv": "addcdiv",
    "AddCMul": "addcmul",
    "Atan2": "atan2",
    "Deg2Rad": "deg2rad",
    "Rad2Deg": "rad2deg",
    "Exp2": "exp2",
    "Log10": "log10",
    "Log1p": "log1p",
    "Log2": "log2",
    "Expm1": "expm1",
    "Rot90": "rot90",
    "BlockDiag": "block_diag",
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_cache = {}


def op_label(cls, params):
    """The name under which the profiler shows one application of the op class ``cls``."""
    row = _cache.get(cls)
    if row is None:
        row = LABELS.get(cls.__name__)
        if row is None:
            row = _CAMEL.sub("_", cls.__name__.lstrip("_")).lower()
        _cache[cls] = row
    return row if type(row) is str else row(params)
