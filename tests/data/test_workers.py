"""DataLoader with real worker processes: results, ordering, seeding, sharding,
persistence, every failure mode, and that no process is left behind."""

import gc
import os
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader as TorchLoader
from torch.utils.data import IterableDataset as TorchIterable
from torch.utils.data import get_worker_info as torch_worker_info
from torch.utils.data._utils.worker import _generate_state as torch_generate_state

import ember
from ember.data import DataLoader, Dataset, StackDataset, TensorDataset
from ember.data import pool, worker
from ember.data.sampler import draw_seed
from tests.data import datasets as D


def exists(pid, zombies_count=True):
    """Whether process ``pid`` is still there (a zombie counts unless told otherwise)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    if zombies_count:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def assert_gone(pids, within=5.0, zombies_count=True):
    deadline = time.monotonic() + within
    while any(exists(p, zombies_count) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = [p for p in pids if exists(p, zombies_count)]
    assert not alive, f"worker processes still alive: {alive}"


def plain(batch):
    """Tensors to nested lists, so batches compare with ==."""
    if isinstance(batch, (ember.Tensor, torch.Tensor)):
        return batch.tolist()
    if isinstance(batch, dict):
        return {k: plain(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return [plain(v) for v in batch]
    if isinstance(batch, np.ndarray):
        return batch.tolist()
    return batch


def epoch(loader):
    return [plain(b) for b in loader]


# ---- results and order -----------------------------------------------------------------

@pytest.mark.parametrize("num_workers", [1, 2])
@pytest.mark.parametrize("batch_size, drop_last", [(3, False), (3, True), (1, False)])
def test_workers_give_the_in_process_batches(num_workers, batch_size, drop_last):
    ds = D.Squares(11)
    expected = epoch(DataLoader(ds, batch_size=batch_size, drop_last=drop_last))
    got = epoch(DataLoader(ds, batch_size=batch_size, drop_last=drop_last,
                           num_workers=num_workers))
    assert got == expected


def test_batches_keep_dtypes_and_types():
    x = ember.randn(6, 3, dtype=ember.float32)
    y = ember.arange(6)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4, num_workers=2))
    assert [type(t) for b in batches for t in b] == [ember.Tensor] * 4
    assert batches[0][0].dtype == ember.float32 and batches[0][1].dtype == ember.int64
    np.testing.assert_array_equal(batches[0][0].numpy(), x.numpy()[:4])
    assert not batches[0][0].requires_grad and batches[0][0].grad_fn is None


def test_batch_size_none_and_batch_sampler_with_workers():
    ds = D.Squares(5)
    assert epoch(DataLoader(ds, batch_size=None, num_workers=2)) == \
        epoch(DataLoader(ds, batch_size=None))
    sampler = [[4, 0], [1], [3, 2]]
    assert epoch(DataLoader(ds, batch_sampler=sampler, num_workers=2)) == \
        epoch(DataLoader(ds, batch_sampler=sampler))


def test_shuffle_order_is_the_same_for_any_number_of_workers():
    def indices(num_workers, generator=None):
        ember.manual_seed(7)
        loader = DataLoader(D.Squares(23), batch_size=4, shuffle=True,
                            num_workers=num_workers, generator=generator)
        return [b[1] for b in epoch(loader)] + [b[1] for b in epoch(loader)]

    orders = [indices(n) for n in (0, 1, 2)]
    assert orders[0] == orders[1] == orders[2]
    assert sorted(sum(orders[0][:6], [])) == list(range(23))
    assert orders[0][:6] != orders[0][6:]  # a new order every epoch
    seeded = [indices(n, ember.Generator().manual_seed(3)) for n in (0, 2)]
    assert seeded[0] == seeded[1]


def test_prefetch_factor_bounds_tasks_in_flight():
    for prefetch in (1, 3):
        it = iter(DataLoader(D.Squares(40), batch_size=2, num_workers=2,
                             prefetch_factor=prefetch))
        assert it._send_idx == 2 * prefetch
        next(it)
        assert it._send_idx == 2 * prefetch + 1
        del it


class _GatedByFile(Dataset):
    """Index 0 waits until the main process has received another batch first."""

    def __init__(self, path):
        self.path = path

    def __len__(self):
        return 6

    def __getitem__(self, i):
        while i == 0 and not os.path.exists(self.path):
            time.sleep(0.01)
        return i


def test_in_order_false_hands_out_batches_as_they_arrive(tmp_path):
    gate = tmp_path / "gate"
    loader = DataLoader(_GatedByFile(str(gate)), batch_size=1, num_workers=2, in_order=False)
    it = iter(loader)
    first = next(it).item()
    gate.touch()
    rest = [b.item() for b in it]
    assert first != 0
    assert sorted([first, *rest]) == list(range(6))


# ---- seeding -------------------------------------------------------------------------

def _augmented(num_workers, seed=0, epochs=1):
    ember.manual_seed(seed)
    loader = DataLoader(D.Augmented(8), batch_size=2, num_workers=num_workers)
    return [epoch(loader) for _ in range(epochs)]


@pytest.mark.parametrize("num_workers", [0, 1, 2])
def test_same_seed_same_workers_same_random_augmentation(num_workers):
    def drawn(batches, keys=("ember", "numpy", "python")):
        # In the main process ember.manual_seed seeds ember only, as torch.manual_seed
        # seeds torch only; workers seed all three.
        keys = keys if num_workers else ("ember",)
        return [[{k: b[k] for k in ("i", *keys)} for b in e] for e in batches]

    first, second = _augmented(num_workers, epochs=2), _augmented(num_workers, epochs=2)
    assert drawn(first) == drawn(second)
    assert drawn(first)[0] != drawn(first)[1]  # each epoch draws new seeds
    assert drawn(_augmented(num_workers, seed=1)) != drawn(_augmented(num_workers, seed=0))


def test_workers_draw_different_streams():
    (batches,) = _augmented(2)
    by_worker = [batches[0], batches[1]]  # batch k comes from worker k % 2
    for key in ("ember", "numpy", "python"):
        assert by_worker[0][key][0] != by_worker[1][key][0]


def test_worker_info_and_seeds():
    g = ember.Generator().manual_seed(5)
    base_seed = draw_seed(ember.Generator().manual_seed(5))
    loader = DataLoader(D.WhoAmI(8), batch_size=2, num_workers=2, generator=g)
    batches = epoch(loader)
    for k, b in enumerate(batches):
        assert b["id"] == [k % 2] * 2
        assert b["num_workers"] == [2, 2]
        assert b["seed"] == [base_seed + k % 2] * 2
        assert b["same_dataset"] == [True, True]
        assert os.getpid() not in b["pid"]
    assert ember.data.get_worker_info() is None


def test_numpy_seeding_is_pytorchs():
    for base_seed, worker_id in [(0, 0), (12345, 1), ((1 << 63) - 1, 7), (2**40 + 3, 2)]:
        assert worker._generate_state(base_seed, worker_id) == \
            torch_generate_state(base_seed, worker_id)


def test_worker_init_fn_runs_in_each_worker():
    loader = DataLoader(D.WhoAmI(6), batch_size=3, num_workers=2,
                        worker_init_fn=D.tag_worker)
    assert [b["tag"] for b in epoch(loader)] == [["init 0"] * 3, ["init 1"] * 3]


# ---- iterable datasets ---------------------------------------------------------------

class TorchShardedRange(TorchIterable):
    def __init__(self, start, end):
        self.start, self.end = start, end

    def __iter__(self):
        info = torch_worker_info()
        per = -(-(self.end - self.start) // info.num_workers)
        lo = self.start + info.id * per
        return iter(range(lo, min(lo + per, self.end)))


@pytest.mark.parametrize("end, num_workers, batch_size, drop_last", [
    (10, 2, 3, False), (10, 2, 3, True), (5, 2, 2, False), (9, 2, None, False),
    (3, 2, 4, False), (13, 3, 2, False),
])
def test_iterable_dataset_sharded_like_torch(end, num_workers, batch_size, drop_last):
    kwargs = dict(batch_size=batch_size, drop_last=drop_last, num_workers=num_workers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # more workers than CPUs
        expected = epoch(TorchLoader(TorchShardedRange(0, end), **kwargs))
        got = epoch(DataLoader(D.ShardedRange(0, end), **kwargs))
    assert got == expected


def test_iterable_length_warning_with_unsharded_workers():
    loader = DataLoader(D.Unsharded(4), batch_size=1, num_workers=2)
    assert len(loader) == 4
    with pytest.warns(UserWarning, match="Length of IterableDataset"):
        assert len(epoch(loader)) == 8


# ---- persistent workers ----------------------------------------------------------------

def test_persistent_workers_live_across_epochs():
    loader = DataLoader(D.WhoAmI(8), batch_size=2, num_workers=2, persistent_workers=True)
    first = epoch(loader)
    pids = loader._iterator.worker_pids
    second = epoch(loader)
    assert [b["pid"] for b in first] == [b["pid"] for b in second]
    assert sorted({p for b in first for p in b["pid"]}) == sorted(pids)
    assert [b["i"] for b in second] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    del loader
    gc.collect()
    assert_gone(pids)


def test_persistent_workers_restart_iterable_datasets_and_partial_epochs():
    loader = DataLoader(D.ShardedRange(0, 10), batch_size=2, num_workers=2,
                        persistent_workers=True)
    full = epoch(loader)
    assert sorted(sum(full, [])) == list(range(10))
    it = iter(loader)
    next(it)  # leave the epoch early; the next epoch starts cleanly
    assert epoch(loader) == full
    pids = loader._iterator.worker_pids
    del loader, it
    gc.collect()
    assert_gone(pids)


# ---- failures --------------------------------------------------------------------------

def _failing_iterator(mode, **kwargs):
    kwargs.setdefault("batch_size", 4)
    return iter(DataLoader(D.Faulty(mode), num_workers=2, **kwargs))


def test_worker_exception_names_worker_indices_and_traceback():
    it = _failing_iterator("raise")
    pids = it.worker_pids
    assert next(it).tolist() == [[0.0], [1.0], [2.0], [3.0]]
    with pytest.raises(ValueError) as info:
        next(it)
    message = str(info.value)
    assert message.startswith("DataLoader worker 1 failed on batch indices [4, 5, 6, 7]: "
                              "ValueError: bad sample\nTraceback (most recent call last):")
    assert 'raise ValueError("bad sample")' in message and "datasets.py" in message
    assert_gone(pids)
    with pytest.raises(StopIteration):
        next(it)


def test_worker_key_error_keeps_its_traceback_readable():
    it = _failing_iterator("keyerror", batch_size=None)
    with pytest.raises(KeyError) as info:
        list(it)
    text = str(info.value)
    assert text.startswith("DataLoader worker 1 failed on index 5: KeyError: 'missing'\n")
    assert "\n" in text and "\\n" not in text


def test_worker_init_fn_failure():
    it = iter(DataLoader(D.Squares(8), batch_size=4, num_workers=2,
                         worker_init_fn=D.failing_init))
    with pytest.raises(RuntimeError, match=r"^DataLoader worker 1 failed in worker_init_fn "
                                           r"\(before batch indices \[4, 5, 6, 7\]\): "
                                           r"RuntimeError: init failed\n"):
        list(it)


def test_unpicklable_batch_is_an_error_not_a_hang():
    it = iter(DataLoader(D.Unpicklable(), batch_size=2, num_workers=2, collate_fn=list))
    pids = it.worker_pids
    with pytest.raises(Exception, match=r"^DataLoader worker 0 failed to send batch indices "
                                        r"\[0, 1\] to the main process: "):
        list(it)
    assert_gone(pids)


def test_non_leaf_tensor_that_requires_grad_is_not_sent():
    class Graph(D.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return ember.ones(2, requires_grad=True) * i

    with pytest.raises(RuntimeError, match="autograd graphs do not cross processes"):
        list(DataLoader(Graph(), batch_size=2, num_workers=1))


def test_leaf_tensor_keeps_requires_grad_but_no_graph():
    class Leaf(D.Dataset):
        def __len__(self):
            return 1

        def __getitem__(self, i):
            return ember.ones(2, requires_grad=True)

    (t,) = list(DataLoader(Leaf(), batch_size=None, num_workers=1))
    assert t.requires_grad and t.is_leaf and t.grad_fn is None


@pytest.mark.parametrize("mode, how", [
    ("exit", "with exit code 1"), ("kill", r"with exit code -9 \(killed by SIGKILL\)"),
])
def test_dead_worker_is_detected(mode, how):
    it = _failing_iterator(mode)
    pids = it.worker_pids
    with pytest.raises(RuntimeError) as info:
        list(it)
    assert str(info.value) == (
        f"DataLoader worker 1 (pid {pids[1]}) exited unexpectedly "
        f"{how.replace(chr(92), '')} while loading batch indices [4, 5, 6, 7]")
    assert_gone(pids)


def test_timeout_on_a_hung_worker():
    it = _failing_iterator("hang", timeout=1)
    pids = it.worker_pids
    with pytest.raises(RuntimeError) as info:
        list(it)
    assert str(info.value) == ("DataLoader timed out after 1 seconds waiting for batch indices "
                               "[4, 5, 6, 7] from worker 1")
    assert_gone(pids)


# ---- shutdown --------------------------------------------------------------------------

def test_workers_exit_at_the_end_of_an_epoch():
    it = iter(DataLoader(D.Squares(6), batch_size=2, num_workers=2))
    pids = it.worker_pids
    assert all(exists(p) for p in pids)
    list(it)
    assert_gone(pids, within=0)


def test_workers_exit_when_the_iterator_is_collected():
    it = iter(DataLoader(D.Squares(100), batch_size=2, num_workers=2))
    next(it)
    pids = it.worker_pids
    del it
    gc.collect()
    assert_gone(pids, within=0)


def test_workers_exit_after_break():
    loader = DataLoader(D.WhoAmI(100), batch_size=2, num_workers=2, prefetch_factor=1)
    seen = set()
    for i, b in enumerate(loader):
        seen.update(b["pid"].tolist())
        if i == 1:
            break
    gc.collect()
    assert len(seen) == 2
    assert_gone(seen, within=0)


def test_workers_exit_when_the_main_process_dies():
    script = textwrap.dedent("""
        import os, signal, sys
        sys.path.insert(0, sys.argv[1])
        from ember.data import DataLoader
        from tests.data.datasets import Squares
        it = iter(DataLoader(Squares(100), batch_size=2, num_workers=2))
        next(it)
        print(*it.worker_pids, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", script, root], capture_output=True, text=True,
                         timeout=30)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2, out.stderr
    # Orphans are reparented; whether the new parent reaps them is up to it.
    assert_gone(pids, within=3 * worker.STATUS_CHECK_INTERVAL + 2, zombies_count=False)


# ---- start methods ---------------------------------------------------------------------

def test_default_start_method_is_fork_on_linux():
    if sys.platform.startswith("linux"):
        assert pool.default_context().get_start_method() == "fork"


def test_spawn_start_method():
    # The dataset travels pickled (its tensors as arrays); workers import it from here.
    x, y = ember.randn(7, 2), ember.arange(7)
    ds = StackDataset(TensorDataset(x, y), D.WhoAmI(7))
    loader = DataLoader(ds, batch_size=4, num_workers=2, multiprocessing_context="spawn",
                        worker_init_fn=D.tag_second_part)
    (xy0, info0), (xy1, info1) = epoch(loader)
    assert [xy0, xy1] == epoch(DataLoader(TensorDataset(x, y), batch_size=4))
    assert info0["tag"] == ["init 0"] * 4 and info1["tag"] == ["init 1"] * 3


def test_spawn_with_an_unpicklable_collate_fn_says_why():
    loader = DataLoader(D.Squares(4), num_workers=1, multiprocessing_context="spawn",
                        collate_fn=lambda batch: batch)
    with pytest.warns(UserWarning, match="must be defined at module level"):
        with pytest.raises(Exception, match="pickle"):
            iter(loader)
