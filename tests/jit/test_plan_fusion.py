"""What a TrainPlan runs its own way: ``Linear`` and ``Linear`` + ``Relu`` on arrays
(``ember/jit/array_linear.py``), cross-entropy's short path (``array_loss.py``) and the
optimizer's updates in groups on threads (``plan_optimizer.py``).

Each is checked against eager ember (bitwise: the same arithmetic) and PyTorch, with
compiled kernels on and off, and with the thread splits forced on.
"""

import copy

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember import _threads, nn, optim
from ember.jit import array_linear, plan_optimizer, plan_rewrites, train_plan


def _mlp(width=16, dtype=ember.float32):
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(12, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, 5)).to(dtype)


def _step(model, opt, loss_fn=F.cross_entropy):
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _twins(model, make_opt, loss_fn=F.cross_entropy):
    twin = copy.deepcopy(model)
    opt, twin_opt = make_opt(model.parameters()), make_opt(twin.parameters())
    return (ember.compile(_step(model, opt, loss_fn)), _step(twin, twin_opt, loss_fn), twin,
            opt)


def _plan(compiled):
    return next(iter(compiled._captured.values()))[3]


def _batches(n, dtype=ember.float32, ignored=0):
    rng = np.random.default_rng(1)
    for _ in range(n):
        x = ember.from_numpy(rng.standard_normal((8, 12))).to(dtype)
        y = rng.integers(0, 5, 8)
        y[:ignored] = -100
        yield x, ember.from_numpy(y)


def _same(model, twin):
    for (key, p), (_, q) in zip(model.state_dict().items(), twin.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=key)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_linear_relu_nodes_equal_eager(kernels, dtype):
    model = _mlp(dtype=dtype)
    compiled, eager, twin, _ = _twins(model, lambda p: optim.SGD(p, lr=0.1, momentum=0.9))
    for x, y in _batches(4, dtype):
        np.testing.assert_array_equal(compiled(x, y).detach().numpy(), eager(x, y).detach().numpy())
    _same(model, twin)
    targets = [e.node.target for e in _plan(compiled).backward_nodes]
    assert targets == ["cross_entropy", "Linear", "LinearRelu", "LinearRelu"]


def test_linear_relu_matches_pytorch_with_nans_and_zeros():
    """The fused bias and ReLU keep nan (as ``relu``) and give 0 where ``x + b <= 0``."""
    w = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    b = np.array([0.0, -1.0, 0.5], np.float32)
    x = np.array([[np.nan, 1.0], [-2.0, 1.0], [0.0, 3.0]], np.float32)
    out = array_linear.LinearRelu().forward(x, w, b)
    ref = torch.relu(torch.nn.functional.linear(*map(torch.from_numpy, (x, w, b))))
    np.testing.assert_array_equal(out, ref.numpy())


def test_linear_relu_bias_in_pieces_on_threads(split_everything):
    seen = split_everything(array_linear, "_SPLIT_SIZE")
    model = _mlp(width=64)
    compiled, eager, twin, _ = _twins(model, lambda p: optim.Adam(p, lr=1e-2))
    for x, y in _batches(3):
        compiled(x, y), eager(x, y)
    _same(model, twin)
    assert any(count == 2 for _, count in seen)


def test_a_product_read_twice_is_not_fused():
    """``h = lin(x)`` feeds both a ReLU and the head: the product must stay a value."""
    ember.manual_seed(0)
    lin, head = nn.Linear(12, 6), nn.Linear(12, 5)
    twin_lin, twin_head = copy.deepcopy(lin), copy.deepcopy(head)

    def make(lin, head):
        opt = optim.SGD(list(lin.parameters()) + list(head.parameters()), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            h = lin(x)
            loss = F.cross_entropy(head(ember.cat([F.relu(h), h], dim=1)), y)
            loss.backward()
            opt.step()
            return loss
        return step

    compiled, eager = ember.compile(make(lin, head)), make(twin_lin, twin_head)
    for x, y in _batches(3):
        compiled(x, y), eager(x, y)
    targets = {e.node.target for e in _plan(compiled).backward_nodes}
    assert "LinearRelu" not in targets and "Relu" in targets
    for m, t in ((lin, twin_lin), (head, twin_head)):
        _same(m, t)


def test_rewrites_off_give_the_same_parameters(monkeypatch):
    model = _mlp()
    compiled, eager, twin, _ = _twins(model, lambda p: optim.AdamW(p, lr=1e-2))
    monkeypatch.setattr(plan_rewrites, "ENABLED", False)
    for x, y in _batches(3):
        compiled(x, y), eager(x, y)
    _same(model, twin)
    assert "LinearRelu" not in {e.node.target for e in _plan(compiled).backward_nodes}


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("ignored", [0, 3], ids=["all-classes", "some-ignored"])
def test_cross_entropy_paths_equal_eager_and_pytorch(kernels, reduction, ignored):
    model = _mlp()
    ref = torch.nn.Sequential(torch.nn.Linear(12, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
                              torch.nn.ReLU(), torch.nn.Linear(16, 5))
    with torch.no_grad():
        for p, q in zip(model.parameters(), ref.parameters()):
            q.copy_(torch.from_numpy(p.detach().numpy().copy()))
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.1)

    def loss_fn(out, y):
        return F.cross_entropy(out, y, reduction=reduction)

    compiled, eager, twin, _ = _twins(model, lambda p: optim.SGD(p, lr=0.1), loss_fn)
    for x, y in _batches(4, ignored=ignored):
        loss = compiled(x, y)
        np.testing.assert_array_equal(loss.detach().numpy(), eager(x, y).detach().numpy())
        ref_opt.zero_grad()
        ref_loss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x.numpy())),
                                                     torch.from_numpy(y.numpy()),
                                                     reduction=reduction)
        ref_loss.backward()
        ref_opt.step()
        np.testing.assert_allclose(float(loss), ref_loss.item(), rtol=1e-5)
    _same(model, twin)
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_cross_entropy_short_path_still_rejects_bad_targets():
    model = _mlp()
    compiled, _, _, _ = _twins(model, lambda p: optim.SGD(p, lr=0.1))
    x, y = next(_batches(1))
    compiled(x, y), compiled(x, y)
    assert _plan(compiled) is not None
    with pytest.raises(IndexError, match="out of bounds"):
        compiled(x, ember.full((8,), 7, dtype=ember.int64))


@pytest.mark.parametrize("make_opt", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda p: optim.AdamW(p, lr=1e-2),
    lambda p: optim.Adam(p, lr=1e-2, amsgrad=True),
], ids=["sgd", "adamw", "adam-amsgrad"])
def test_optimizer_updates_in_groups_on_threads(make_opt, split_everything):
    seen = split_everything(plan_optimizer, "_SPLIT_SIZE")
    model = _mlp()
    compiled, eager, twin, opt = _twins(model, make_opt)
    versions = [p._vbox[0] for p in model.parameters()]
    for x, y in _batches(4):
        compiled(x, y), eager(x, y)
    _same(model, twin)
    assert seen.count((2, 2)) == 3  # every step after the capturing one
    for p, version in zip(model.parameters(), versions):
        assert p._vbox[0] == version + 4  # each update bumped the version once
    assert opt.state_dict()["state"].keys() == _step_state(twin, make_opt).keys()


def test_no_groups_while_openblas_threads_run_the_products(split_everything):
    seen = split_everything(plan_optimizer, "_SPLIT_SIZE")
    model = _mlp()
    compiled, eager, twin, _ = _twins(model, lambda p: optim.SGD(p, lr=0.1, momentum=0.9))
    _threads.set_blas_products(True)  # the step tuner's "blas" mode
    try:
        for x, y in _batches(3):
            compiled(x, y), eager(x, y)
    finally:
        _threads.set_blas_products(False)
    _same(model, twin)
    assert seen == []
    compiled(*next(_batches(1)))
    assert seen == [(2, 2)]  # back to groups in the default mode


def _step_state(twin, make_opt):
    opt = make_opt(twin.parameters())
    for p in twin.parameters():
        p.grad = ember.zeros_like(p)
    opt.step()
    return opt.state_dict()["state"]


def test_a_hooked_or_custom_optimizer_steps_itself(split_everything):
    seen = split_everything(plan_optimizer, "_SPLIT_SIZE")
    model = _mlp()
    compiled, eager, twin, opt = _twins(model, lambda p: optim.SGD(p, lr=0.1, momentum=0.9))
    calls = []
    opt.register_step_post_hook(lambda *args: calls.append(1))
    for x, y in _batches(3):
        compiled(x, y), eager(x, y)
    _same(model, twin)
    assert calls == [1, 1, 1] and seen == []


def test_plan_flag_still_replays(monkeypatch):
    model = _mlp()
    compiled, eager, twin, _ = _twins(model, lambda p: optim.SGD(p, lr=0.1))
    monkeypatch.setattr(train_plan, "ENABLED", False)
    for x, y in _batches(3):
        compiled(x, y), eager(x, y)
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6)


def test_returned_values_have_spent_grad_fns_like_eager():
    model = _mlp()
    opt = optim.SGD(model.parameters(), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        out = model(x)
        loss = F.cross_entropy(out, y)
        copied = x * 1
        loss.backward()
        opt.step()
        return loss, out, copied

    compiled = ember.compile(step)
    batches = list(_batches(3))
    eager = step(*batches[0])
    compiled(*batches[1])
    planned = compiled(*batches[2])
    assert _plan(compiled) is not None
    for e, p in zip(eager, planned):
        assert p.requires_grad == e.requires_grad
        assert (p.grad_fn is None) == (e.grad_fn is None)
        if e.grad_fn is not None:
            assert p.grad_fn.name() == e.grad_fn.name()
    assert "grad_fn=<CrossEntropyBackward0>" in repr(planned[0])
    for loss in (eager[0], planned[0]):
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            loss.backward()


def test_inplace_relu_after_linear_equals_eager():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(inplace=True), nn.Linear(16, 5))
    compiled, eager, twin, _ = _twins(model, lambda p: optim.SGD(p, lr=0.1, momentum=0.9))
    for x, y in _batches(3):
        compiled(x, y), eager(x, y)
    _same(model, twin)
    assert _plan(compiled) is not None


def test_without_the_fused_node_the_rewrite_keeps_linear_and_relu(monkeypatch):
    """If ``array_linear`` could not be imported, the plan runs the nodes as captured."""
    monkeypatch.delitem(array_linear.OPS, "LinearRelu")
    model = _mlp()
    compiled, eager, twin, _ = _twins(model, lambda p: optim.SGD(p, lr=0.1))
    for x, y in _batches(3):
        compiled(x, y), eager(x, y)
    _same(model, twin)
    targets = [e.node.target for e in _plan(compiled).backward_nodes]
    assert "LinearRelu" not in targets and targets.count("Relu") == 2


def test_a_rewritten_output_keeps_eager_grad_fn_class():
    """ReLU then max-pool runs swapped in the plan; the output still shows MaxPool's node."""
    ember.manual_seed(0)
    conv, head = nn.Conv2d(1, 2, 3, padding=1), nn.Linear(2 * 4 * 4, 5)
    opt = optim.SGD(list(conv.parameters()) + list(head.parameters()), lr=0.1)

    def step(x, y):
        opt.zero_grad()
        pooled = F.max_pool2d(F.relu(conv(x)), 2)
        loss = F.cross_entropy(head(pooled.flatten(1)), y)
        loss.backward()
        opt.step()
        return pooled

    compiled = ember.compile(step)
    x, y = ember.randn(3, 1, 8, 8), ember.randint(0, 5, (3,))
    eager_name = step(x, y).grad_fn.name()
    compiled(x, y)
    swapped = [e for e in _plan(compiled).backward_nodes if e.node.target == "Relu"]
    assert [getattr(e.node, "eager", None) for e in swapped] == ["MaxPool"]
    assert compiled(x, y).grad_fn.name() == eager_name == "MaxPoolBackward0"
