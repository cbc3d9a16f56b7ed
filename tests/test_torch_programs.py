"""Whole PyTorch programs run with ember in place of torch: each program is written once
against a module ``T`` (``torch`` or ``ember``) and must give the same losses and gradients."""

import numpy as np
import pytest
import torch

import ember


def rng_arrays(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) * 0.5 for s in shapes]


def mlp_training(T):
    F = T.nn.functional
    w1, b1, w2, b2 = (T.tensor(a, dtype=T.float32, requires_grad=True)
                      for a in rng_arrays(0, (16, 8), (16,), (3, 16), (3,)))
    x = T.tensor(rng_arrays(1, (32, 8))[0], dtype=T.float32)
    y = T.tensor(np.arange(32) % 3)
    params, losses = [w1, b1, w2, b2], []
    for _ in range(25):
        logits = F.linear(F.relu(F.linear(x, w1, b1)), w2, b2)
        loss = F.cross_entropy(logits, y, label_smoothing=0.1)
        for p in params:
            p.grad = None
        loss.backward()
        with T.no_grad():
            for p in params:
                p -= 0.5 * p.grad
        losses.append(loss.item())
    return losses, [p.detach().numpy() for p in params]


def cnn_step(T):
    F = T.nn.functional
    x = T.tensor(rng_arrays(2, (4, 1, 12, 12))[0], dtype=T.float64)
    w, wb, fc = (T.tensor(a, dtype=T.float64, requires_grad=True)
                 for a in rng_arrays(3, (6, 1, 3, 3), (6,), (10, 6 * 6 * 6)))
    rm, rv = T.zeros(6, dtype=T.float64), T.ones(6, dtype=T.float64)
    h = F.conv2d(x, w, wb, padding=1)
    h = F.batch_norm(h, rm, rv, training=True, momentum=0.1)
    h = F.max_pool2d(F.relu(h), 2)
    h = F.dropout(h, p=0.0, training=True)
    out = F.log_softmax(F.linear(T.flatten(h, 1), fc), dim=1)
    loss = F.nll_loss(out, T.tensor([1, 0, 4, 9]))
    loss.backward()
    return [loss.item()], [w.grad.numpy(), wb.grad.numpy(), fc.grad.numpy(), rm.numpy(),
                           rv.numpy()]


def attention_block(T):
    F = T.nn.functional
    x = T.tensor(rng_arrays(4, (2, 5, 8))[0], dtype=T.float64, requires_grad=True)
    wq, wk, wv, g, b = (T.tensor(a, dtype=T.float64, requires_grad=True)
                        for a in rng_arrays(5, (8, 8), (8, 8), (8, 8), (8,), (8,)))
    h = F.layer_norm(x, (8,), g + 1, b)
    q, k, v = (h @ w for w in (wq, wk, wv))
    split = lambda t: t.reshape(2, 5, 2, 4).transpose(1, 2)  # noqa: E731
    a = F.scaled_dot_product_attention(split(q), split(k), split(v), is_causal=True)
    out = x + F.gelu(a.transpose(1, 2).reshape(2, 5, 8), approximate="tanh")
    loss = F.mse_loss(out, T.zeros_like(out))
    loss.backward()
    return [loss.item()], [t.grad.numpy() for t in (x, wq, wk, wv, g, b)]


def gradient_penalty(T):
    w = T.tensor(rng_arrays(6, (4, 3))[0], dtype=T.float64, requires_grad=True)
    x = T.tensor(rng_arrays(7, (5, 4))[0], dtype=T.float64, requires_grad=True)
    critic = T.tanh(x @ w).sum(1)
    (gx,) = T.autograd.grad(critic.sum(), x, create_graph=True)
    penalty = ((gx.norm(2, dim=1) - 1) ** 2).mean()
    penalty.backward()
    return [penalty.item()], [w.grad.numpy()]


def lstm_unroll(T):
    wi, wh, b = (T.tensor(a, dtype=T.float64, requires_grad=True)
                 for a in rng_arrays(8, (16, 3), (16, 4), (16,)))
    xs = T.tensor(rng_arrays(9, (6, 2, 3))[0], dtype=T.float64)
    lengths = T.tensor([6, 4])
    h = c = T.zeros(2, 4, dtype=T.float64)
    for t, x in enumerate(xs.unbind(0)):
        i, f, g, o = (x @ wi.T + h @ wh.T + b).chunk(4, dim=1)
        c_new = T.sigmoid(f) * c + T.sigmoid(i) * T.tanh(g)
        h_new = T.sigmoid(o) * T.tanh(c_new)
        alive = (lengths > t).unsqueeze(1)
        h, c = T.where(alive, h_new, h), T.where(alive, c_new, c)
    loss = (h ** 2).sum() + T.logsumexp(c, dim=1).mean()
    loss.backward()
    return [loss.item()], [wi.grad.numpy(), wh.grad.numpy(), b.grad.numpy()]


def indexing_and_scatter(T):
    x = T.tensor(rng_arrays(10, (6, 5))[0], dtype=T.float64, requires_grad=True)
    idx = T.tensor([[0, 2], [1, 4], [3, 3]])
    y = x[1:4].gather(1, idx) * 2
    z = T.zeros(3, 5, dtype=T.float64).scatter_add(1, idx, y)
    z = z.masked_fill(z > 0.5, 0.0)
    # Distinct values: which of several tied elements topk picks is not specified.
    tie_break = T.arange(15, dtype=T.float64).reshape(3, 5) * 1e-3
    top, where = (z.abs() + tie_break).topk(2, dim=1)
    loss = top.sum() + x[[0, 5], :].pow(2).sum() + x[x > 0].sum()
    loss.backward()
    return [loss.item()], [x.grad.numpy(), where.numpy()]


PROGRAMS = [mlp_training, cnn_step, attention_block, gradient_penalty, lstm_unroll,
            indexing_and_scatter]


@pytest.mark.parametrize("program", PROGRAMS, ids=[p.__name__ for p in PROGRAMS])
def test_program_matches_torch(program):
    (mine_losses, mine_arrays), (ref_losses, ref_arrays) = program(ember), program(torch)
    np.testing.assert_allclose(mine_losses, ref_losses, rtol=2e-5, atol=1e-6)
    for k, (a, b) in enumerate(zip(mine_arrays, ref_arrays)):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5, err_msg=f"array {k}")
