"""ember.compile(train_step) through a TrainPlan: the same parameters as eager, step by step.

The plan (``ember/jit/train_plan.py``) runs a captured step's forward and backward on
arrays and updates each parameter as soon as its gradient is complete. These tests check
it against eager ember (same seed, deep-copied model) and against PyTorch, that it is
really the path taken, and that every case it does not handle falls back to the replay.
"""

import copy

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
import ember.profiler
from ember import models, nn, optim
from ember.jit import train_plan
from ember.jit.array_conv import _reuses_columns
from ember.jit.graph import Value
from tests.jit.rule_checks import assert_rule_equals_backward


@pytest.fixture
def plan_calls(monkeypatch):
    """Counts the steps run by a TrainPlan (the others were replayed)."""
    calls = []
    run = train_plan.TrainPlan.run

    def counted(self, inputs):
        calls.append(self)
        return run(self, inputs)

    monkeypatch.setattr(train_plan.TrainPlan, "run", counted)
    return calls


def _loss(out, y, classes):
    out = out[0] if isinstance(out, tuple) else out
    return F.cross_entropy(out.reshape(-1, classes), y.reshape(-1))


def _models():
    ember.manual_seed(0)
    return {
        "mlp": (nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5)),
                lambda: ember.randn(8, 12), 5),
        "lenet": (nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(inplace=True),
                                nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3 * 4 * 4, 5)),
                  lambda: ember.randn(6, 1, 8, 8), 5),
        "char_lstm": (models.char_lstm(vocab_size=11, embed_dim=6, hidden_size=8),
                      lambda: ember.randint(0, 11, (3, 7)), 11),
        "gpt": (models.gpt(vocab_size=13, max_len=8, d_model=16, n_heads=2, n_layers=1,
                           d_ff=32, dropout=0.0), lambda: ember.randint(0, 13, (2, 8)), 13),
    }


def _targets(name, x, classes):
    shape = (x.shape[0],) if name in ("mlp", "lenet") else tuple(x.shape)
    return ember.randint(0, classes, shape)


def _twin_steps(model, make_opt, classes, zero_grad=True):
    """A compiled step on ``model`` and an eager step on a deep copy of it."""
    twin = copy.deepcopy(model)
    opt, twin_opt = make_opt(model.parameters()), make_opt(twin.parameters())

    def step(net, optimizer):
        def run(x, y):
            if zero_grad:
                optimizer.zero_grad()
            loss = _loss(net(x), y, classes)
            loss.backward()
            optimizer.step()
            return loss
        return run

    return ember.compile(step(model, opt)), step(twin, twin_opt), twin, (opt, twin_opt)


def _assert_same_parameters(model, twin, rtol=0, atol=0):
    for (key, p), (_, q) in zip(model.state_dict().items(), twin.state_dict().items()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=rtol, atol=atol, err_msg=key)


@pytest.mark.parametrize("name", ["mlp", "lenet", "char_lstm", "gpt"])
@pytest.mark.parametrize("make_opt", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-4),
    lambda p: optim.AdamW(p, lr=1e-2),
], ids=["sgd", "adamw"])
def test_planned_step_equals_eager_step(name, make_opt, plan_calls):
    model, make_x, classes = _models()[name]
    exact = name in ("mlp", "gpt")
    compiled, eager, twin, _ = _twin_steps(model, make_opt, classes)
    for step in range(4):
        ember.manual_seed(100 + step)
        x = make_x()
        y = _targets(name, x, classes)
        loss, twin_loss = compiled(x, y), eager(x, y)
        np.testing.assert_allclose(float(loss), float(twin_loss), rtol=0 if exact else 1e-6)
    # The plan runs the ops' own forward code and the same backward arithmetic in the
    # same order as the engine: the parameters come out identical, not just close. Two
    # rewrites change the rounding: the conv's weight gradient from the forward's columns
    # (summed in another order than a conv_weight split over threads) and the LSTM's input
    # projection folded into the embedding's table (``passes/embedding_projection.py``).
    _assert_same_parameters(model, twin, **({} if exact else {"rtol": 1e-5, "atol": 1e-6}))
    assert len(plan_calls) == 3  # every call after the capturing one
    targets = {e.node.target for e in plan_calls[0].backward_nodes}
    assert ("LSTMSequenceFromTable" in targets) == (name == "char_lstm")


def test_planned_step_matches_pytorch():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    ref = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    with torch.no_grad():
        for p, q in zip(model.parameters(), ref.parameters()):
            q.copy_(torch.from_numpy(p.detach().numpy().copy()))
    opt = optim.Adam(model.parameters(), lr=1e-2)
    ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-2)

    @ember.compile
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        return loss

    rng = np.random.default_rng(0)
    for _ in range(4):
        x, y = rng.standard_normal((5, 6), dtype=np.float32), rng.integers(0, 3, 5)
        loss = step(ember.from_numpy(x), ember.from_numpy(y))
        ref_opt.zero_grad()
        ref_loss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)),
                                                     torch.from_numpy(y), label_smoothing=0.1)
        ref_loss.backward()
        ref_opt.step()
        np.testing.assert_allclose(float(loss), ref_loss.item(), rtol=1e-5)
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_gradients_accumulate_without_zero_grad(plan_calls):
    model, make_x, classes = _models()["mlp"]
    compiled, eager, twin, _ = _twin_steps(
        model, lambda p: optim.SGD(p, lr=0.05), classes, zero_grad=False)
    for step in range(3):
        ember.manual_seed(step)
        x = make_x()
        y = _targets("mlp", x, classes)
        compiled(x, y), eager(x, y)
    _assert_same_parameters(model, twin)
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert len(plan_calls) == 2


def test_parameters_outside_the_graph_are_still_stepped(plan_calls):
    """``optimizer.step()`` updates every parameter with a gradient, used or not."""
    model, make_x, classes = _models()["mlp"]
    extra = nn.Parameter(ember.ones(3))
    extra.grad = ember.full((3,), 0.5)
    opt = optim.SGD(list(model.parameters()) + [extra], lr=0.1)

    @ember.compile
    def step(x, y):
        loss = _loss(model(x), y, classes)
        loss.backward()
        opt.step()
        return loss

    x = make_x()
    y = _targets("mlp", x, classes)
    for _ in range(3):
        step(x, y)
    np.testing.assert_allclose(extra.detach().numpy(), np.full(3, 1 - 3 * 0.05), rtol=1e-6)
    assert len(plan_calls) == 2


def _mlp_step(model, opt):
    @ember.compile
    def step(x, y):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def test_optimizer_hooks_run_once_per_step(plan_calls):
    model, make_x, classes = _models()["mlp"]
    twin = copy.deepcopy(model)
    opt, twin_opt = optim.SGD(model.parameters(), lr=0.1), optim.SGD(twin.parameters(), lr=0.1)
    seen = []
    opt.register_step_pre_hook(lambda o, args, kwargs: seen.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: seen.append("post"))
    step, eager = _mlp_step(model, opt), _mlp_step(twin, twin_opt).fn
    x = make_x()
    y = _targets("mlp", x, classes)
    for _ in range(3):
        step(x, y), eager(x, y)
    assert seen == ["pre", "post"] * 3
    _assert_same_parameters(model, twin)


@pytest.mark.parametrize("change", ["freeze", "hook", "profiler", "anomaly"])
def test_what_the_plan_does_not_cover_is_replayed(change, plan_calls):
    model, make_x, classes = _models()["mlp"]
    twin = copy.deepcopy(model)
    opt, twin_opt = optim.SGD(model.parameters(), lr=0.1), optim.SGD(twin.parameters(), lr=0.1)
    step, eager = _mlp_step(model, opt), _mlp_step(twin, twin_opt).fn
    x = make_x()
    y = _targets("mlp", x, classes)
    step(x, y), eager(x, y)
    hooked = []
    if change == "freeze":
        model[0].weight.requires_grad_(False)
        twin[0].weight.requires_grad_(False)
    elif change == "hook":
        model[0].bias.register_hook(lambda g: hooked.append(g) or g * 0)
        twin[0].bias.register_hook(lambda g: g * 0)
    if change == "profiler":
        with ember.profiler.profile() as prof:
            step(x, y)
        assert prof.key_averages()  # the replay's ops were seen
    elif change == "anomaly":
        with ember.autograd.detect_anomaly():
            step(x, y)
    else:
        step(x, y)
    eager(x, y)
    assert plan_calls == []
    _assert_same_parameters(model, twin)
    assert len(hooked) == (1 if change == "hook" else 0)
    step(x, y), eager(x, y)
    _assert_same_parameters(model, twin)


def test_a_step_with_two_backward_calls_is_not_planned():
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)

    @ember.compile
    def step(x):
        opt.zero_grad()
        model(x).sum().backward()
        model(x * 2).sum().backward()
        opt.step()
        return model.weight * 1

    step(ember.ones(2, 3))
    assert next(iter(step._captured.values()))[3] is None
    before = model.weight.detach().numpy().copy()
    step(ember.ones(2, 3))  # replayed: both gradients (2 + 4 per weight) summed, then a step
    np.testing.assert_allclose(model.weight.detach().numpy(), before - 0.1 * 6, rtol=1e-6)


def test_a_batchnorm_step_runs_on_the_plan_and_updates_its_buffers(plan_calls):
    """Batch norm's running statistics are updated in place by its op, its batch count by
    an ``assign`` node: the plan writes both each step, as eager code does (the count's
    version counter bumped, as the interpreter's ``assign`` does)."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                          nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    compiled, eager, twin, _ = _twin_steps(model, lambda p: optim.SGD(p, lr=0.1), 3)
    bn = model[1]
    versions = []
    for step in range(3):
        ember.manual_seed(step)
        x = ember.randn(4, 1, 4, 4)
        y = ember.randint(0, 3, (4,))
        compiled(x, y), eager(x, y)
        versions.append(bn.num_batches_tracked._vbox[0])
        _assert_same_parameters(model, twin, rtol=1e-6, atol=1e-7)  # buffers included
    assert len(plan_calls) == 2
    assert int(bn.num_batches_tracked) == int(twin[1].num_batches_tracked) == 3
    assert versions[0] < versions[1] < versions[2]
    assert not np.array_equal(bn.running_var.numpy(), np.ones(2, np.float32))


# ---- array-level rules against each op's own backward --------------------------------

def _max_pool_params():
    """MaxPool's params as ``F.max_pool2d`` records them, for a 2x2 pool of 4x4 planes."""
    example = ember.randn(2, 3, 4, 4).requires_grad_()  # so that it keeps its argmax
    graph = ember.jit.trace(lambda x: F.max_pool2d(x, 2), example).graph
    return next(n for n in graph.nodes if n.target == "MaxPool").params


def _rule_cases():
    rng = np.random.default_rng(0)

    def arr(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    return [
        ("MaxPool", [arr(2, 3, 4, 4)], _max_pool_params(), [True]),
        ("Relu", [arr(3, 4)], {}, [True]),
        ("Reshape", [arr(3, 4)], {"shape": (2, 6)}, [True]),
        ("Add", [arr(3, 4), arr(4)], {}, [True, True]),
        ("Add", [arr(3, 4), arr(4)], {}, [False, True]),
    ]


@pytest.mark.parametrize("target, arrays, params, send", _rule_cases(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_array_rules_equal_the_ops_own_backward(target, arrays, params, send):
    assert_rule_equals_backward(target, arrays, params, send)


@pytest.mark.parametrize("kwargs", [{}, {"reduction": "sum"}, {"ignore_index": 2},
                                    {"label_smoothing": 0.2}, {"reduction": "none"}])
@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 5)])
def test_cross_entropy_rule_equals_the_function(kwargs, shape):
    import inspect

    from ember.jit.array_backward import FUNCTIONS
    from ember.ops.loss import cross_entropy

    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    t = rng.integers(0, 4, (shape[0],) + shape[2:])
    xt = ember.from_numpy(x.copy()).requires_grad_()
    loss = F.cross_entropy(xt, ember.from_numpy(t), **kwargs)
    grad = rng.standard_normal(loss.shape).astype(np.float32)
    loss.backward(ember.from_numpy(grad))

    bound = inspect.signature(cross_entropy).bind({"$in": 0}, {"$in": 1}, **kwargs)
    bound.apply_defaults()
    values = [Value("x", x.shape, x.dtype), Value("t", t.shape, t.dtype)]
    forward, backward = FUNCTIONS["cross_entropy"](bound.arguments, values)
    (out,), record = forward([x, t])
    np.testing.assert_array_equal(out, loss.detach().numpy())
    found = backward(record, [x, t], [grad], [True, False])
    np.testing.assert_array_equal(found[0], xt.grad.numpy())
    assert found[1] is None


def test_cross_entropy_rule_leaves_class_weights_to_the_function():
    import inspect

    from ember.jit.array_backward import FUNCTIONS
    from ember.ops.loss import cross_entropy

    bound = inspect.signature(cross_entropy).bind({"$in": 0}, {"$in": 1}, {"$in": 2})
    bound.apply_defaults()
    values = [Value(n, (2, 3), d) for n, d in
              (("x", np.float32), ("t", np.int64), ("w", np.float32))]
    assert FUNCTIONS["cross_entropy"](bound.arguments, values) is None


# ---- rewrites and reused forward work ----------------------------------------------------

def _pool_step(param, opt, weights):
    def step():
        opt.zero_grad()
        h = F.max_pool2d(F.relu(param), 2)
        loss = (h * weights).sum()
        loss.backward()
        opt.step()
        return loss
    return step


def test_relu_then_max_pool_is_swapped_with_the_same_gradients(plan_calls):
    # Windows whose maximum is positive, negative, zero, and tied (the first one wins).
    data = np.array([[[[1.0, 3.0, -1.0, -2.0], [3.0, 0.5, -0.5, -3.0],
                       [0.0, -1.0, 2.0, 2.0], [-1.0, 0.0, 2.0, -4.0]]]], np.float32)
    weights = ember.from_numpy(np.array([[[[1.0, -2.0], [0.5, 3.0]]]], np.float32))
    p, q = (nn.Parameter(ember.from_numpy(data.copy())) for _ in range(2))
    opt_p, opt_q = optim.SGD([p], lr=0.1), optim.SGD([q], lr=0.1)
    compiled, eager = ember.compile(_pool_step(p, opt_p, weights)), _pool_step(q, opt_q, weights)
    for _ in range(3):
        assert float(compiled()) == float(eager())
    np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
    plan = next(iter(compiled._captured.values()))[3]
    order = [e.node.target for e in plan.backward_nodes]
    assert order.index("Relu") < order.index("MaxPool")  # backward: ReLU runs first now
    assert len(plan_calls) == 2


@pytest.mark.parametrize("channels, out, kernel", [(1, 4, 5), (2, 4, 3), (6, 16, 5), (16, 4, 3)])
def test_conv_rule_equals_eager(channels, out, kernel, plan_calls):
    """Under 16 input channels and with a tiny weight, the weight's gradient comes from
    the forward's columns; the others run Conv's own code."""
    ember.manual_seed(0)
    side = 8 + 2 - kernel + 1
    model = nn.Sequential(nn.Conv2d(channels, out, kernel, padding=1), nn.Flatten(),
                          nn.Linear(out * side * side, 3))
    compiled, eager, twin, _ = _twin_steps(model, lambda p: optim.SGD(p, lr=0.1), 3)
    for step in range(3):
        ember.manual_seed(step)
        x = ember.randn(3, channels, 8, 8)
        y = ember.randint(0, 3, (3,))
        compiled(x, y), eager(x, y)
    _assert_same_parameters(model, twin, rtol=1e-6, atol=1e-7)
    plan = plan_calls[0]
    conv = next(e for e in plan.backward_nodes if e.node.target == "Conv")
    assert conv.rule is not None and conv.array_forward is not None
    weight = model[0].weight.detach().numpy()
    reused = _reuses_columns(x.numpy(), weight, conv.params["geom"])
    assert reused == (channels < 16 and out < 16)


def test_a_tied_weight_is_stepped_after_all_its_gradients(plan_calls):
    """The input embedding and the output layer share one matrix (weight tying)."""
    ember.manual_seed(0)

    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(7, 4)
            self.mix = nn.Linear(4, 4)

        def forward(self, tokens):
            return F.linear(self.mix(self.embed(tokens)).relu(), self.embed.weight)

    model = Tied()
    compiled, eager, twin, _ = _twin_steps(model, lambda p: optim.Adam(p, lr=1e-2), 7)
    for step in range(3):
        ember.manual_seed(step)
        x = ember.randint(0, 7, (3, 5))
        compiled(x, x), eager(x, x)
    _assert_same_parameters(model, twin)
    assert len(plan_calls) == 2

