"""A captured step's ``optimizer.step()``, its per-parameter updates run on ember's threads.

A built-in optimizer updates each parameter with one compiled pass over its arrays
(``ember.backend.optim_kernels``), parameter after parameter, on one thread. The updates
are independent and the kernels release the GIL, so ``TrainPlan`` (``train_plan.py``)
runs them in two (or ``get_num_threads()``) groups of about equal size at once: the
same calls on the same arrays, so the parameters are bitwise what ``step()`` gives.

Only the plain case takes this path: the optimizer's class keeps ``Optimizer.step``
(built-in optimizers implement ``_update``), no step hooks, no closure, and every
parameter already has its state (after the first step; the capturing call ran one).
Anything else calls ``optimizer.step()`` itself.

Measured on ``mlp`` (SGD with momentum, 535K parameters; one group holds the first
layer's 401K), two threads, wall time, interleaved in one process with another process
holding about one core: the plan's step 1.02x as fast with the updates in groups.

Not while OpenBLAS's own threads run the products (the step tuner's ``"blas"`` mode):
its worker spins on the other core for a while after backward's last product, and the
pool's thread waits for that core. Measured on ``mlp`` in that mode (idle machine,
interleaved in one process, two runs): the plan's step 2.22 -> 2.15 ms and 2.32 -> 2.21
ms with the updates on the calling thread alone.
"""

from ember._cpu_share import poll as poll_cpu_share
from ember._first_collection import after_first_step
from ember._threads import blas_products
from ember.backend import step_tuner
from ember.backend.threads import pieces, split
from ember.optim.optimizer import Optimizer

__all__ = ["optimizer_step"]

# Parameter elements from which the updates run in groups on ember's threads; below, a
# split's hand-over (~10-30 us) costs more than the second thread saves on memory-bound
# loops (SGD with momentum updated mlp's 535K float32 parameters in ~0.2 ms).
_SPLIT_SIZE = 1 << 17


def optimizer_step(optimizer, kwargs):
    """``optimizer.step(**kwargs)``, with the updates in groups on threads when it can."""
    work = _plain_updates(optimizer, kwargs)
    if not work:
        optimizer.step(**kwargs)
        return
    poll_cpu_share()  # as Optimizer.step: a safe point to change the thread count
    step_tuner.tick(optimizer)  # and to time the training loop's steps
    sizes = [p._data.size for p, _ in work]
    count = 1 if blas_products() else pieces(len(work), sum(sizes), _SPLIT_SIZE)
    if count == 1:
        _update(optimizer, work)
    else:
        groups, totals = _balanced(work, sizes, count)
        # weights: each group's share of the work, for the pool's measure of what its
        # splits gain (ember.backend.split_gain)
        split(lambda lo, hi: [_update(optimizer, g) for g in groups[lo:hi]], count, count,
              per_thread=1, weights=totals)
    for p, _ in work:
        p._vbox[0] += 1
    optimizer._opt_called = True
    after_first_step()


def _plain_updates(optimizer, kwargs):
    """``[(parameter, group)]`` that ``Optimizer.step`` would update, or None when this
    step must run through ``optimizer.step()`` (see the module doc)."""
    if (kwargs or type(optimizer).step is not Optimizer.step or "step" in vars(optimizer)
            or optimizer._optimizer_step_pre_hooks or optimizer._optimizer_step_post_hooks):
        return None
    state = optimizer.state
    work = []
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.grad is not None:
                if p not in state:
                    return None
                work.append((p, group))
    if len({id(p) for p, _ in work}) != len(work):
        return None  # a parameter listed twice: its two updates must not run at once
    return work


def _update(optimizer, work):
    for p, group in work:
        optimizer._update(p, p.grad._data, group)


def _balanced(work, sizes, count):
    """``work`` in ``count`` groups of about equal total size (largest first, each into
    the smallest group so far), and the groups' sizes."""
    groups, totals = [[] for _ in range(count)], [0] * count
    for i in sorted(range(len(work)), key=lambda i: -sizes[i]):
        k = totals.index(min(totals))
        groups[k].append(work[i])
        totals[k] += sizes[i]
    return groups, totals
