"""LeNet's MaxPool2d(2): forward + backward on a (64, 6, 28, 28) float32 batch.

ember and PyTorch are timed in the same run, interleaved over several rounds, and the
median ratio (ember time / PyTorch time) is reported.

Run: .venv/bin/python -m benchmarks.pool [--rounds 7] [--threads 1]
"""

import argparse
import statistics
import time

import numpy as np


def step_seconds(lib, x, g, n):
    """Median seconds of one max_pool2d(x, 2) forward plus backward."""
    x = lib.from_numpy(x).requires_grad_()
    g = lib.from_numpy(g)
    pool = lib.nn.functional.max_pool2d
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        pool(x, 2).backward(g)
        times.append(time.perf_counter() - t0)
        x.grad = None
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    import torch

    import ember

    if args.threads:
        torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 6, 28, 28)).astype(np.float32)
    g = rng.standard_normal((64, 6, 14, 14)).astype(np.float32)
    ratios, mine, theirs = [], [], []
    for _ in range(args.rounds):
        e = step_seconds(ember, x, g, args.steps)
        t = step_seconds(torch, x, g, args.steps)
        mine.append(e)
        theirs.append(t)
        ratios.append(e / t)
    print(f"max_pool2d(2) fwd+bwd (64, 6, 28, 28) float32: ember "
          f"{statistics.median(mine) * 1e3:.3f} ms, torch {statistics.median(theirs) * 1e3:.3f} "
          f"ms (threads {torch.get_num_threads()}), ratio {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
