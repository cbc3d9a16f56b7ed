"""The `transformer` workload's encoder block: 2 pre-norm TransformerEncoderLayers
(d_model 128, 4 heads, feed-forward 512, GELU, dropout 0, batch first) under a causal
mask, forward + backward on a (16, 64, 128) float32 batch, in training mode.

ember and PyTorch are timed in the same run with the same weights, interleaved over
several rounds, and the median ratio (ember time / PyTorch time) is reported.

Run: .venv/bin/python -m benchmarks.transformer_block [--rounds 7] [--threads 1]
"""

import argparse
import statistics
import time

import numpy as np


def build(lib, state=None):
    """The two-layer encoder in ``lib`` (ember or torch), optionally with given weights."""
    layer = lib.nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
    encoder = lib.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    if state is not None:
        encoder.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    return encoder


def step_seconds(lib, encoder, x, g, n):
    """Median seconds of one forward plus backward (parameter gradients and the input's)."""
    x = lib.tensor(x, requires_grad=True)
    g = lib.tensor(g)
    mask = lib.nn.Transformer.generate_square_subsequent_mask(x.shape[1])
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        encoder(x, mask=mask, is_causal=True).backward(g)
        times.append(time.perf_counter() - t0)
        x.grad = None
        for p in encoder.parameters():
            p.grad = None
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    import torch

    import ember

    if args.threads:
        torch.set_num_threads(args.threads)
    t_encoder = build(torch)
    state = {k: v.numpy().copy() for k, v in t_encoder.state_dict().items()}
    e_encoder = build(ember, state)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 64, 128)).astype(np.float32)
    g = rng.standard_normal((16, 64, 128)).astype(np.float32)
    step_seconds(ember, e_encoder, x, g, 3)
    step_seconds(torch, t_encoder, x, g, 3)
    ratios, mine, theirs = [], [], []
    for _ in range(args.rounds):
        e = step_seconds(ember, e_encoder, x, g, args.steps)
        t = step_seconds(torch, t_encoder, x, g, args.steps)
        mine.append(e)
        theirs.append(t)
        ratios.append(e / t)
    print(f"2 pre-norm encoder layers fwd+bwd (16, 64, 128) float32, causal: ember "
          f"{statistics.median(mine) * 1e3:.2f} ms, torch {statistics.median(theirs) * 1e3:.2f} "
          f"ms (threads {torch.get_num_threads()}), ratio {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
