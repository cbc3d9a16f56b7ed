"""Module and containers: the same model written for ember and torch behaves the same."""

import numpy as np
import pytest
import torch

import ember


def affine(lib):
    class Affine(lib.nn.Module):
        def __init__(self, n_in, n_out, bias=True):
            super().__init__()
            self.weight = lib.nn.Parameter(lib.ones(n_out, n_in))
            if bias:
                self.bias = lib.nn.Parameter(lib.zeros(n_out))
            else:
                self.register_parameter("bias", None)
            self.register_buffer("calls", lib.zeros(1))
            self.register_buffer("scratch", lib.zeros(2), persistent=False)

        def forward(self, x):
            self.calls += 1
            out = x @ self.weight.T
            return out if self.bias is None else out + self.bias

    return Affine


def model(lib):
    Affine = affine(lib)

    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = lib.nn.Sequential(Affine(3, 4), Affine(4, 4, bias=False))
            self.heads = lib.nn.ModuleDict({"a": Affine(4, 2), "b": Affine(4, 1)})
            self.extra = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2))])
            self.shared = self.body[0]  # the same module under two names

        def forward(self, x):
            h = self.body(x)
            return self.heads["a"](h).sum() + self.heads["b"](h).sum() + self.extra[0].sum()

    return Net()


def test_names_and_order_match_torch():
    e, t = model(ember), model(torch)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert list(e.state_dict()) == list(t.state_dict())
    assert len(list(e.parameters())) == len(list(t.parameters()))


def test_state_dict_round_trip_between_frameworks():
    e, t = model(ember), model(torch)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        for p in t.parameters():
            p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    e.load_state_dict({k: ember.from_numpy(v.numpy().copy()) for k, v in t.state_dict().items()})
    x = rng.standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(e(ember.from_numpy(x)).item(), t(torch.from_numpy(x)).item(),
                               rtol=1e-5)
    back = model(ember)
    back.load_state_dict(e.state_dict())
    for (n1, a), (n2, b) in zip(back.state_dict().items(), e.state_dict().items()):
        assert n1 == n2 and np.array_equal(a.numpy(), b.numpy())


def test_state_dict_shares_memory_and_is_detached():
    e = model(ember)
    sd = e.state_dict()
    assert not sd["body.0.weight"].requires_grad
    with ember.no_grad():
        sd["body.0.weight"].fill_(7)
    assert e.body[0].weight.detach().numpy().max() == 7


def test_load_state_dict_errors_list_every_problem():
    e = model(ember)
    sd = dict(e.state_dict())
    sd["body.0.weight"] = ember.ones(9, 9)
    del sd["heads.a.bias"]
    sd["nonsense"] = ember.ones(1)
    with pytest.raises(RuntimeError) as info:
        e.load_state_dict(sd)
    msg = str(info.value)
    assert 'Missing key(s) in state_dict: "heads.a.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "nonsense"' in msg
    assert "size mismatch for body.0.weight: copying a param with shape (9, 9)" in msg
    sd["body.0.weight"] = ember.ones(4, 3)
    result = e.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["heads.a.bias"] and result.unexpected_keys == ["nonsense"]


def test_train_eval_zero_grad_requires_grad():
    e = model(ember)
    e.eval()
    assert not any(m.training for m in e.modules())
    e.train()
    assert all(m.training for m in e.modules())
    e(ember.ones(2, 3)).backward()
    assert all(p.grad is not None for p in e.parameters())
    e.zero_grad(set_to_none=False)
    assert all(p.grad.numpy().sum() == 0 for p in e.parameters())
    e.zero_grad()
    assert all(p.grad is None for p in e.parameters())
    e.requires_grad_(False)
    assert not any(p.requires_grad for p in e.parameters())


def test_hooks_match_torch():
    logs = {}
    for lib in (ember, torch):
        m = affine(lib)(2, 2)
        seen = []
        pre = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
        m.register_forward_hook(lambda mod, args, out: seen.append(tuple(out.shape)) or out + 1)
        out = m(lib.ones(3, 2))
        pre.remove()
        out2 = m(lib.ones(3, 2))
        logs[lib.__name__] = (out.detach().numpy(), out2.detach().numpy(), seen)
    np.testing.assert_allclose(logs["ember"][0], logs["torch"][0])
    np.testing.assert_allclose(logs["ember"][1], logs["torch"][1])
    assert logs["ember"][2] == logs["torch"][2]


def test_apply_to_and_dtype_conversion():
    e = model(ember)
    e.apply(lambda m: setattr(m, "visited", True))
    assert all(getattr(m, "visited", False) for m in e.modules())
    e.double()
    assert all(p.dtype == ember.float64 for p in e.parameters())
    e.to(ember.float32)
    assert all(p.dtype == ember.float32 for p in e.parameters())
    assert e.to("cpu") is e


def test_assignment_rules():
    m = ember.nn.Module()
    m.w = ember.nn.Parameter(ember.ones(1))
    with pytest.raises(TypeError, match="cannot assign"):
        m.w = ember.ones(1)
    m.w = None
    assert "w" in m._parameters and m.w is None
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        m.missing
    with pytest.raises(AttributeError, match="before Module.__init__"):
        class Bad(ember.nn.Module):
            def __init__(self):
                self.w = ember.nn.Parameter(ember.ones(1))
        Bad()


def test_containers_behave_like_torch():
    for lib in (ember, torch):
        A = affine(lib)
        seq = lib.nn.Sequential(A(1, 1), A(1, 2), A(2, 3))
        assert len(seq) == 3 and isinstance(seq[1:], lib.nn.Sequential) and len(seq[1:]) == 2
        del seq[0]
        assert [n for n, _ in seq.named_children()] == ["0", "1"]
        seq.append(A(3, 1))
        assert len(seq) == 3
        ml = lib.nn.ModuleList([A(1, 1)])
        ml += [A(1, 1)]
        ml.insert(0, A(2, 2))
        assert len(ml) == 3 and ml[-1] is list(ml)[-1]
        pd = lib.nn.ParameterDict({"x": lib.nn.Parameter(lib.ones(1))})
        assert "x" in pd and len(list(pd.parameters())) == 1


def test_repr_matches_torch_for_custom_tree():
    def build(lib):
        class Leaf(lib.nn.Module):
            def extra_repr(self):
                return "size=3"

        return lib.nn.Sequential(Leaf(), lib.nn.ModuleList([Leaf(), Leaf()]))

    assert repr(build(ember)) == repr(build(torch))


def test_parameter_repr_and_identity():
    p = ember.nn.Parameter(ember.zeros(2))
    assert repr(p).startswith("Parameter containing:\ntensor([0., 0.], requires_grad=True)")
    assert isinstance(p, ember.Tensor) and p.is_leaf
    assert not isinstance(p * 2, ember.nn.Parameter)


def test_deepcopy_model_gives_independent_parameters():
    import copy

    m = model(ember)
    m(ember.ones(2, 3)).backward()
    twin = copy.deepcopy(m)
    assert isinstance(twin.body[0].weight, ember.nn.Parameter)
    assert twin.shared is twin.body[0]  # sharing inside the model is kept
    with ember.no_grad():
        twin.body[0].weight.fill_(5)
    assert m.body[0].weight.detach().numpy().max() == 1
    assert twin.body[0].weight.grad is not m.body[0].weight.grad
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(m.body[0].weight * 2)


def test_replacing_a_submodule_keeps_its_position_like_torch():
    nn = ember.nn
    e = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 3))
    t = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.ReLU(), torch.nn.Linear(2, 3))
    e[1], t[1] = nn.Tanh(), torch.nn.Tanh()
    assert repr(e) == repr(t)
    assert list(dict(e.named_children())) == ["0", "1", "2"]
