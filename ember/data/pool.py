"""The main process side of multi-process loading: the worker processes and their pipes.

NOTE [DataLoader workers]
=========================
The rules every piece of multi-process loading keeps (worker.py is the other side):

1. The main process runs the sampler and decides every batch's indices; workers only
   fetch. So the order of samples depends on the seed and never on ``num_workers``.
   Task ``k`` (batch ``k``) goes to the next active worker round-robin, and every
   worker fetches through the same ``fetch.py`` path as in-process loading.
2. Messages: each worker has its own index queue (``(task_id, index)``, ``_Resume`` for
   a new epoch with persistent workers, ``None`` to stop), written by the main process
   through the queue's feeder thread so the main process never blocks on it. Each
   worker answers on its own one-way pipe with ``(task_id, batch)``; ``send`` pickles
   in the worker itself, so a batch that cannot be pickled comes back as an error
   instead of being dropped. An ember Tensor crosses as its NumPy array: no autograd
   state leaves a process (``worker.share_tensors_as_arrays``).
3. At most ``prefetch_factor`` tasks per worker are in flight; one new task is sent
   each time a batch is handed out. Batches that arrive early wait in ``_tasks`` until
   their turn (``in_order=True``), or are handed out at once (``in_order=False``).
4. Seeds: every iterator draws a base seed from the loader's generator (or ember's
   default one), also with ``num_workers=0``, so the sampler sees the same random
   stream whatever the worker count. Worker ``w`` seeds ember's default generator and
   Python's ``random`` with ``base_seed + w`` and NumPy's legacy ``np.random`` with
   PyTorch's hash of the two (``worker.seed_worker``): same seed and same
   ``num_workers``, same batches, random augmentation included.
5. Never hang silently: the main process waits on the result pipes *and* the workers'
   process sentinels at once (``multiprocessing.connection.wait``), so a worker that
   dies wakes it at once and the error names the worker, its pid, the exit code and
   the indices it was loading. A worker's exception comes back as text (type, message,
   traceback) and is raised again naming the worker and the indices. ``timeout > 0``
   bounds every wait. A worker whose parent has died notices within
   ``worker.STATUS_CHECK_INTERVAL`` seconds and exits.
6. Shutdown happens at the end of an epoch (unless ``persistent_workers``), on any
   error, when the iterator is garbage-collected and at interpreter exit
   (``weakref.finalize``): set the done event, send ``None`` to every worker, keep
   draining the pipes (so no worker stays blocked writing a batch) until each has
   exited or a grace period ends, then terminate, then kill, and join every process
   so none is left behind, not even as a zombie. A failed iterator is finished: the
   next ``next()`` raises StopIteration.
"""

import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import time
import warnings

from ember.data.worker import share_tensors_as_arrays, worker_loop

SHUTDOWN_GRACE = 5.0  # seconds workers get to exit by themselves before terminate()


def default_context():
    """'fork' on Linux (fast start, no need to pickle the dataset), else the platform's."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


class WorkerDied(Exception):
    """A worker process exited while the main process still expected batches from it."""

    def __init__(self, worker_id, pid, exitcode):
        super().__init__(worker_id, pid, exitcode)
        self.worker_id, self.pid, self.exitcode = worker_id, pid, exitcode


class WorkerPool:
    """``num_workers`` processes running ``worker.worker_loop``, each with an index queue
    and a result pipe (NOTE [DataLoader workers])."""

    def __init__(self, ctx, kind, dataset, loader_args, base_seed, init_fn, num_workers):
        share_tensors_as_arrays()
        self.closed = False
        self.owner = os.getpid()
        self.done_event = ctx.Event()
        self.queues, self.readers, self.processes, self.pids = [], [], [], []
        try:
            for w in range(num_workers):
                self._start(ctx, w, (kind, dataset), loader_args, base_seed, init_fn,
                            num_workers)
        except BaseException as exc:
            self.shutdown(grace=0)
            if isinstance(exc, Exception) and ctx.get_start_method() != "fork":
                warnings.warn(f"DataLoader could not start a worker with the "
                              f"'{ctx.get_start_method()}' start method, which pickles the "
                              "dataset, collate_fn and worker_init_fn: they must be defined "
                              "at module level in an importable module (no lambdas or local "
                              "classes).", stacklevel=5)
            raise
        self.open_readers = dict(zip(self.readers, range(num_workers)))

    def _start(self, ctx, w, data, loader_args, base_seed, init_fn, num_workers):
        index_queue = ctx.Queue()
        index_queue.cancel_join_thread()  # never block exit on undelivered indices
        reader, writer = ctx.Pipe(duplex=False)
        process = ctx.Process(
            target=worker_loop, name=f"ember DataLoader worker {w}", daemon=True,
            args=(*data, index_queue, writer, self.done_event, loader_args, base_seed,
                  init_fn, w, num_workers))
        self.queues.append(index_queue)
        self.readers.append(reader)
        try:
            process.start()
        finally:
            writer.close()  # the worker holds the only write end: EOF when it dies
        self.processes.append(process)
        self.pids.append(process.pid)

    def put(self, worker_id, message):
        self.queues[worker_id].put(message)

    def receive(self, active, timeout=None):
        """The next ``(task_id, payload)`` from any worker, or None after ``timeout``.

        Raises ``WorkerDied`` when one of the ``active`` workers has exited.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        sentinels = {self.processes[w].sentinel: w for w in active}
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = multiprocessing.connection.wait([*self.open_readers, *sentinels], remaining)
            if not ready:
                return None
            for reader in [r for r in ready if r in self.open_readers]:
                message = self._recv(reader, active)
                if message is not None:
                    return message
            for sentinel in [s for s in ready if s in sentinels]:
                raise self._died(sentinels[sentinel])

    def _recv(self, reader, active):
        try:
            return reader.recv()
        except (EOFError, OSError):  # the worker closed its end: it is exiting or dead
            worker_id = self.open_readers.pop(reader)
            if worker_id in active:
                raise self._died(worker_id) from None
            return None

    def _died(self, worker_id):
        process = self.processes[worker_id]
        process.join(SHUTDOWN_GRACE)  # reap it, so the exit code is known
        return WorkerDied(worker_id, self.pids[worker_id], process.exitcode)

    def shutdown(self, grace=SHUTDOWN_GRACE):
        """Stop every worker and wait for it (rule 6 of NOTE [DataLoader workers])."""
        if self.closed or os.getpid() != self.owner:
            return  # done already, or a forked copy whose workers are not ours to stop
        self.closed = True
        self.done_event.set()
        for index_queue in self.queues:
            index_queue.put(None)
        self._drain_until_exit(time.monotonic() + grace)
        for process in self.processes:
            if process.is_alive():
                process.terminate()
                process.join(1.0)
            if process.is_alive():
                process.kill()
            process.join()
            process.close()
        for conn in [*self.queues, *self.readers]:
            conn.close()

    def _drain_until_exit(self, deadline):
        readers = [r for r in self.readers if not r.closed]
        while (alive := [p for p in self.processes if p.is_alive()]):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            waitables = [*readers, *(p.sentinel for p in alive)]
            for reader in multiprocessing.connection.wait(waitables, remaining):
                if reader in readers:
                    try:
                        reader.recv()
                    except (EOFError, OSError):
                        readers.remove(reader)


def describe_exit(exitcode):
    """``with exit code 1``, or ``with exit code -9 (killed by SIGKILL)``."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"with exit code {exitcode} (killed by {name})"
    return f"with exit code {exitcode}"
