"""A self-contained HTML report of a benchmark database: one file, figures embedded as SVG data URIs.

Sections: the demo's predicted-versus-realised curves (when the database holds them), the benchmark
score and performance profile across problems, then per problem a steps-to-target table, validation
and training loss per schedule with the seed spread, the LR each applied, and LR sensitivity.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import bench_figures as F
from .html_base import NAME_WIDTH, PATH, _e, _int, _name, _num, _swatch, figure, no_paths  # noqa: F401 - names of this module

CSS = """
:root { --ink:#1f2328; --muted:#656d76; --line:#d8dee4; --bg:#f6f8fa; --card:#fff; --accent:#0072B2; --good:#1a7f37; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 15px/1.55 -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
main { max-width: 1220px; margin: 0 auto; padding: 28px 28px 60px; }
header { margin-bottom: 18px; }
header h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
header .sub { color: var(--muted); font-size: 13.5px; }
h2 { font-size: 19px; margin: 0 0 4px; }
h3 { font-size: 15px; margin: 18px 0 8px; color:#333; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 20px 22px; margin: 18px 0;
  box-shadow: 0 1px 2px rgba(31,35,40,.04); }
.lead { color: var(--muted); margin: 2px 0 14px; font-size: 14px; }
.stats { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin: 16px 0 6px; }
.stat { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.stat .v { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.stat .k { color: var(--muted); font-size: 12.5px; text-transform: uppercase; letter-spacing: .04em; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 7px 10px; border-bottom: 1px solid #eaeef2; text-align: right; white-space: nowrap; }
th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase; letter-spacing: .03em;
  border-bottom: 1px solid var(--line); }
th:first-child, td:first-child { text-align: left; }
td.method { white-space: normal; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
tr.best td { background: #f0f7ff; }
tr.best td:first-child { box-shadow: inset 3px 0 0 var(--accent); }
.swatch { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:8px; vertical-align: 0; }
.never { color: #b35900; }
.figs { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; margin-top: 14px; }
.figs.one { grid-template-columns: 1fr; }
figure { margin: 0; }
.split { display: grid; grid-template-columns: minmax(0, 1.1fr) minmax(0, 1fr); gap: 22px; align-items: start; }
figure img { width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; }
.facts { color: var(--muted); font-size: 13px; margin: 0 0 10px; }
.facts b { color: var(--ink); font-weight: 600; }
.note { color: var(--muted); font-size: 13px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; background: #eff2f5;
  padding: 1px 5px; border-radius: 4px; }
details { margin-top: 8px; }
summary { cursor: pointer; }
pre.spec { white-space: pre-wrap; word-break: break-word; background: #f6f8fa; border: 1px solid var(--line);
  border-radius: 6px; padding: 10px 12px; font-size: 12px; margin: 8px 0 0; }
.conclusion { font-size: 16.5px; line-height: 1.5; margin: 6px 0 14px; padding: 12px 16px; background: var(--card);
  border: 1px solid var(--line); border-left: 4px solid var(--accent); border-radius: 8px; }
footer { color: var(--muted); font-size: 12.5px; margin-top: 26px; }
@media (max-width: 900px) { .figs, .split { grid-template-columns: 1fr; } }
"""

# Records load errors and console errors, then marks the page once every figure has decoded
# (data-figures="loaded/total", data-errors="n"): a quick integrity check for people and tests.
CHECK_JS = """
(function(){var errs=[];var ce=console.error;console.error=function(){errs.push([].join.call(arguments,' '));ce.apply(console,arguments);};
window.addEventListener('error',function(e){errs.push(String(e.message||(e.target&&e.target.src)||'error'));},true);
window.addEventListener('load',function(){var imgs=document.images,ok=0;for(var i=0;i<imgs.length;i++){if(imgs[i].complete&&imgs[i].naturalWidth>0)ok++;}
var d=document.documentElement;d.setAttribute('data-figures',ok+'/'+imgs.length);d.setAttribute('data-errors',String(errs.length));
if(errs.length)d.setAttribute('data-error-list',errs.join(' | ').slice(0,500));});})();
"""


def _target(scores, p: str, names: Mapping[str, str]) -> str:
    """The target of problem ``p`` in words (none when every run of the reference diverged)."""
    t, ref = scores.targets[p], f"<code>{_name(scores.reference[p], names)}</code>"
    diverged = getattr(scores, "reference_diverged", {}).get(p, 0)
    if math.isfinite(t):
        left_out = f"; its {diverged} diverged run{'s' * (diverged > 1)} left out" if diverged else ""
        return f"target validation loss <b>{_e(f'{t:.4g}')}</b> (median best of {ref}{_e(left_out)})"
    if diverged:
        return f'<span class="never">no target</span>: every run of {ref} diverged'
    return f'<span class="never">no target</span>: no run of {ref} reached a finite validation loss'


def _method_table(ms, cmap, target: float, names: Mapping[str, str]) -> str:
    sens = any(x.sensitivity is not None for x in ms)
    rows = []
    for i, m in enumerate(ms):
        lo, hi = m.final_val_spread
        spread = f' <span class="note">({_e(f"{lo:.4g}–{hi:.4g}")})</span>' if m.seeds > 1 and math.isfinite(lo) else ""
        reach = f' <span class="note">({_e(m.reached)}/{_e(m.seeds)})</span>' if m.reached < m.seeds else ""
        tt = _e(f"{m.time_to_target:.2f} s") if math.isfinite(m.time_to_target) else '<span class="never">never</span>'
        rows.append(
            f'<tr class="{"best" if i == 0 and math.isfinite(m.steps_to_target) else ""}">'
            f'<td class="method">{_swatch(cmap, m.label)}{_name(m.label, names)}</td>'
            f"<td>{_e(f'{m.lr:g}')}</td><td>{_e(m.seeds)}</td><td>{_num(m.final_val)}{spread}</td>"
            f"<td>{_num(m.best_val)}</td><td>{_int(m.steps_to_target)}{reach}</td><td>{tt}</td><td>{_num(m.ratio, 3)}</td>"
            + (f"<td>{_num(m.sensitivity, 3)}</td>" if sens else "") + "</tr>")
    sens_h = "<th>LR sensitivity</th>" if sens else ""
    return ("<table><thead><tr><th>method</th><th>peak LR</th><th>seeds</th><th>final val loss</th><th>best val loss</th>"
            f"<th>steps to target</th><th>time to target</th><th>× fastest</th>{sens_h}</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _ratio_cells(scores, lab: str) -> str:
    """A method's steps to target divided by the fastest method's, per problem."""
    cells = []
    for p in scores.methods:
        best = min(scores.times[x].get(p, math.inf) for x in scores.labels)
        cells.append(f"<td>{_num(scores.times[lab].get(p, math.inf) / best, 3) if math.isfinite(best) else '–'}</td>")
    return "".join(cells)


def _score_section(scores, cmap: Mapping[str, str], names: Mapping[str, str]) -> str:
    """The benchmark score table and the performance profile (AlgoPerf, Dahl et al. 2023)."""
    from ..bench.scoring import R_MAX

    srows = "".join(
        f'<tr class="{"best" if i == 0 else ""}"><td class="method">{_swatch(cmap, lab)}{_name(lab, names)}</td>'
        f"<td>{_e(f'{scores.score[lab]:.3f}')}</td><td>{_e(f'{scores.score_time[lab]:.3f}')}</td>"
        + _ratio_cells(scores, lab) + "</tr>"
        for i, lab in enumerate(sorted(scores.labels, key=lambda s: -scores.score[s])))
    phead = "".join(f"<th>{_e(p)}</th>" for p in scores.methods)
    return (
        '<section class="card"><h2>Benchmark score</h2>'
        f'<p class="lead">AlgoPerf-style: per problem, each method\'s median steps to the validation target at its best '
        f"peak LR, divided by the fastest method's; the score integrates the performance profile over τ ∈ [1, {R_MAX:g}] "
        "(1 = fastest on every problem, 0 = never within 4×). Columns on the right: the ratio per problem.</p>"
        '<div class="split"><div>'
        f"<table><thead><tr><th>method</th><th>score</th><th>score by time</th>{phead}</tr></thead><tbody>{srows}</tbody></table>"
        "</div><div>"
        + figure(F.performance_profile(scores.times, cmap, R_MAX, scores.score, names),
                 "Fraction of problems on which each method reaches the target within τ times the fastest method's steps.",
                 "performance profile")
        + "</div></div></section>")


def _problem_section(p: str, ms, scores, rows, hist, cmap: Mapping[str, str], names: Mapping[str, str]) -> str:
    """One problem: its table of methods, loss and LR curves, and the LR sensitivity when LRs were swept."""
    from ..bench.workloads import DESCRIPTIONS

    meta = scores.problems[p]
    ids = {i for m in ms for i in m.trial_ids}
    mine = [r for r in rows if r["id"] in ids]
    # the description stored with the trials when they ran; never the workload's code (docs/security.md)
    desc = next((r["description"] for r in mine if r.get("description")), None) \
        or DESCRIPTIONS.get(meta["workload"]) or meta["workload"]
    first = next(r for r in rows if r["id"] == ms[0].trial_ids[0])
    info = json.loads(first["info"]) if first.get("info") else {}
    facts = " · ".join(f"{_e(k)} <b>{_e(f'{v:,}' if isinstance(v, int) else no_paths(v))}</b>" for k, v in info.items())
    figs = figure(F.loss_curves(ms, hist, cmap, scores.targets[p], names),
                  "Median over seeds at each method's best peak LR; shaded: min–max over seeds. Dashed: the target.",
                  "loss curves")
    side = [figure(F.lr_curves(ms, hist, cmap, names), "The learning rate each method applied.", "learning rate")]
    if any(len(m.lr_sweep) > 1 for m in ms):
        l0 = np.nanmedian([r["init_val"] for r in mine if r["init_val"] is not None] or [math.nan])
        side.append(figure(F.lr_sensitivity(ms, cmap, float(l0), names),
                           "Final validation loss (median over seeds) for each peak LR swept.", "LR sensitivity"))
    steps = f"{meta['steps']:,}"
    return (f'<section class="card"><h2>{_e(p)}</h2><p class="lead">{_e(desc)} · {_e(steps)} steps · '
            f'{_target(scores, p, names)}</p>'
            + (f'<p class="facts">{facts}</p>' if facts else "")
            + _method_table(ms, cmap, scores.targets[p], names)
            + '<div class="figs one">' + figs + "</div>"
            + '<div class="figs">' + "".join(side) + "</div></section>")


def _predictions(store) -> dict[str, dict[str, Any]]:
    """The database's prediction artifacts, each checked (a hand-edited one is one line naming it)."""
    from ..bench.records import read_prediction

    return {k: read_prediction(store.path, k, v) for k, v in store.artifacts("prediction:").items()}


def busy_seconds(rows) -> float:
    """Wall-clock seconds during which at least one trial of ``rows`` was running: the length of the
    union of their ``[finished - wall_time, finished]`` (sweeps run apart are not bridged)."""
    spans = sorted((r["finished"] - r["wall_time"], r["finished"]) for r in rows
                   if r.get("finished") is not None and r.get("wall_time") is not None)
    total, end = 0.0, -math.inf
    for a, b in spans:
        if b > end:
            total += b - max(a, end)
            end = b
    return total


def _header(store, title: str, scores, rows, n_failed: int, lead: str = "") -> str:
    """The title, then ``lead`` (the demo's conclusion), then the counts."""
    cpu = sum(r["train_time"] or 0 for r in rows)
    stats = (("problems", len(scores.methods)), ("methods", len(scores.labels)), ("trials done", len(rows)),
             ("failed", n_failed), ("wall time", f"{busy_seconds(rows) / 60:.1f} min"),
             ("CPU time (sum over workers)", f"{cpu / 60:.1f} min"))
    return (f'<header><h1>{_e(title)}</h1><div class="sub">{_e(store.path.name)} · generated '
            f'{_e(_dt.datetime.now().strftime("%Y-%m-%d %H:%M"))} · lrkit</div></header>{lead}'
            '<div class="stats">'
            + "".join(f'<div class="stat"><div class="v">{_e(v)}</div><div class="k">{_e(k)}</div></div>' for k, v in stats)
            + "</div>")


FOOTER = (
    '<footer>Steps to target count updates applied until the validation loss first reached the target (evaluated every '
    "K steps, untimed); time to target is the training time until then. A method's peak LR is the swept LR with the fewest "
    "steps to target. LR sensitivity (Wortsman et al. 2023): mean over the swept LRs of min(loss, initial loss) minus the best. "
    "Times are wall-clock on the machine that ran the trials (noisy when it is shared); steps are the primary measure. "
    "Generated by <code>lrkit report</code>.</footer>")


def render_report(store, reference: str | None = None, targets: Mapping[str, float] | None = None,
                  title: str | None = None) -> str:
    """The report of ``store`` (a :class:`lrkit.bench.Store`) as one HTML string.

    It reads the database as data: no workload's code is imported, and every field is escaped.
    """
    from ..bench.scoring import score_store
    from .demo_html import conclusion, demo_section, demo_story
    from .demo_story import schedule_name

    predictions = _predictions(store)
    pilot_ids = {i for p in predictions.values() for i in p["pilot_ids"]}
    names = {c["label"]: f"planned: {schedule_name(c['label'])}"
             for p in predictions.values() for c in p["curves"] if c["planned"]}
    rows = [r for r in store.trials(status="done") if r["id"] not in pilot_ids]  # pilots: in their own section
    if not rows:
        n = {st: len(store.trials(status=st)) for st in ("failed", "running", "pending")}
        have = ", ".join(f"{v} {k}" for k, v in n.items() if v)
        raise ValueError(f"{store.path}: no finished trials to report on"
                         + (f" ({have}; see: lrkit runs --db {store.path})" if have else " (run lrkit bench first)"))
    scores = score_store(store, reference, targets, ids=[r["id"] for r in rows])
    hist = scores.histories
    labels_all = list(scores.labels) + [c["label"] for p in predictions.values() for c in p["curves"]]
    cmap = F.colours(list(dict.fromkeys(labels_all)))
    n_failed = sum(r["status"] == "failed" for r in store.trials())
    title = title or "lrkit benchmark report"
    demos = [(pred, demo_story(store, pred)) for _, pred in sorted(predictions.items())]
    # the demo's conclusion opens the report, right under the title
    parts = [_header(store, title, scores, rows, n_failed, "".join(conclusion(st) for _, st in demos))]
    parts += [demo_section(store, pred, st, cmap, names) for pred, st in demos]
    if len(scores.labels) > 1 and len(scores.methods) >= 1:
        parts.append(_score_section(scores, cmap, names))
    for p, ms in scores.methods.items():
        parts.append(_problem_section(p, ms, scores, rows, hist, cmap, names))
    parts.append(FOOTER)
    body = "\n".join(parts)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(title)}</title>'
            f"<style>{CSS}</style><script>{CHECK_JS}</script></head><body><main>\n{body}\n</main></body></html>\n")


def write_report(store, out: str | Path, reference: str | None = None, targets: Mapping[str, float] | None = None,
                 title: str | None = None) -> Path:
    """Write ``out/index.html`` (the folder is created); returns its path."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    text = render_report(store, reference, targets, title)
    path = folder / "index.html"
    tmp = folder / ".index.html.tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
