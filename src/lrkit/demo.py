"""The main job, end to end on the embedded default (``lrkit demo``).

1. Two short pilot runs of ``charlm`` (constant and cosine, same warmup and peak LR).
2. Fit a loss-curve law (multi-power, Luo et al. 2025) to the pilots' validation loss.
3. Plan the schedule with the lowest predicted final loss for a budget four times longer.
4. Run the planned schedule and the standard ones (cosine, WSD, linear) for that budget.
5. Predict every one of them with the law, store the predictions next to the trials, and write the
   report comparing predicted and realised curves.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .bench.runner import available_cpus, make_executor, sweep
from .bench.store import Store
from .bench.trial import Trial, canonical_spec


@dataclass(frozen=True)
class DemoConfig:
    pilot_steps: int
    budget: int
    warmup: int
    peak_lr: float
    options: dict[str, Any] = field(default_factory=dict)
    law: str = "multipower"
    family: str = "free"
    seeds: int = 1


FULL = DemoConfig(pilot_steps=300, budget=1200, warmup=30, peak_lr=3e-3)
QUICK = DemoConfig(pilot_steps=60, budget=160, warmup=6, peak_lr=3e-3,
                   options={"d_model": 32, "layers": 1, "heads": 2, "context": 32, "batch_size": 8, "val_windows": 16})


@dataclass
class DemoResult:
    report: Path
    db: Path
    planned: str
    budget: int                     # steps of the budget runs
    rows: list[dict[str, Any]]      # schedule, planned, predicted, lower, upper, realised, steps_to_target
    fit: Any
    seconds: float
    phases: dict[str, float]


def standard_schedules(warmup: int) -> list[str]:
    return [f"cosine(warmup={warmup})", f'wsd(warmup={warmup}, decay=0.2, form="1-sqrt")', f"linear(warmup={warmup})"]


def run_demo(out: str | Path = "lrkit-demo", quick: bool = False, workers: int | None = None,
             config: DemoConfig | None = None, say: Callable[[str], None] = print,
             progress: Callable[[str], Callable[[str, dict], None] | None] | None = None) -> DemoResult:
    """Run the demo; write ``out/index.html`` and ``out/demo.db``; return the summary."""
    from .bench.scoring import score_store
    from .laws import fit as fit_law, plan as plan_schedule, predict
    from .laws.base import schedule_lr
    from .report.html import write_report

    cfg = config or (QUICK if quick else FULL)
    t0 = time.perf_counter()
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "demo.db"
    workers = workers if workers is not None else min(2, available_cpus())
    phases: dict[str, float] = {}
    with Store(db) as store:
        executor = make_executor("local", workers)
        try:
            # 1. pilots
            w = cfg.warmup
            pilot_specs = [canonical_spec(f"constant(warmup={w})"), canonical_spec(f"cosine(warmup={w})")]
            pilots = [Trial("charlm", s, cfg.peak_lr, "adamw", 0, cfg.pilot_steps, 0, dict(cfg.options)) for s in pilot_specs]
            say(f"pilots: charlm, {cfg.pilot_steps} steps, {' and '.join(pilot_specs)}, peak LR {cfg.peak_lr:g}")
            rep = sweep(store, pilots, executor, on_event=progress("pilots") if progress else None)
            if rep.failed:
                raise RuntimeError("a pilot run failed: " + "; ".join(rep.errors))
            phases["pilots"] = time.perf_counter() - t0
            # 2. fit the law to the pilots' validation loss
            curves = [_pilot_curve(store.history(tid), spec, cfg) for tid, spec in zip(rep.ids, pilot_specs)]
            t1 = time.perf_counter()
            fitted = fit_law(curves, law=cfg.law)
            # 3. plan for the longer budget (kept in the database: a rerun reuses the same plan and trials)
            plan_key = f"demo-plan:{','.join(map(str, rep.ids))}:{cfg.law}:{cfg.family}:{cfg.budget}:{w}"
            planned = store.get_artifact(plan_key)
            if planned is None:
                plan = plan_schedule(fitted, cfg.budget, cfg.peak_lr, family=cfg.family, warmup=w)
                planned = canonical_spec(plan.best.spec)
                store.put_artifact(plan_key, planned)
            phases["fit and plan"] = time.perf_counter() - t1
            shown = planned if len(planned) <= 90 else planned[:80] + " …"
            say(f"fitted the {cfg.law} law (R² on the pilots {_r2(fitted):s}); planned for {cfg.budget} steps: {shown}")
            # 4. the planned schedule and the standard ones at the budget
            finals = [canonical_spec(s) for s in standard_schedules(w)] + [planned]
            trials = [Trial("charlm", s, cfg.peak_lr, "adamw", seed, cfg.budget, 0, dict(cfg.options))
                      for s in finals for seed in range(cfg.seeds)]
            say(f"runs: {len(trials)} trials of {cfg.budget} steps on {workers} workers")
            t2 = time.perf_counter()
            rep2 = sweep(store, trials, executor, on_event=progress("budget runs") if progress else None)
            if rep2.failed:
                raise RuntimeError("a budget run failed: " + "; ".join(rep2.errors))
            phases["budget runs"] = time.perf_counter() - t2
        finally:
            executor.close()
        # 5. predictions, stored with the trials so `lrkit report` can redraw them
        h0 = store.history(rep2.ids[0])
        steps = np.asarray(h0["step"], dtype=int)
        pred_curves = []
        for spec in finals:
            p = predict(fitted, schedule_lr(spec, cfg.budget, cfg.peak_lr), steps)
            at = np.isfinite(p.loss)  # the law applies from the end of the warmup on (NaN before)
            pred_curves.append({"label": spec, "planned": spec == planned, "steps": steps[at].tolist(),
                                "loss": p.loss[at].tolist(), "lower": p.lower[at].tolist(), "upper": p.upper[at].tolist()})
        store.put_artifact("prediction:charlm", {
            "workload": "charlm", "budget": cfg.budget, "peak_lr": cfg.peak_lr, "pilot_steps": cfg.pilot_steps,
            "pilot_ids": rep.ids, "trial_ids": rep2.ids, "curves": pred_curves, "planned": planned,
            "fit": {"law": fitted.law, "params": fitted.params, "metrics": fitted.metrics}})
        scores = score_store(store, reference=finals[0], ids=rep2.ids)
        t3 = time.perf_counter()
        report = write_report(store, folder, title="lrkit demo: plan a schedule from two pilots, then check it")
        phases["report"] = time.perf_counter() - t3
    by_label = {m.label: m for ms in scores.methods.values() for m in ms}
    rows = []
    for c in pred_curves:
        m = by_label[c["label"]]
        rows.append({"schedule": c["label"], "planned": c["planned"], "predicted": c["loss"][-1], "lower": c["lower"][-1],
                     "upper": c["upper"][-1], "realised": m.final_val, "steps_to_target": m.steps_to_target})
    rows.sort(key=lambda r: r["realised"] if math.isfinite(r["realised"]) else math.inf)
    return DemoResult(report, db, planned, cfg.budget, rows, fitted, time.perf_counter() - t0, phases)


def _pilot_curve(history: dict, spec: str, cfg: DemoConfig) -> Any:
    """A pilot's validation loss as a law curve, its LR that of ``spec`` at the peak LR."""
    from .laws import Curve
    from .runs import Run

    run = Run.from_arrays(history["step"], history["loss"], history["lr"], val_loss=history["val_loss"],
                          grad_norm=history["grad_norm"], name=spec, source=f"pilot {spec}")
    return Curve.from_run(run, total=cfg.pilot_steps, schedule=spec, base_lr=cfg.peak_lr, loss="val_loss")


def _r2(fit: Any) -> str:
    vals = [m.get("r2") for m in fit.metrics.values() if isinstance(m, dict) and m.get("r2") is not None]
    return ", ".join(f"{v:.3f}" for v in vals) if vals else "n/a"
