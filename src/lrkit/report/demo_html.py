"""The demo's part of the HTML report: the conclusion sentence the report opens with, and the section
with the protocol, the predicted-versus-realised curves, every seed's final loss and the comparison
of the planned schedule with the best standard one (:mod:`lrkit.report.demo_story`)."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from . import bench_figures as F
from .demo_figures import final_losses
from .demo_story import Story, results_from, tell
from .html_base import _e, _swatch, figure


def budget_trials(store, pred: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The finished trials a prediction is checked against: its ``trial_ids``, or (``None``) every done
    trial of its workload at the budget that is not a pilot."""
    wanted = pred.get("trial_ids")
    if wanted is not None:
        return store.trials(status="done", ids=wanted) if wanted else []
    pilots = set(pred.get("pilot_ids") or ())
    return [r for r in store.trials(status="done", workload=pred["workload"])
            if r["steps"] == pred["budget"] and r["id"] not in pilots]


def demo_story(store, pred: Mapping[str, Any]) -> Story:
    """The story of a stored demo prediction (a checked ``prediction:`` artifact, see
    :func:`lrkit.bench.records.read_prediction`) and its budget trials."""
    finals: dict[str, list[tuple[int, float]]] = {}
    for r in budget_trials(store, pred):
        finals.setdefault(r["label"], []).append((int(r["seed"]), r["final_val"]))
    return tell(results_from(pred["curves"], finals))


def conclusion(story: Story) -> str:
    """The sentence the report opens with."""
    return f'<p class="conclusion" id="conclusion">{_e(story.sentence())}</p>'


def _realised(store, pred: Mapping[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per schedule: the logged steps (updates) and the validation loss averaged over the seeds."""
    by: dict[str, list[dict]] = {}
    for r in budget_trials(store, pred):
        by.setdefault(r["label"], []).append(store.history(r["id"]))
    out = {}
    for label, hs in by.items():
        n = min(len(h["step"]) for h in hs)
        out[label] = (np.asarray(hs[0]["step"][:n]) + 1, np.mean([np.asarray(h["val_loss"][:n], float) for h in hs], axis=0))
    return out


def _pilots(store, pred: Mapping[str, Any]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for pid in pred.get("pilot_ids") or []:
        pr = store.trials(ids=[pid])
        if pr and pr[0]["status"] == "done":
            h = store.history(pid)
            out.append((pr[0]["label"], np.asarray(h["step"]) + 1, np.asarray(h["val_loss"])))
    return out


def _table(story: Story, cmap: Mapping[str, str], level: float) -> str:
    trs = []
    pred_rank = {lab: i + 1 for i, lab in enumerate(story.predicted_ranking)}
    for i, r in enumerate(story.rows):
        seeds = " ".join(f'<span title="seed {s}">{f"{v:.4f}" if math.isfinite(v) else "–"}</span>'
                         for s, v in zip(r.seeds, r.finals)) or "–"
        ran = math.isfinite(r.mean)
        sd = f" ± {r.sd:.4f}" if math.isfinite(r.sd) else ""
        miss = "" if ran and abs(r.error) <= story.tolerance else ' class="never"'
        trs.append(
            f'<tr class="{"best" if i == 0 and ran else ""}"><td class="method">{_swatch(cmap, r.schedule)}'
            f'<span title="{_e(r.schedule)}">{"planned: " if r.planned else ""}{_e(r.label)}</span></td>'
            f"<td>{r.predicted:.4f}</td><td>{r.lower:.4f} – {r.upper:.4f}</td>"
            f"<td>{f'{r.mean:.4f}{sd}' if ran else '–'}</td><td>{seeds}</td>"
            f"<td{miss}>{f'{r.error * 100:+.2f}%' if ran else '–'}</td><td>{pred_rank.get(r.label, '–')}</td>"
            f"<td>{i + 1 if ran else '–'}</td></tr>")
    return ("<table><thead><tr><th>schedule</th><th>predicted</th><th>band</th><th>realised (mean ± sd)</th>"
            f"<th>each seed</th><th>prediction error</th><th>predicted rank</th><th>realised rank</th></tr></thead>"
            f"<tbody>{''.join(trs)}</tbody></table>"
            f'<p class="note">Band: the law\'s {level:.0%} band. Error: predicted minus the seeds\' mean, relative.</p>')


def _comparison(story: Story) -> str:
    c = story.comparison
    if c is None:
        return ""
    how = ("paired: the same seed of both schedules has the same initialisation and batches" if c.paired
           else "unpaired: the two means' standard errors added in quadrature")
    if c.n < 2 or not math.isfinite(c.se):
        return f'<p class="facts">Planned minus best standard ({_e(c.standard)}): <b>{c.difference:+.4f}</b> on {c.n} seed(s); no noise estimate.</p>'
    verdict = "beyond seed noise" if c.beyond_noise else "within seed noise"
    return (f'<p class="facts">Planned minus best standard schedule ({_e(c.standard)}): <b>{c.difference:+.4f}</b> '
            f"± {c.se:.4f} standard error over {c.n} seeds ({how}); t = {c.t:+.2f} against the 95% critical value "
            f"{c.critical:.2f} of Student's t with {c.n - 1} degrees of freedom: <b>{verdict}</b>.</p>")


def demo_section(store, pred: Mapping[str, Any], story: Story, cmap: Mapping[str, str], names: Mapping[str, str]) -> str:
    """The demo: protocol, curves, final losses per seed, the comparison, the fit."""
    budget = int(pred["budget"])
    fit = pred.get("fit", {})
    pilots = pred.get("pilots")
    if pilots and len(pilots) >= 2:
        who = (f"two pilots trained to the budget of <b>{budget:,}</b> steps at peak LR {pred.get('peak_lr', 0):g}, as in the "
               f"WSD workflow: a constant-LR run (<code>{_e(pilots[0])}</code>) and its cooldown branch "
               f"(<code>{_e(pilots[1])}</code>, seed 0, the constant run until its decay)")
    else:
        who = f"two pilot runs of <b>{_e(pred.get('pilot_steps') or '?')}</b> steps"
    fitted_on = (f" on the validation loss from step {int(pred['fit_from']):,} on (the warmup of {pred.get('warmup') or 0} "
                 "steps and the fast early transient left out)" if pred.get("fit_from") is not None else "")
    lead = (f'<p class="lead">The <b>{_e(fit.get("law") or "?")}</b> loss-curve law was fitted to {who}{fitted_on}; '
            f"it then planned the cooldown for the same budget and peak LR, so every prediction interpolates in LR "
            f"and horizon. The planned schedule and the standard ones ran with <b>{max(len(r.seeds) for r in story.rows)}</b> "
            "seeds each.</p>")
    flags = fit.get("flags") or {}  # a database written before the flags were stored has none
    params = ", ".join(f"{k} = {v:.4g}" + (" (not determined by the pilots)" if k in flags else "")
                       for k, v in fit.get("params", {}).items())
    r2 = ", ".join(f"{v:.3f}" for v in fit.get("r2") or [])
    short = {**names, **{r.schedule: ("planned: " if r.planned else "") + r.label for r in story.rows}}
    curves = F.predicted_vs_realised(pred["curves"], _realised(store, pred), cmap, _pilots(store, pred), short)
    return (
        '<section class="card"><h2>Planned from two pilots: predicted vs realised</h2>' + lead
        + (figure(final_losses(story.ran, cmap), "Each schedule's final validation loss: dots, each seed; bar, their "
                  "mean; shaded, the mean ± 2%; diamond, the law's prediction with its band.", "final losses per seed")
           if story.ran else "")
        + "<h3>Final validation loss</h3>" + _table(story, cmap, float(pred.get("level") or 0.9))
        + _comparison(story)
        + figure(curves, "Dashed: the law's prediction before training (band: the planned schedule's); solid: the realised "
                         "validation loss, mean over the seeds; grey: the pilots the law was fitted on.",
                 "predicted vs realised")
        + "".join(f'<p class="note"><b>The fit says:</b> {_e(n)}</p>' for n in pred.get("notes") or [])
        + f'<p class="note" style="margin-top:10px">Fitted parameters: {_e(params)}'
        + (f"; R² on the pilots {_e(r2)}" if r2 else "") + ".</p>"
        + (f'<details><summary class="note">The planned schedule\'s spec</summary><pre class="spec">{_e(pred["planned"])}</pre>'
           "</details>" if pred.get("planned") else "")
        + "</section>")
