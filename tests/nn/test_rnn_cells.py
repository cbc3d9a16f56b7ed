"""RNNCell, LSTMCell and GRUCell against torch with copied weights: outputs and the
gradients of the input, the states and every parameter; batched and unbatched inputs;
repr, initialization and errors."""

import numpy as np
import pytest
import torch

import ember
from ember.nn.modules.rnn_cell import GRUCell, LSTMCell, RNNCell
from ember.testing import gradcheck, gradgradcheck
from tests.nn.layer_check import assert_same, copy_from_torch

torch.set_num_threads(1)

E_CELLS = {"RNNCell": RNNCell, "LSTMCell": LSTMCell, "GRUCell": GRUCell}
CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
         ("GRUCell", {})]
CELL_IDS = ["rnn_tanh", "rnn_relu", "lstm", "gru"]


def cell_pair(name, dtype="float64", **kwargs):
    t_cell = getattr(torch.nn, name)(3, 4, **kwargs).to(getattr(torch, dtype))
    e_cell = E_CELLS[name](3, 4, **kwargs).to(getattr(ember, dtype))
    assert list(e_cell.state_dict()) == list(t_cell.state_dict())
    copy_from_torch(e_cell, t_cell)
    return e_cell, t_cell


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_state", [False, True])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_cell_matches_torch(cell, batched, with_state, bias, dtype):
    name, extra = cell
    e_cell, t_cell = cell_pair(name, dtype, bias=bias, **extra)
    rng = np.random.default_rng(int(batched) * 4 + int(with_state) * 2 + int(bias))
    lead = (2,) if batched else ()
    arrays = [rng.uniform(-1, 1, lead + (3,)).astype(dtype)]
    if with_state:
        arrays += [rng.uniform(-1, 1, lead + (4,)).astype(dtype)
                   for _ in range(2 if name == "LSTMCell" else 1)]
    e_in = [ember.tensor(a.copy(), requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    e_state = t_state = None
    if with_state:
        e_state = tuple(e_in[1:]) if name == "LSTMCell" else e_in[1]
        t_state = tuple(t_in[1:]) if name == "LSTMCell" else t_in[1]
    e_out, t_out = as_tuple(e_cell(e_in[0], e_state)), as_tuple(t_cell(t_in[0], t_state))
    assert len(e_out) == len(t_out)
    for i, (e, t) in enumerate(zip(e_out, t_out)):
        assert_same(e, t, dtype, f"output {i}")
    grads = [rng.standard_normal(tuple(t.shape)).astype(dtype) for t in t_out]
    ember.autograd.backward(list(e_out), [ember.tensor(g) for g in grads])
    torch.autograd.backward(list(t_out), [torch.tensor(g) for g in grads])
    for i, (e, t) in enumerate(zip(e_in, t_in)):
        assert_same(e.grad, t.grad, dtype, f"gradient of input {i}")
    e_params = dict(e_cell.named_parameters())
    for key, t_param in t_cell.named_parameters():
        assert_same(e_params[key].grad, t_param.grad, dtype, f"gradient of {key}")


def test_only_one_lstm_output_used():
    """A gradient arriving through h alone (or c alone) still matches torch."""
    e_cell, t_cell = cell_pair("LSTMCell")
    x = np.random.default_rng(2).uniform(-1, 1, (2, 3))
    for which in (0, 1):
        e_x, t_x = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        e_cell(e_x)[which].sum().backward()
        t_cell(t_x)[which].sum().backward()
        assert_same(e_x.grad, t_x.grad, "float64", f"gradient through output {which}")
        # The same with create_graph, which takes the Tensor-op backward.
        (e_g,) = ember.autograd.grad(e_cell(e_x)[which].sum(), e_x, create_graph=True)
        (t_g,) = torch.autograd.grad(t_cell(t_x)[which].sum(), t_x, create_graph=True)
        assert_same(e_g, t_g, "float64", f"create_graph gradient through output {which}")


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_cell_gradcheck_and_gradgradcheck(cell):
    name, extra = cell
    e_cell = E_CELLS[name](2, 2, **extra).double()
    rng = np.random.default_rng(3)
    x = ember.tensor(rng.uniform(0.1, 1, (2, 2)), requires_grad=True)
    states = [ember.tensor(rng.uniform(0.1, 1, (2, 2)), requires_grad=True)
              for _ in range(2 if name == "LSTMCell" else 1)]

    def run(x, *rest):
        hx = tuple(rest[:2]) if name == "LSTMCell" else rest[0]
        return as_tuple(e_cell(x, hx))

    inputs = (x, *states, *e_cell.parameters())
    assert gradcheck(run, inputs)
    assert gradgradcheck(run, inputs, fast_mode=True)


@pytest.mark.parametrize("cell", CELLS, ids=CELL_IDS)
def test_second_order_gradients_match_torch(cell):
    name, extra = cell
    e_cell, t_cell = cell_pair(name, **extra)
    x = np.random.default_rng(4).uniform(-1, 1, (2, 3))
    results = []
    for lib, layer in ((ember, e_cell), (torch, t_cell)):
        xt = lib.tensor(x.copy(), requires_grad=True)
        total = sum((o ** 3).sum() for o in as_tuple(layer(xt)))
        (gx,) = lib.autograd.grad(total, xt, create_graph=True)
        (gx * gx).sum().backward()
        results.append([gx] + [p.grad for p in layer.parameters()])
    for i, (e, t) in enumerate(zip(*results)):
        assert_same(e, t, "float64", f"gradient {i}")


@pytest.mark.parametrize("name, kwargs", [
    ("RNNCell", {}), ("RNNCell", {"bias": False, "nonlinearity": "relu"}),
    ("LSTMCell", {}), ("LSTMCell", {"bias": False}), ("GRUCell", {"bias": False}),
])
def test_repr_parameters_and_init(name, kwargs):
    e_cell, t_cell = E_CELLS[name](3, 25, **kwargs), getattr(torch.nn, name)(3, 25, **kwargs)
    assert repr(e_cell) == repr(t_cell)
    assert [(k, tuple(v.shape)) for k, v in e_cell.named_parameters()] == \
           [(k, tuple(v.shape)) for k, v in t_cell.named_parameters()]
    assert (e_cell.bias_ih is None) == (t_cell.bias_ih is None)
    for p in e_cell.parameters():
        assert np.abs(p.detach().numpy()).max() <= 1 / 5


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_errors_name_the_cell_and_the_shapes(name):
    e_cell, t_cell = E_CELLS[name](3, 4), getattr(torch.nn, name)(3, 4)

    def state(lib, *shape):
        h = lib.zeros(*shape)
        return (h, h) if name == "LSTMCell" else h

    for lib, cell in ((torch, t_cell), (ember, e_cell)):
        with pytest.raises(ValueError, match=name):
            cell(lib.zeros(2, 2, 3))
        with pytest.raises(RuntimeError, match="5" if lib is torch else
                           rf"{name}: input has 5 features \(shape \(2, 5\)\) but input_size "
                           r"is 3"):
            cell(lib.zeros(2, 5))
        with pytest.raises(RuntimeError, match="batch size"):
            cell(lib.zeros(2, 3), state(lib, 3, 4))
        with pytest.raises(RuntimeError, match="hidden_size"):
            cell(lib.zeros(2, 3), state(lib, 2, 5))
        with pytest.raises(RuntimeError):
            cell(lib.zeros(2, 3, dtype=lib.float64))


def test_unknown_nonlinearity_fails_at_forward_like_torch():
    for lib in (torch, ember):
        cell = lib.nn.RNNCell(3, 4, nonlinearity="gelu")
        with pytest.raises(RuntimeError, match="Unknown nonlinearity"):
            cell(lib.zeros(1, 3))
