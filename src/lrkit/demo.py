"""The main job, end to end on the embedded default (``lrkit demo``): the WSD workflow.

1. Pilots, as a user of warmup-stable-decay schedules trains them: a constant-LR run to the budget and
   a short cooldown branch of it (in the demo simply a WSD run with a 10% linear decay at the budget,
   the same seed, so it is the constant run up to the cooldown).
2. Fit a loss-curve law (multi-power, Luo et al. 2025) to the pilots' validation loss.  The law is
   fitted at the peak LR and over the horizon it then predicts (interpolation, not extrapolation), on
   the losses from ``fit_from`` of the budget on: the warmup and the fast early transient of the toy
   LM are not of the law's form.
3. Plan the cooldown for the budget within the WSD family (decay fraction, form and floor).
4. Run the planned schedule and the standard ones (cosine, WSD, linear) at the budget, ``seeds`` seeds
   each, matched (seed ``s`` of every schedule: the same initialisation and batches).
5. Predict every one of them with the law, store the predictions next to the trials, and write the
   report: predicted against realised final loss per seed, the ranking, and whether the plan beats the
   best standard schedule beyond seed noise (:mod:`lrkit.report.demo_story`).
"""

from __future__ import annotations

import resource
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from .bench.runner import available_cpus, make_executor, sweep
from .bench.store import Store
from .bench.trial import Trial, canonical_spec
from .report.demo_html import demo_story
from .report.demo_story import Story


@dataclass(frozen=True)
class DemoConfig:
    """The demo's protocol: every run (pilots included) is ``budget`` steps at ``peak_lr``."""

    budget: int
    warmup: int
    peak_lr: float
    cooldown: float = 0.1    # the pilot cooldown branch: the last 10% decays linearly to 0
    fit_from: float = 0.2    # losses logged before this fraction of the budget are left out of the fit
    seeds: int = 3
    log_every: int = 0       # 0: about 50 logged points per run
    options: dict[str, Any] = field(default_factory=dict)
    law: str = "multipower"
    family: str = "wsd"

    @property
    def fit_start(self) -> int:
        """The first step whose loss the law is fitted on (never inside the warmup)."""
        return max(self.warmup, int(round(self.fit_from * self.budget)))


FULL = DemoConfig(budget=1000, warmup=50, peak_lr=3e-3, log_every=10)
QUICK = DemoConfig(budget=120, warmup=10, peak_lr=3e-3, seeds=2,
                   options={"d_model": 32, "layers": 1, "heads": 2, "context": 32, "batch_size": 8, "val_windows": 16})


@dataclass
class DemoResult:
    report: Path
    db: Path
    planned: str
    budget: int                     # steps of every run
    rows: list[dict[str, Any]]      # per schedule, best realised first: ScheduleResult.to_dict()
    story: Story
    fit: Any
    seconds: float                  # wall-clock
    cpu_seconds: float              # this process and its trial workers, user + system
    phases: dict[str, float]
    notes: list[str] = field(default_factory=list)  # what the laws warned about (law_notes)


def pilot_schedules(cfg: DemoConfig) -> list[str]:
    """The constant run and its short cooldown branch."""
    w = cfg.warmup
    return [canonical_spec(f"constant(warmup={w})"),
            canonical_spec(f'wsd(decay={cfg.cooldown:g}, form="linear", warmup={w})')]


def standard_schedules(warmup: int) -> list[str]:
    return [f"cosine(warmup={warmup})", f'wsd(warmup={warmup}, decay=0.2, form="1-sqrt")', f"linear(warmup={warmup})"]


def cpu_seconds() -> float:
    """User + system CPU time of this process and of its waited-for children (the trial workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_demo(out: str | Path = "lrkit-demo", quick: bool = False, workers: int | None = None,
             config: DemoConfig | None = None, say: Callable[[str], None] = print,
             progress: Callable[[str], Callable[[str, dict], None] | None] | None = None) -> DemoResult:
    """Run the demo; write ``out/index.html`` and ``out/demo.db``; return the summary."""
    from .report.html import write_report

    cfg = config or (QUICK if quick else FULL)
    t0, c0 = time.perf_counter(), cpu_seconds()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "demo.db"
    workers = workers if workers is not None else min(2, available_cpus())
    phases: dict[str, float] = {}
    with Store(db) as store:
        executor = make_executor("local", workers)
        try:
            pilots = pilot_schedules(cfg)
            say(f"pilots: charlm, {cfg.budget:,} steps at peak LR {cfg.peak_lr:g}: a constant run and its cooldown "
                f"branch ({cfg.cooldown:.0%} linear decay), seed 0")
            pilot_ids = _sweep(store, executor, [_trial(cfg, s, 0) for s in pilots], "pilots", progress)
            phases["pilots"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            with law_notes() as notes:
                fitted, planned = _fit_and_plan(store, cfg, pilot_ids, pilots)
            phases["fit and plan"] = time.perf_counter() - t1
            say(f"fitted the {cfg.law} law on the validation loss from step {cfg.fit_start:,} (R² on the pilots "
                f"{_r2(fitted)}); planned the cooldown for {cfg.budget:,} steps: {planned}")
            for note in notes:
                say(f"note: {note}")
            standard = [canonical_spec(s) for s in standard_schedules(cfg.warmup)]
            finals = standard + ([planned] if planned not in standard else [])  # a plan may be a standard schedule
            trials = [_trial(cfg, s, seed) for s in finals for seed in range(cfg.seeds)]
            say(f"runs: {len(finals)} schedules × {cfg.seeds} seeds = {len(trials)} trials of {cfg.budget:,} steps "
                f"on {workers} workers")
            t2 = time.perf_counter()
            ids = _sweep(store, executor, trials, "budget runs", progress)
            phases["budget runs"] = time.perf_counter() - t2
        finally:
            executor.close()
        with law_notes() as more:
            pred = _predictions(store, cfg, fitted, finals, planned, pilot_ids, ids)
        pred["notes"] = list(dict.fromkeys(notes + more))
        store.put_artifact("prediction:charlm", pred)
        story = demo_story(store, pred)
        t3 = time.perf_counter()
        report = write_report(store, folder, title="lrkit demo: plan a WSD cooldown from two pilots, then check it")
        phases["report"] = time.perf_counter() - t3
    return DemoResult(report, db, planned, cfg.budget, [r.to_dict() for r in story.rows], story, fitted,
                      time.perf_counter() - t0, cpu_seconds() - c0, phases, pred["notes"])


@contextmanager
def law_notes() -> Iterator[list[str]]:
    """Collect what the laws warn about (a parameter the pilots leave undetermined, a prediction outside
    the fit's domain) as notes for the summary and the report, instead of warnings on stderr."""
    from .laws import ExtrapolationWarning, UndeterminedWarning

    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UndeterminedWarning)
        warnings.simplefilter("always", ExtrapolationWarning)
        yield notes
    for w in caught:
        if issubclass(w.category, (UndeterminedWarning, ExtrapolationWarning)):
            notes.append(str(w.message))
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _trial(cfg: DemoConfig, spec: str, seed: int) -> Trial:
    return Trial("charlm", spec, cfg.peak_lr, "adamw", seed, cfg.budget, cfg.log_every, dict(cfg.options))


def _sweep(store: Store, executor: Any, trials: list[Trial], name: str, progress: Any) -> list[int]:
    rep = sweep(store, trials, executor, on_event=progress(name) if progress else None)
    if rep.failed:
        raise RuntimeError(f"a {name.rstrip('s')} run failed: " + "; ".join(rep.errors))
    return rep.ids


def _fit_and_plan(store: Store, cfg: DemoConfig, pilot_ids: list[int], pilots: list[str]) -> tuple[Any, str]:
    """The law fitted to the pilots, and the planned spec (kept in the database: a rerun reuses the
    same plan and so the same trials)."""
    from .laws import fit as fit_law, plan as plan_schedule

    curves = [_pilot_curve(store.history(tid), spec, cfg) for tid, spec in zip(pilot_ids, pilots)]
    fitted = fit_law(curves, law=cfg.law)
    key = (f"demo-plan:{','.join(map(str, pilot_ids))}:{cfg.law}:{cfg.family}:{cfg.budget}:{cfg.warmup}:"
           f"{cfg.fit_start}")
    planned = store.get_artifact(key)
    if planned is None:
        plan = plan_schedule(fitted, cfg.budget, cfg.peak_lr, family=cfg.family, warmup=cfg.warmup)
        planned = canonical_spec(plan.best.spec)
        store.put_artifact(key, planned)
    return fitted, planned


def _predictions(store: Store, cfg: DemoConfig, fitted: Any, finals: list[str], planned: str,
                 pilot_ids: list[int], ids: list[int]) -> dict[str, Any]:
    """The law's prediction of every budget schedule at the logged steps, as stored for the report."""
    from .laws import predict
    from .laws.base import schedule_lr

    steps = np.asarray(store.history(ids[0])["step"], dtype=int)
    steps = steps[steps >= cfg.fit_start]  # the law describes the loss from there on (it was fitted there)
    curves = []
    for spec in finals:
        p = predict(fitted, schedule_lr(spec, cfg.budget, cfg.peak_lr), steps)
        at = np.isfinite(p.loss)  # the law applies from the end of the warmup on (NaN before)
        curves.append({"label": spec, "planned": spec == planned, "steps": steps[at].tolist(),
                       "loss": p.loss[at].tolist(), "lower": p.lower[at].tolist(), "upper": p.upper[at].tolist()})
    r2 = [float(m["r2"]) for m in fitted.metrics.values() if isinstance(m, dict) and np.isfinite(m.get("r2", np.nan))]
    return {"workload": "charlm", "budget": cfg.budget, "peak_lr": cfg.peak_lr, "pilot_steps": cfg.budget,
            "pilots": pilot_schedules(cfg), "warmup": cfg.warmup, "fit_from": cfg.fit_start,
            "level": fitted.band_level, "pilot_ids": pilot_ids, "trial_ids": ids, "curves": curves,
            "planned": planned, "fit": {"law": fitted.law, "params": fitted.params, "r2": r2, "flags": dict(fitted.flags)}}


def _pilot_curve(history: dict, spec: str, cfg: DemoConfig) -> Any:
    """A pilot's validation loss from step ``cfg.fit_start`` on as a law curve, its LR that of ``spec``
    at the peak LR."""
    from .laws import Curve
    from .runs import Run

    run = Run.from_arrays(history["step"], history["loss"], history["lr"], val_loss=history["val_loss"],
                          grad_norm=history["grad_norm"], name=spec, source=f"pilot {spec}")
    c = Curve.from_run(run, total=cfg.budget, schedule=spec, base_lr=cfg.peak_lr, loss="val_loss")
    keep = c.steps >= cfg.fit_start
    return Curve(c.name, c.lr, c.steps[keep], c.loss[keep])


def _r2(fit: Any) -> str:
    vals = [m.get("r2") for m in fit.metrics.values() if isinstance(m, dict) and m.get("r2") is not None]
    return ", ".join(f"{v:.3f}" for v in vals) if vals else "n/a"
