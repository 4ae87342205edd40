"""Compare schedules honestly: workloads, trials, a resumable SQLite store, a runner and AlgoPerf-style scoring.

>>> from lrkit.bench import Store, expand, make_executor, sweep            # doctest: +SKIP
>>> trials = expand(["digits-mlp"], ["cosine(warmup=0.05)", "wsd(decay=0.2)"], [3e-3], seeds=3, steps=300)
>>> with Store("bench.db") as store:
...     sweep(store, trials, make_executor("local", workers=2))

Nothing here imports torch until a trial runs.
"""

from __future__ import annotations

from .runner import SweepReport, expand, make_executor, sweep
from .store import Store
from .trial import OPTIMIZERS, Trial
from .workloads import BUILTIN, Task, Workload, get_workload

__all__ = ["Store", "Trial", "Task", "Workload", "get_workload", "BUILTIN", "OPTIMIZERS", "expand", "make_executor",
           "sweep", "SweepReport"]
