"""Loss layers against torch: values and input gradients for every reduction, weight
buffers in state_dict, the legacy size_average/reduce flags, repr and argument checks."""

import warnings

import numpy as np
import pytest
import torch

import ember
from tests.nn.layer_check import assert_same

RNG = np.random.default_rng(0)


def uniform(*shape, low=-2.0, high=2.0):
    return RNG.uniform(low, high, shape)


def log_probs(*shape, dim=1):
    x = uniform(*shape)
    return x - np.log(np.exp(x).sum(axis=dim, keepdims=True))


def probs(*shape, dim=1):
    return np.exp(log_probs(*shape, dim=dim))


def signs(*shape):
    return RNG.choice([-1.0, 1.0], shape)


class G:
    """An input that gets a gradient."""

    def __init__(self, array):
        self.array = array


class Int:
    """An integer (int64) input, such as class indices."""

    def __init__(self, array):
        self.array = np.asarray(array, dtype=np.int64)


TARGET = np.array([1, -100, 3, 0, 2])  # class indices with torch's default ignore_index

# (name, constructor kwargs, inputs): float arrays in kwargs become tensors of the loss's
# dtype (weights); G(...) inputs get gradients, plain float arrays do not.
CASES = [
    ("CrossEntropyLoss", {}, [G(uniform(5, 4)), Int(TARGET)]),
    ("CrossEntropyLoss", {"weight": uniform(4, low=0.2, high=2.0)},
     [G(uniform(5, 4)), Int(TARGET)]),
    ("CrossEntropyLoss", {"weight": uniform(4, low=0.2, high=2.0), "ignore_index": 2},
     [G(uniform(5, 4)), Int([1, 2, 3, 0, 2])]),
    ("CrossEntropyLoss", {"label_smoothing": 0.1}, [G(uniform(5, 4)), Int(TARGET)]),
    ("CrossEntropyLoss", {"label_smoothing": 0.2, "weight": uniform(4, low=0.2, high=2.0)},
     [G(uniform(5, 4)), Int(TARGET)]),
    ("CrossEntropyLoss", {}, [G(uniform(5, 4)), probs(5, 4)]),
    ("CrossEntropyLoss", {"weight": uniform(4, low=0.2, high=2.0), "label_smoothing": 0.3},
     [G(uniform(5, 4)), probs(5, 4)]),
    ("CrossEntropyLoss", {}, [G(uniform(2, 4, 3)), Int([[0, 3, -100], [2, 1, 1]])]),
    ("CrossEntropyLoss", {}, [G(uniform(4)), Int(2)]),
    ("NLLLoss", {}, [G(log_probs(5, 4)), Int(TARGET)]),
    ("NLLLoss", {"weight": uniform(4, low=0.2, high=2.0)}, [G(log_probs(5, 4)), Int(TARGET)]),
    ("NLLLoss", {"ignore_index": 0}, [G(log_probs(2, 3, 2, 2)),
                                      Int([[[0, 1], [2, 0]], [[1, 1], [2, 2]]])]),
    ("MSELoss", {}, [G(uniform(3, 4)), G(uniform(3, 4))]),
    ("MSELoss", {}, [G(uniform(3, 4)), uniform(4)]),
    ("L1Loss", {}, [G(uniform(3, 4)), G(uniform(3, 4))]),
    ("SmoothL1Loss", {}, [G(uniform(3, 4)), uniform(3, 4)]),
    ("SmoothL1Loss", {"beta": 0.5}, [G(uniform(3, 4)), G(uniform(3, 4))]),
    ("HuberLoss", {}, [G(uniform(3, 4)), G(uniform(3, 4))]),
    ("HuberLoss", {"delta": 0.5}, [G(uniform(3, 4)), uniform(3, 4)]),
    ("BCELoss", {}, [G(uniform(3, 4, low=0.05, high=0.95)), uniform(3, 4, low=0, high=1)]),
    ("BCELoss", {"weight": uniform(4, low=0.2, high=2.0)},
     [G(uniform(3, 4, low=0.05, high=0.95)), uniform(3, 4, low=0, high=1)]),
    ("BCEWithLogitsLoss", {}, [G(uniform(3, 4)), uniform(3, 4, low=0, high=1)]),
    ("BCEWithLogitsLoss", {"weight": uniform(3, 1, low=0.2, high=2.0),
                           "pos_weight": uniform(4, low=0.2, high=3.0)},
     [G(uniform(3, 4)), G(uniform(3, 4, low=0, high=1))]),
    ("KLDivLoss", {}, [G(log_probs(3, 4)), probs(3, 4)]),
    ("KLDivLoss", {"log_target": True}, [G(log_probs(3, 4)), G(log_probs(3, 4))]),
    ("MarginRankingLoss", {}, [G(uniform(6)), G(uniform(6)), signs(6)]),
    ("MarginRankingLoss", {"margin": 0.3}, [G(uniform(6)), G(uniform(6)), signs(6)]),
    ("HingeEmbeddingLoss", {}, [G(uniform(3, 4)), signs(3, 4)]),
    ("HingeEmbeddingLoss", {"margin": 0.5}, [G(uniform(3, 4)), signs(3, 4)]),
    ("SoftMarginLoss", {}, [G(uniform(3, 4)), signs(3, 4)]),
    ("CosineEmbeddingLoss", {}, [G(uniform(5, 3)), G(uniform(5, 3)), signs(5)]),
    ("CosineEmbeddingLoss", {"margin": 0.2}, [G(uniform(5, 3)), G(uniform(5, 3)), signs(5)]),
    ("PoissonNLLLoss", {}, [G(uniform(3, 4)), uniform(3, 4, low=0, high=4)]),
    ("PoissonNLLLoss", {"log_input": False, "full": True},
     [G(uniform(3, 4, low=0.1, high=3)), uniform(3, 4, low=0, high=4)]),
    ("GaussianNLLLoss", {}, [G(uniform(5, 2)), G(uniform(5, 2)),
                             G(uniform(5, 2, low=0.1, high=2))]),
    ("GaussianNLLLoss", {"full": True, "eps": 1e-3},
     [G(uniform(5, 2)), uniform(5, 2), G(uniform(5, 1, low=0.1, high=2))]),
    ("TripletMarginLoss", {}, [G(uniform(4, 3)), G(uniform(4, 3)), G(uniform(4, 3))]),
    ("TripletMarginLoss", {"margin": 2.0, "p": 1, "swap": True},
     [G(uniform(4, 3)), G(uniform(4, 3)), G(uniform(4, 3))]),
    ("TripletMarginWithDistanceLoss", {}, [G(uniform(4, 3)), G(uniform(4, 3)),
                                           G(uniform(4, 3))]),
    ("TripletMarginWithDistanceLoss", {"margin": 1.5, "swap": True},
     [G(uniform(4, 3)), G(uniform(4, 3)), G(uniform(4, 3))]),
    ("MultiMarginLoss", {}, [G(uniform(5, 4)), Int([1, 0, 3, 3, 2])]),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": uniform(4, low=0.2, high=2.0)},
     [G(uniform(5, 4)), Int([1, 0, 3, 3, 2])]),
    ("MultiLabelMarginLoss", {}, [G(uniform(3, 4)), Int([[3, 0, -1, 1], [1, 2, 3, 0],
                                                          [-1, 1, 2, 3]])]),
    ("MultiLabelSoftMarginLoss", {}, [G(uniform(3, 4)), RNG.integers(0, 2, (3, 4)) * 1.0]),
    ("MultiLabelSoftMarginLoss", {"weight": uniform(4, low=0.2, high=2.0)},
     [G(uniform(3, 4)), RNG.integers(0, 2, (3, 4)) * 1.0]),
]
DTYPES = {"float32": (ember.float32, torch.float32, np.float32),
          "float64": (ember.float64, torch.float64, np.float64)}


def build(lib, name, kwargs, reduction, dtype):
    """The loss ``name`` of ``lib`` (ember or torch) with array arguments as tensors."""
    lib_dtype = DTYPES[dtype][0 if lib is ember else 1]
    kwargs = {k: lib.tensor(v, dtype=lib_dtype) if isinstance(v, np.ndarray) else v
              for k, v in kwargs.items()}
    return getattr(lib.nn, name)(reduction=reduction, **kwargs)


def inputs_for(lib, inputs, dtype):
    np_dtype = DTYPES[dtype][2]
    out = []
    for x in inputs:
        if isinstance(x, Int):
            out.append(lib.tensor(x.array))
        elif isinstance(x, G):
            out.append(lib.tensor(x.array.astype(np_dtype), requires_grad=True))
        else:
            out.append(lib.tensor(np.asarray(x).astype(np_dtype)))
    return out


def reductions(name):
    return ["none", "mean", "sum"] + (["batchmean"] if name == "KLDivLoss" else [])


def _id(case):
    return case[0] + "-" + ",".join(sorted(case[1]))


@pytest.mark.filterwarnings("ignore:Using a target size", "ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_values_and_gradients_match_torch(case, dtype):
    name, kwargs, inputs = case
    for reduction in reductions(name):
        e_in, t_in = inputs_for(ember, inputs, dtype), inputs_for(torch, inputs, dtype)
        e_out = build(ember, name, kwargs, reduction, dtype)(*e_in)
        t_out = build(torch, name, kwargs, reduction, dtype)(*t_in)
        assert_same(e_out, t_out, dtype, f"{reduction} loss")
        upstream = np.random.default_rng(1).standard_normal(tuple(t_out.shape))
        upstream = upstream.astype(DTYPES[dtype][2])
        e_out.backward(ember.tensor(upstream))
        t_out.backward(torch.tensor(upstream))
        for i, (e, t) in enumerate(zip(e_in, t_in)):
            if t.requires_grad:
                assert_same(e.grad, t.grad, dtype, f"{reduction}: gradient of input {i}")


def test_cross_entropy_ignores_the_ignored_targets_gradient():
    x = ember.tensor(uniform(5, 4), requires_grad=True)
    ember.nn.CrossEntropyLoss()(x, ember.tensor(TARGET)).backward()
    np.testing.assert_array_equal(x.grad.numpy()[1], 0)


@pytest.mark.parametrize("name, kwargs, keys", [
    ("CrossEntropyLoss", {}, []),
    ("CrossEntropyLoss", {"weight": np.ones(3)}, ["weight"]),
    ("NLLLoss", {"weight": np.ones(3)}, ["weight"]),
    ("BCELoss", {"weight": np.ones(3)}, ["weight"]),
    ("BCEWithLogitsLoss", {"pos_weight": np.ones(3)}, ["pos_weight"]),
    ("BCEWithLogitsLoss", {"weight": np.ones(3), "pos_weight": np.ones(3)},
     ["weight", "pos_weight"]),
    ("MultiMarginLoss", {"weight": np.ones(3)}, ["weight"]),
    ("MultiLabelSoftMarginLoss", {"weight": np.ones(3)}, ["weight"]),
    ("MSELoss", {}, []),
])
def test_weights_are_buffers_like_torch(name, kwargs, keys):
    e = build(ember, name, kwargs, "mean", "float32")
    t = build(torch, name, kwargs, "mean", "float32")
    assert list(e.state_dict()) == list(t.state_dict()) == keys
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert list(e.parameters()) == []
    e.double()
    assert all(b.dtype == ember.float64 for b in e.buffers())
    for key in keys:
        assert getattr(e, key) is e.state_dict(keep_vars=True)[key]
    fresh = build(ember, name, {k: v * 0 for k, v in kwargs.items()}, "mean", "float64")
    fresh.load_state_dict(e.state_dict())
    for key in keys:
        np.testing.assert_array_equal(getattr(fresh, key).numpy(), 1.0)


LEGACY = [(None, None), (True, None), (False, None), (None, True), (None, False),
          (True, True), (True, False), (False, True), (False, False)]
LEGACY_LOSSES = ["L1Loss", "NLLLoss", "PoissonNLLLoss", "KLDivLoss", "MSELoss", "BCELoss",
                 "BCEWithLogitsLoss", "HingeEmbeddingLoss", "MultiLabelMarginLoss",
                 "SmoothL1Loss", "SoftMarginLoss", "CrossEntropyLoss",
                 "MultiLabelSoftMarginLoss", "CosineEmbeddingLoss", "MarginRankingLoss",
                 "MultiMarginLoss", "TripletMarginLoss"]


@pytest.mark.parametrize("name", LEGACY_LOSSES)
@pytest.mark.parametrize("size_average, reduce", LEGACY)
def test_legacy_size_average_and_reduce_map_like_torch(name, size_average, reduce):
    legacy = size_average is not None or reduce is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t = getattr(torch.nn, name)(size_average=size_average, reduce=reduce,
                                    reduction="sum")
    with warnings.catch_warnings(record=True) as e_caught:
        warnings.simplefilter("always")
        e = getattr(ember.nn, name)(size_average=size_average, reduce=reduce,
                                    reduction="sum")
    assert e.reduction == t.reduction
    assert len(e_caught) == len(caught) == int(legacy)
    if legacy:
        assert str(e_caught[0].message) == str(caught[0].message)


def test_legacy_reduction_changes_the_result():
    x, y = uniform(3, 4), uniform(3, 4)
    with pytest.warns(UserWarning):
        e = ember.nn.MSELoss(size_average=False)(ember.tensor(x), ember.tensor(y))
    np.testing.assert_allclose(e.item(), ((x - y) ** 2).sum())


CONFIGS = [
    ("L1Loss", {}), ("L1Loss", {"reduction": "sum"}), ("NLLLoss", {"ignore_index": 3}),
    ("CrossEntropyLoss", {}), ("CrossEntropyLoss", {"label_smoothing": 0.1}),
    ("CrossEntropyLoss", {"weight": np.ones(3), "ignore_index": 1, "reduction": "none"}),
    ("PoissonNLLLoss", {"log_input": False, "full": True, "eps": 1e-4}),
    ("GaussianNLLLoss", {"full": True}), ("KLDivLoss", {"reduction": "batchmean"}),
    ("KLDivLoss", {"log_target": True}), ("MSELoss", {}), ("BCELoss", {}),
    ("BCEWithLogitsLoss", {"pos_weight": np.ones(2)}), ("HingeEmbeddingLoss", {"margin": 2}),
    ("MultiLabelMarginLoss", {}), ("SmoothL1Loss", {"beta": 0.5}), ("HuberLoss", {}),
    ("HuberLoss", {"delta": 2}), ("SoftMarginLoss", {}), ("MultiLabelSoftMarginLoss", {}),
    ("CosineEmbeddingLoss", {"margin": 0.5}), ("MarginRankingLoss", {"margin": 1}),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5}), ("TripletMarginLoss", {"swap": True}),
    ("TripletMarginWithDistanceLoss", {}),
    ("TripletMarginWithDistanceLoss", {"margin": 0.5, "swap": True}),
]


@pytest.mark.parametrize("name, kwargs", CONFIGS)
def test_repr_and_attributes_match_torch(name, kwargs):
    def make(lib):
        return getattr(lib.nn, name)(**{k: lib.tensor(v) if isinstance(v, np.ndarray) else v
                                        for k, v in kwargs.items()})
    e, t = make(ember), make(torch)
    assert repr(e) == repr(t)

    def public(layer):
        return {k: v for k, v in vars(layer).items() if not k.startswith("_")}
    assert public(e) == public(t)


def test_triplet_margin_with_distance_accepts_a_module_or_function():
    a, p, n = uniform(4, 3), uniform(4, 3), uniform(4, 3)
    results = []
    for lib in (ember, torch):
        dist = lib.nn.PairwiseDistance(p=1.0)
        layer = lib.nn.TripletMarginWithDistanceLoss(distance_function=dist)
        assert list(layer.children()) == [dist]
        fn = lib.nn.TripletMarginWithDistanceLoss(
            distance_function=lambda x, y: 1.0 - lib.nn.functional.cosine_similarity(x, y))
        assert list(fn.children()) == []
        args = [lib.tensor(v) for v in (a, p, n)]
        results.append((layer(*args), fn(*args), repr(layer)))
    assert_same(results[0][0], results[1][0])
    assert_same(results[0][1], results[1][1])
    assert results[0][2] == results[1][2]


def test_distance_modules_match_torch():
    x1, x2 = uniform(4, 3), uniform(4, 3)
    for name, kwargs in [("PairwiseDistance", {}), ("PairwiseDistance", {"p": 1.0,
                                                                          "keepdim": True}),
                         ("CosineSimilarity", {}), ("CosineSimilarity", {"dim": 0})]:
        e, t = getattr(ember.nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
        assert repr(e) == repr(t) and vars(t).get("norm") == vars(e).get("norm")
        assert_same(e(ember.tensor(x1), ember.tensor(x2)), t(torch.tensor(x1),
                                                              torch.tensor(x2)))


@pytest.mark.parametrize("name, kwargs, error", [
    ("MultiMarginLoss", {"p": 3}, ValueError),
    ("MultiMarginLoss", {"weight": np.ones((2, 2))}, ValueError),
    ("TripletMarginLoss", {"margin": 0.0}, ValueError),
    ("TripletMarginLoss", {"margin": -1.0}, ValueError),
    ("TripletMarginWithDistanceLoss", {"margin": 0}, ValueError),
    ("HuberLoss", {"delta": "1"}, TypeError),
])
def test_constructor_errors_match_torch(name, kwargs, error):
    def make(lib):
        return getattr(lib.nn, name)(**{k: lib.tensor(v) if isinstance(v, np.ndarray) else v
                                        for k, v in kwargs.items()})
    with pytest.raises(error) as t_err:
        make(torch)
    with pytest.raises(error) as e_err:
        make(ember)
    assert str(e_err.value) == str(t_err.value)


@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "CrossEntropyLoss", "BCELoss"])
def test_invalid_reduction_fails_at_forward_like_torch(name):
    x, y = uniform(2, 3, low=0.1, high=0.9), uniform(2, 3, low=0.1, high=0.9)
    e, t = getattr(ember.nn, name)(reduction="avg"), getattr(torch.nn, name)(reduction="avg")
    assert e.reduction == t.reduction == "avg"
    with pytest.raises(ValueError):
        t(torch.tensor(x), torch.tensor(y))
    with pytest.raises(ValueError):
        e(ember.tensor(x), ember.tensor(y))


def test_nll_loss_2d_is_a_deprecated_nll_loss():
    with pytest.warns(FutureWarning):
        e = ember.nn.NLLLoss2d(ignore_index=1)
    assert isinstance(e, ember.nn.NLLLoss) and e.ignore_index == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert repr(e) == repr(torch.nn.NLLLoss2d(ignore_index=1))


def test_losses_work_in_a_training_step_like_torch():
    x, y = uniform(6, 3), np.array([0, 2, 1, 1, 0, 2])
    results = []
    for lib in (ember, torch):
        lib.manual_seed(0)
        model = lib.nn.Linear(3, 3).double()
        with lib.no_grad():
            model.weight.copy_(lib.tensor(np.eye(3) * 0.5))
            model.bias.copy_(lib.tensor(np.arange(3.0) / 10))
        loss = lib.nn.CrossEntropyLoss(label_smoothing=0.05)(model(lib.tensor(x)),
                                                             lib.tensor(y))
        loss.backward()
        results.append((loss, model.weight.grad, model.bias.grad))
    for e, t in zip(*results):
        assert_same(e, t)
