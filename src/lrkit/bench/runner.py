"""Run a sweep of trials on a local process pool or a Ray cluster, writing results to a :class:`Store`.

The driver (this process) owns all database writes; workers only train and return histories, so the
same code serves a local pool and a Ray cluster whose nodes cannot see the database file.  Each
trial is claimed in the store before it is submitted, and its results are written in one
transaction when it returns (see :mod:`lrkit.bench.store` for the guarantees).
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as futures_wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .store import Store, new_owner
from .trial import OPTIMIZERS, Trial, canonical_spec

BACKENDS = ("local", "ray")
HEARTBEAT_EVERY = 10.0
#: Limits refused up front, before anything is built (a typo like ``--seeds 100000000`` is one line, not
#: gigabytes of trials): steps of one trial (the scheduler's own limit), seeds, trials of one sweep.
MAX_STEPS = 10**8
MAX_SEEDS = 10_000
MAX_TRIALS = 20_000  # a sweep's claims name its trials in one SQLite statement (at most 32,766 variables)


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def expand(workloads: Sequence[str], schedules: Sequence[str], lrs: Sequence[float] | None, seeds: int | Sequence[int],
           steps: int, optimizers: Sequence[str] = ("adamw",), log_every: int = 0,
           options: dict[str, Any] | None = None) -> list[Trial]:
    """The product workloads x schedules x optimizers x LRs x seeds, as trials (specs checked here)."""
    from .workloads import get_workload

    if not schedules:
        raise ValueError("give at least one schedule (--schedule SPEC)")
    seeds = _check_sizes(workloads, schedules, lrs, seeds, steps, optimizers, log_every)
    for o in optimizers:
        if o not in OPTIMIZERS:
            raise ValueError(f"optimizer {o!r} is not known; valid: {', '.join(OPTIMIZERS)}")
    specs = [canonical_spec(s) for s in schedules]
    out = []
    for wl in workloads:
        w = get_workload(wl)
        w.check_options(dict(options or {}))
        if not lrs and not (w.default_lr > 0 and math.isfinite(w.default_lr)):
            raise ValueError(f"workload {wl}: its default_lr {getattr(w.make, 'default_lr', w.default_lr)!r} is not a "
                             "positive number; give --lr")
        for spec, opt, lr, seed in itertools.product(specs, optimizers, list(lrs or [w.default_lr]), seeds):
            if not (lr > 0 and math.isfinite(lr)):
                raise ValueError(f"--lr must be positive, got {lr}")
            out.append(Trial(wl, spec, float(lr), opt, int(seed), steps, log_every, dict(options or {})))
    seen: dict[str, Trial] = {}
    for t in out:
        seen.setdefault(t.key, t)
    return list(seen.values())


def _check_sizes(workloads: Sequence[str], schedules: Sequence[str], lrs: Sequence[float] | None,
                 seeds: int | Sequence[int], steps: int, optimizers: Sequence[str], log_every: int) -> Sequence[int]:
    """Refuse, before anything is built, a sweep beyond the limits; returns the seeds as a sequence."""
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {seeds}")
        if seeds > MAX_SEEDS:
            raise ValueError(f"--seeds must be at most {MAX_SEEDS:,}, got {seeds:,}")
        seeds = range(seeds)
    elif len(seeds) > MAX_SEEDS:
        raise ValueError(f"at most {MAX_SEEDS:,} seeds, got {len(seeds):,}")
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"--steps must be an integer >= 2, got {steps!r}")
    if steps > MAX_STEPS:
        raise ValueError(f"--steps must be at most {MAX_STEPS:,} (10^8), got {steps:,}")
    if not isinstance(log_every, int) or not 0 <= log_every <= MAX_STEPS:
        raise ValueError(f"--log-every must be an integer between 0 and {MAX_STEPS:,}, got {log_every!r}")
    sizes = (len(workloads), len(schedules), len(optimizers), len(lrs or [0]), len(seeds))
    n = math.prod(sizes)
    if n > MAX_TRIALS:
        what = " x ".join(f"{k:,} {name}" for k, name in zip(sizes, ("workloads", "schedules", "optimizers", "LRs",
                                                                     "seeds")))
        raise ValueError(f"this sweep has {n:,} trials ({what}); at most {MAX_TRIALS:,} per sweep: split it")
    return seeds


# ---------------------------------------------------------------------- worker side
def _die_with(parent: int) -> None:
    """Make this pool worker end when the driver ``parent`` does, even on SIGKILL.

    Linux: ``PR_SET_PDEATHSIG``, then a check that the parent is still the one that started us (it may
    have died before the worker got this far, e.g. when a sweep is killed in its first second); a
    watcher thread polls the parent elsewhere (and covers a missed signal on Linux too).
    """
    import threading

    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if parent and os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)

    if parent:
        threading.Thread(target=watch, daemon=True, name="lrkit-parent-watch").start()


def _init_worker(threads: int, parent: int = 0) -> None:
    """Pool worker start-up: die with the driver (even on SIGKILL), set the torch threads."""
    _die_with(parent)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # before torch is imported
        os.environ[var] = str(threads)
    from .loop import set_threads

    set_threads(threads)


def _ping(wait: float = 0.0) -> int:
    import torch  # noqa: F401 - the import is the point

    time.sleep(wait)
    return os.getpid()


def work(trial: dict[str, Any], threads: int | None) -> dict[str, Any]:
    """Run one trial (given as a dict) and return ``{"ok": True, ...result}`` or ``{"ok": False, "error": ...}``."""
    from .train import run_trial

    try:
        res = run_trial(Trial.from_dict(trial), threads=threads)
        return {"ok": True, **res}
    except (Exception, SystemExit) as e:  # noqa: BLE001 - reported in the store, the sweep goes on
        what = f"SystemExit: the workload called sys.exit({e.code!r})" if isinstance(e, SystemExit) else f"{type(e).__name__}: {e}"
        return {"ok": False, "error": f"{what}\n{traceback.format_exc(limit=8)}"}


# ---------------------------------------------------------------------- executors
class InlineExecutor:
    """Trials one after another in this process (``--workers 0``)."""

    name = "inline"

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or available_cpus()
        self.slots = 1

    def submit(self, trial: Trial) -> Future:
        f: Future = Future()
        f.set_result(work(trial.to_dict(), self.threads))
        return f

    def wait(self, handles: Sequence[Any], timeout: float) -> list[Any]:
        return list(handles)

    def result(self, handle: Any) -> dict[str, Any]:
        return handle.result()

    def close(self, cancel: bool = False) -> None:
        pass


class LocalExecutor:
    """A pool of ``workers`` spawned processes, each with ``threads`` torch threads."""

    name = "local"

    def __init__(self, workers: int | None = None, threads: int | None = None) -> None:
        cpus = available_cpus()
        self.workers = max(1, int(workers or cpus))
        self.threads = max(1, int(threads or cpus // self.workers or 1))
        self.slots = self.workers
        self._pool = self._make()

    def _make(self) -> ProcessPoolExecutor:
        import multiprocessing

        return ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(self.threads, os.getpid()))

    def warm(self) -> float:
        """Start every worker and import torch there; returns the seconds it took."""
        t0 = time.perf_counter()
        futures_wait([self._pool.submit(_ping, 0.2) for _ in range(2 * self.workers)])
        return time.perf_counter() - t0

    def submit(self, trial: Trial) -> Future:
        try:
            return self._pool.submit(work, trial.to_dict(), self.threads)
        except BrokenProcessPool:
            self._pool = self._make()
            return self._pool.submit(work, trial.to_dict(), self.threads)

    def wait(self, handles: Sequence[Future], timeout: float) -> list[Future]:
        done, _ = futures_wait(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        return list(done)

    def result(self, handle: Future) -> dict[str, Any]:
        try:
            return handle.result()
        except BrokenProcessPool as e:
            return {"ok": False, "error": f"worker process died ({e})"}
        except Exception as e:  # noqa: BLE001
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}

    def close(self, cancel: bool = False) -> None:
        if cancel:
            procs = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                if p.is_alive():
                    p.kill()
        else:
            self._pool.shutdown(wait=True)


class RayExecutor:
    """Trials as Ray tasks (``num_cpus=threads`` each) on the cluster at ``address``, or a local one."""

    name = "ray"

    def __init__(self, address: str | None = None, threads: int = 1, num_cpus: int | None = None) -> None:
        try:
            import ray
        except ImportError as e:
            raise ValueError("--backend ray needs Ray: pip install 'ray>=2.9'") from e
        self.ray = ray
        self.threads = max(1, int(threads))
        self._owns = False
        if not ray.is_initialized():
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if address:
                try:
                    ray.init(address=address, **kw)
                except Exception as e:  # noqa: BLE001 - ray raises ConnectionError, RuntimeError, ...
                    raise ValueError(f"cannot connect to the Ray cluster at {address!r}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
            else:  # a local cluster: its workers see this process's import path (user workloads included)
                import sys

                path = os.pathsep.join(p for p in sys.path if p)
                ray.init(num_cpus=num_cpus or available_cpus(), runtime_env={"env_vars": {"PYTHONPATH": path}}, **kw)
            self._owns = True
        self._remote = ray.remote(num_cpus=self.threads, max_retries=0)(work)
        cpus = ray.cluster_resources().get("CPU", 1.0)
        self.slots = max(1, int(cpus // self.threads))

    def submit(self, trial: Trial) -> Any:
        return self._remote.remote(trial.to_dict(), self.threads)

    def wait(self, handles: Sequence[Any], timeout: float) -> list[Any]:
        done, _ = self.ray.wait(list(handles), num_returns=1, timeout=timeout)
        if done:  # take every other finished one too
            more, _ = self.ray.wait(list(handles), num_returns=len(handles), timeout=0)
            done = list({id(h): h for h in [*done, *more]}.values())
        return done

    def result(self, handle: Any) -> dict[str, Any]:
        try:
            return self.ray.get(handle)
        except Exception as e:  # noqa: BLE001 - a lost node, a killed worker
            return {"ok": False, "error": f"{type(e).__name__}: {e}"}

    def close(self, cancel: bool = False) -> None:
        if self._owns:
            self.ray.shutdown()


def make_executor(backend: str = "local", workers: int | None = None, threads: int | None = None,
                  address: str | None = None):
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not known; valid: {', '.join(BACKENDS)}")
    if backend == "ray":
        return RayExecutor(address, threads=threads or 1, num_cpus=workers)
    if workers == 0:
        return InlineExecutor(threads)
    return LocalExecutor(workers, threads)


# ---------------------------------------------------------------------- the sweep
@dataclass
class SweepReport:
    ids: list[int]
    ran: int = 0
    already_done: int = 0
    failed: int = 0
    by_others: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def _heartbeat(path: Any, owner: str, stop: threading.Event) -> None:
    """Mark ``owner``'s running trials alive every few seconds (its own connection, its own thread).

    A failed beat (a locked database) is tried again at the next one: a sweep whose heartbeat stops for
    ``Store.stale_after`` seconds is taken for dead, on any host.
    """
    store = None
    while not stop.wait(HEARTBEAT_EVERY):
        try:
            store = store or Store(path)
            store.heartbeat(owner)
        except Exception:  # noqa: BLE001 - the next beat tries again
            if store is not None:
                store.close()
            store = None
    if store is not None:
        store.close()


def sweep(store: Store, trials: Sequence[Trial], executor: Any, on_event: Callable[[str, dict], None] | None = None,
          poll: float = 0.5) -> SweepReport:
    """Run every trial of ``trials`` not yet done in ``store``; return when each is done or failed.

    Trials that another live sweep is running are waited for, not duplicated; trials of a dead sweep
    are run again.  ``on_event(kind, data)`` feeds a progress display: ``start`` (``total``,
    ``done``), ``finished`` (``trial``, ``summary``), ``failed`` (``trial``, ``error``) and
    ``progress`` (``done``, ``failed``, ``total``) whenever the counts change.
    """
    t0 = time.perf_counter()
    emit = on_event or (lambda kind, data: None)
    ids = store.add(trials)
    owner = new_owner()
    store.reclaim(ids, failed=True)
    report = SweepReport(ids)
    counts = store.counts(ids)
    report.already_done = counts["done"]
    emit("start", {"total": len(ids), "done": counts["done"]})
    inflight: dict[Any, tuple[int, Trial]] = {}
    seen = (counts["done"], counts["failed"])
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(store.path, owner, stop), daemon=True, name="lrkit-heartbeat")
    beat.start()
    try:
        while True:
            free = executor.slots - len(inflight)
            if free > 0:
                for tid, trial in store.claim(ids, owner, limit=free):
                    inflight[executor.submit(trial)] = (tid, trial)
            if inflight:
                for h in executor.wait(list(inflight), timeout=poll):
                    tid, trial = inflight.pop(h)
                    res = executor.result(h)
                    if res.get("ok"):
                        if store.finish(tid, res):
                            report.ran += 1
                        emit("finished", {"trial": trial, "id": tid, "summary": res["summary"]})
                    else:
                        err = str(res.get("error") or "failed")
                        store.fail(tid, err)
                        report.failed += 1
                        report.errors.append(f"trial {tid} ({trial.label}, lr {trial.lr:g}, seed {trial.seed}): "
                                             f"{err.splitlines()[0]}")
                        emit("failed", {"trial": trial, "id": tid, "error": err})
            counts = store.counts(ids)
            if (counts["done"], counts["failed"]) != seen:
                seen = (counts["done"], counts["failed"])
                emit("progress", {"done": seen[0], "failed": seen[1], "total": len(ids)})
            if not inflight:
                if counts["pending"] == 0 and counts["running"] == 0:
                    break
                if counts["pending"] == 0:  # the rest runs in another sweep: wait for it, or for it to die
                    time.sleep(poll)
                    store.reclaim(ids, failed=False)
    except BaseException:
        stop.set()
        executor.close(cancel=True)
        store.release(owner)
        raise
    finally:
        stop.set()
        beat.join(timeout=5)
    counts = store.counts(ids)
    report.by_others = max(0, counts["done"] - report.already_done - report.ran)
    report.seconds = time.perf_counter() - t0
    return report
