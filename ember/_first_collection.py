"""One full garbage collection at the end of the first training step (``after_first_step``).

Python runs a full collection (generation 2) when the objects promoted since the last one
reach a quarter of those that survived it. The first training step imports Numba and
loads (or compiles) the kernels it calls: the process goes from about 30,000 objects to
110,000, and the last full collection ran early in that step, before most of them
existed. So a full collection comes due within the next hundred or so steps, and walks
all of them: 47-63 ms in one step. Measured in fresh processes on the benchmark's
workloads (150 steps after 10): ``lenet``, ``resnet8`` and ``transformer`` each had one
such pause, ``mlp`` and ``lstm`` none; with one collection after the first step, none had
any. PyTorch keeps its graph in C++ and had none. The first step costs hundreds of
milliseconds anyway (kernels loaded from the disk cache, or compiled), so the collection
is run there, once per process, unless the program turned the collector off
(``gc.disable()``).
"""

import gc

__all__ = ["after_first_step"]


class _Done:
    done = False


def after_first_step():
    """Run the one full collection, if this is the first call (``Optimizer.step`` and a
    compiled step's update call it after their updates)."""
    if _Done.done:
        return
    _Done.done = True
    if gc.isenabled():
        gc.collect()
