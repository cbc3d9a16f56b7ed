"""ember's benchmarks: the workloads and micro figures of ../shared/benchmarks/WORKLOADS.md,
timed in ember and PyTorch in one run, reported as ratios.

    .venv/bin/python -m benchmarks.run [--only mlp,lenet] [--rounds 3] [--markdown]

``run`` (the command) starts ``measure`` once per row, framework and round, each in a
fresh interpreter; ``workloads/`` holds the models, ``protocol`` the timing and the CPU
accounting, ``memory`` the peak-memory method, ``report`` the table, JSON and README
section. ``micro``, ``pool`` and ``transformer_block`` also run on their own. Not part of
the tests, which never assert on time (``tests/benchmarks/test_smoke.py`` only checks that
everything builds and runs).
"""
