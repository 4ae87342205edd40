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
from .html import _e, figure


def demo_story(store, pred: Mapping[str, Any]) -> Story:
    """The story of a stored demo prediction (a ``prediction:`` artifact) and its budget trials."""
    finals: dict[str, list[tuple[int, float]]] = {}
    for r in store.trials(ids=pred.get("trial_ids", [])):
        if r["status"] == "done":
            finals.setdefault(r["label"], []).append((int(r["seed"]), r["final_val"]))
    return tell(results_from(pred["curves"], finals))


def conclusion(story: Story) -> str:
    """The sentence the report opens with."""
    return f'<p class="conclusion" id="conclusion">{_e(story.sentence())}</p>'


def _realised(store, pred: Mapping[str, Any]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per schedule: the logged steps (updates) and the validation loss averaged over the seeds."""
    by: dict[str, list[dict]] = {}
    for r in store.trials(ids=pred.get("trial_ids", [])):
        if r["status"] == "done":
            by.setdefault(r["label"], []).append(store.history(r["id"]))
    out = {}
    for label, hs in by.items():
        n = min(len(h["step"]) for h in hs)
        out[label] = (np.asarray(hs[0]["step"][:n]) + 1, np.mean([np.asarray(h["val_loss"][:n], float) for h in hs], axis=0))
    return out


def _pilots(store, pred: Mapping[str, Any]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    out = []
    for pid in pred.get("pilot_ids", []):
        pr = store.trials(ids=[pid])
        if pr and pr[0]["status"] == "done":
            h = store.history(pid)
            out.append((pr[0]["label"], np.asarray(h["step"]) + 1, np.asarray(h["val_loss"])))
    return out


def _table(story: Story, cmap: Mapping[str, str], level: float) -> str:
    trs = []
    pred_rank = {lab: i + 1 for i, lab in enumerate(story.predicted_ranking)}
    for i, r in enumerate(story.rows):
        seeds = " ".join(f'<span title="seed {s}">{v:.4f}</span>' for s, v in zip(r.seeds, r.finals))
        sd = f" ± {r.sd:.4f}" if math.isfinite(r.sd) else ""
        miss = "" if abs(r.error) <= story.tolerance else ' class="never"'
        trs.append(
            f'<tr class="{"best" if i == 0 else ""}"><td class="method"><span class="swatch" style="background:'
            f'{cmap.get(r.schedule, "#333")}"></span><span title="{_e(r.schedule)}">{"planned: " if r.planned else ""}'
            f'{_e(r.label)}</span></td><td>{r.predicted:.4f}</td>'
            f"<td>{r.lower:.4f} – {r.upper:.4f}</td><td>{r.mean:.4f}{sd}</td><td>{seeds}</td>"
            f"<td{miss}>{r.error * 100:+.2f}%</td><td>{pred_rank[r.label]}</td><td>{i + 1}</td></tr>")
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
    if pilots:
        who = (f"two pilots trained to the budget of <b>{budget:,}</b> steps at peak LR {pred.get('peak_lr', 0):g}, as in the "
               f"WSD workflow: a constant-LR run (<code>{_e(pilots[0])}</code>) and its cooldown branch "
               f"(<code>{_e(pilots[1])}</code>, seed 0, the constant run until its decay)")
    else:
        who = f"two pilot runs of <b>{pred.get('pilot_steps', '?')}</b> steps"
    fitted_on = (f" on the validation loss from step {int(pred['fit_from']):,} on (the warmup of {pred.get('warmup', 0)} steps "
                 "and the fast early transient left out)" if "fit_from" in pred else "")
    lead = (f'<p class="lead">The <b>{_e(fit.get("law", "?"))}</b> loss-curve law was fitted to {who}{fitted_on}; '
            f"it then planned the cooldown for the same budget and peak LR, so every prediction interpolates in LR "
            f"and horizon. The planned schedule and the standard ones ran with <b>{len(story.rows[0].seeds)}</b> seeds each.</p>")
    params = ", ".join(f"{k} = {v:.4g}" for k, v in fit.get("params", {}).items())
    r2 = ", ".join(f"{m['r2']:.3f}" for m in fit.get("metrics", {}).values() if isinstance(m, dict) and m.get("r2") is not None)
    short = {**names, **{r.schedule: ("planned: " if r.planned else "") + r.label for r in story.rows}}
    curves = F.predicted_vs_realised(pred["curves"], _realised(store, pred), cmap, _pilots(store, pred), short)
    return (
        '<section class="card"><h2>Planned from two pilots: predicted vs realised</h2>' + lead
        + figure(final_losses(story.rows, cmap), "Each schedule's final validation loss: dots, each seed; bar, their "
                 "mean; shaded, the mean ± 2%; diamond, the law's prediction with its band.", "final losses per seed")
        + "<h3>Final validation loss</h3>" + _table(story, cmap, float(pred.get("level", 0.9)))
        + _comparison(story)
        + figure(curves, "Dashed: the law's prediction before training (band: the planned schedule's); solid: the realised "
                         "validation loss, mean over the seeds; grey: the pilots the law was fitted on.",
                 "predicted vs realised")
        + f'<p class="note" style="margin-top:10px">Fitted parameters: {_e(params)}'
        + (f"; R² on the pilots {_e(r2)}" if r2 else "") + ".</p>"
        + (f'<details><summary class="note">The planned schedule\'s spec</summary><pre class="spec">{_e(pred["planned"])}</pre>'
           "</details>" if pred.get("planned") else "")
        + "</section>")
