"""``ember.backend.threads``: pieces of one op on two threads, and the convolutions and
poolings that use it, forced to split, against PyTorch."""

import itertools
import signal
import threading
import time

import numpy as np
import pytest
import torch

import ember
from ember import _threads
from ember.backend import threads
from ember.ops import _im2col, pool

EF, TF = ember.nn.functional, torch.nn.functional


@pytest.fixture
def two_threads(split_everything):
    """Two threads, and every conv and pool big enough to split."""
    split_everything(_im2col, "_SPLIT_WORK", record=False)
    split_everything(pool, "_SPLIT_SIZE", "_SPLIT_SCATTER", record=False)


def test_split_covers_the_range_in_order(two_threads):
    ranges = threads.split(lambda lo, hi: (lo, hi), 7, 2)
    assert ranges[0][0] == 0 and ranges[-1][1] == 7 and len(ranges) > 1
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in itertools.pairwise(ranges))
    assert threads.split(lambda lo, hi: (lo, hi), 7, 1) == [(0, 7)]


@pytest.mark.parametrize("blas_own_threads", [False, True])
def test_pieces_run_on_two_threads_with_blas_at_one(two_threads, blas_own_threads):
    both = threading.Barrier(2, timeout=10)  # passes only when two pieces run at once

    def piece(lo, hi):
        both.wait()
        return threading.get_ident(), _threads.blas_library_threads()

    previous = _threads.use_blas_threads(blas_own_threads)
    try:
        assert _threads.blas_library_threads() == (2 if blas_own_threads else 1)
        seen = threads.split(piece, 4, 2)
        assert len({ident for ident, _ in seen}) == 2
        assert {count for _, count in seen} == {1}
        assert _threads.blas_library_threads() == (2 if blas_own_threads else 1)  # restored
        assert ember.get_num_threads() == 2
    finally:
        _threads.use_blas_threads(previous)


def test_a_failing_piece_raises_in_the_caller_and_restores_blas(two_threads):
    def piece(lo, hi):
        if lo == 0:
            raise ValueError("piece 0 failed")
        return hi

    previous = _threads.use_blas_threads(True)
    try:
        with pytest.raises(ValueError, match="piece 0 failed"):
            threads.split(piece, 4, 2)
        assert _threads.blas_library_threads() == 2
    finally:
        _threads.use_blas_threads(previous)
    assert ember.get_num_threads() == 2
    assert not threads.splitting()
    assert sum(threads.split(lambda lo, hi: hi - lo, 4, 2)) == 4  # the pool still works


def test_no_split_inside_a_split_or_below_the_threshold(two_threads):
    inner = threads.split(lambda lo, hi: threads.pieces(100, 10, 1), 2, 2)
    assert inner == [1, 1]
    assert threads.pieces(100, 10, 1) == 2
    assert threads.pieces(100, 10, 11) == 1
    assert threads.pieces(1, 10, 1) == 1


def _pair(*shape, seed):
    arr = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return ember.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)


@pytest.mark.parametrize("shape, wshape, kwargs", [
    ((5, 1, 12, 12), (6, 1, 5, 5), {"padding": 2}),     # LeNet's first layer
    ((5, 6, 9, 9), (16, 6, 5, 5), {}),                  # few positions: channels-last grad
    ((5, 16, 8, 8), (16, 16, 3, 3), {"padding": 1}),    # channels-last forward
    ((5, 16, 8, 8), (32, 16, 3, 3), {"stride": 2, "padding": 1}),
    ((5, 4, 20, 20), (8, 2, 3, 3), {"groups": 2}),
    ((5, 3, 9), (4, 3, 3), {"padding": 1}),             # 1-D
])
def test_split_conv_and_grads_match_torch(two_threads, kernels, shape, wshape, kwargs):
    (xe, xt), (we, wt) = _pair(*shape, seed=0), _pair(*wshape, seed=1)
    conv_e = EF.conv2d if len(shape) == 4 else EF.conv1d
    conv_t = TF.conv2d if len(shape) == 4 else TF.conv1d
    ye, yt = conv_e(xe, we, **kwargs), conv_t(xt, wt, **kwargs)
    g = np.random.default_rng(2).standard_normal(yt.shape).astype(np.float32)
    ye.backward(ember.tensor(g))
    yt.backward(torch.tensor(g))
    for e, t in ((ye, yt), (xe.grad, xt.grad), (we.grad, wt.grad)):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-4,
                                   atol=1e-4)


@pytest.mark.parametrize("conv", ["conv2d", "conv_transpose2d"])
def test_split_conv_with_bias_matches_torch(two_threads, kernels, conv):
    (xe, xt), (we, wt), (be, bt) = _pair(5, 8, 6, 6, seed=0), _pair(8, 4, 3, 3, seed=1), \
        _pair(4 if conv == "conv_transpose2d" else 8, seed=2)
    kwargs = {"stride": 2, "padding": 1}
    if conv == "conv_transpose2d":
        kwargs["output_padding"] = 1
    else:
        (we, wt), kwargs["padding"] = _pair(8, 8, 3, 3, seed=1), 1
    ye = getattr(EF, conv)(xe, we, be, **kwargs)
    yt = getattr(TF, conv)(xt, wt, bt, **kwargs)
    ye.sum().backward()
    yt.sum().backward()
    for e, t in ((ye, yt), (xe.grad, xt.grad), (we.grad, wt.grad), (be.grad, bt.grad)):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-4,
                                   atol=1e-4)


def test_split_max_pool_and_grad_match_torch(two_threads, kernels):
    xe, xt = _pair(3, 5, 8, 10, seed=0)
    ye, yt = EF.max_pool2d(xe, 2), TF.max_pool2d(xt, 2)
    g = np.random.default_rng(2).standard_normal(yt.shape).astype(np.float32)
    ye.backward(ember.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_array_equal(ye.detach().numpy(), yt.detach().numpy())
    np.testing.assert_array_equal(xe.grad.numpy(), xt.grad.numpy())


@pytest.mark.skipif(not hasattr(threads.os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_its_own_workers(two_threads):
    assert sum(threads.split(lambda lo, hi: hi - lo, 8, 2)) == 8  # the parent's pool runs
    pid = threads.os.fork()
    if pid == 0:  # the child: a split must not wait for the parent's threads
        signal.alarm(20)  # a hang ends the child with SIGALRM: the test fails, not hangs
        ok = sum(threads.split(lambda lo, hi: hi - lo, 8, 2)) == 8
        threads.os._exit(0 if ok else 1)
    _, status = threads.os.waitpid(pid, 0)
    assert threads.os.waitstatus_to_exitcode(status) == 0


def test_the_pool_keeps_working_if_its_spin_kernel_fails(two_threads, monkeypatch):
    class Broken:
        def ready(self):
            return True

        def __call__(self, *args):
            raise RuntimeError("no spin here")

    monkeypatch.setattr(threads, "_spin", Broken())
    monkeypatch.setattr(threads._Spin, "usable", True)
    for _ in range(3):  # the worker meets the broken kernel after its first task
        assert sum(threads.split(lambda lo, hi: hi - lo, 8, 2)) == 8
    deadline = time.monotonic() + 10  # a worker that took no piece waits after the split
    while threads._Spin.usable and time.monotonic() < deadline:
        time.sleep(0.001)
    assert not threads._Spin.usable
    assert sum(threads.split(lambda lo, hi: hi - lo, 8, 2)) == 8


def test_a_worker_marks_its_task_finished_from_its_next_wait(two_threads, kernels):
    """The caller spins on a task's mark; the worker sets it inside its next wait, with the
    GIL let go (compiled), or at once (plain)."""
    flag, mark = np.ones(1, np.int64), np.zeros(1, np.int64)
    threads._wait_awake(flag, mark)
    assert mark[0] == 1
    tasks, wake = threads._workers(1)[0]
    for _ in range(3):
        done, mark = threads._post(tasks, wake, lambda: None)
        deadline = time.monotonic() + 10
        while mark[0] != 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        assert mark[0] == 1
        assert done.acquire(timeout=10)
