"""A self-contained HTML report of a benchmark database: one file, figures embedded as SVG data URIs.

Sections: the demo's predicted-versus-realised curves (when the database holds them), the benchmark
score and performance profile across problems, then per problem a steps-to-target table, validation
and training loss per schedule with the seed spread, the LR each applied, and LR sensitivity.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import bench_figures as F

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


def _e(x: Any) -> str:
    return html.escape(str(x))


def _num(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return '<span class="never">never</span>'
    return f"{x:.{digits}g}"


def _int(x: float) -> str:
    if not math.isfinite(x):
        return '<span class="never">never</span>'
    return f"{int(round(x)):,}"


#: an absolute file-system path (at least two parts), as a workload describes its data
PATH = re.compile(r"(?<![\w.:/~])(?:~|[A-Za-z]:)?(?:[/\\][\w.+@-]+){2,}[/\\]?")


def no_paths(value: Any) -> str:
    """``value`` as text with every absolute path cut to its last part: a report is read on other
    machines, where this one's folders mean nothing (e.g. charlm's corpus folder)."""
    return PATH.sub(lambda m: m.group(0).rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1], str(value))


def figure(fig, caption: str = "", alt: str = "") -> str:
    """An ``<figure>`` with the matplotlib figure embedded as an SVG data URI."""
    svg = F.to_svg(fig)
    data = base64.b64encode(svg.encode()).decode()
    cap = f"<figcaption>{caption}</figcaption>" if caption else ""
    return f'<figure><img alt="{_e(alt or caption)}" src="data:image/svg+xml;base64,{data}">{cap}</figure>'


#: Longer method names (e.g. a planned piecewise schedule) are cut in tables; the full spec is the tooltip.
NAME_WIDTH = 72


def _name(label: str, names: Mapping[str, str]) -> str:
    """A method's name in the report: a short alias or the spec cut to ``NAME_WIDTH``, with the full spec
    as a tooltip."""
    if label in names:
        return f'<span title="{_e(label)}">{_e(names[label])}</span>'
    if len(label) > NAME_WIDTH:
        return f'<span title="{_e(label)}">{_e(F.short(label, NAME_WIDTH))}</span>'
    return _e(label)


def _target(scores, p: str, names: Mapping[str, str]) -> str:
    """The target of problem ``p`` in words (none when every run of the reference diverged)."""
    t, ref = scores.targets[p], f"<code>{_name(scores.reference[p], names)}</code>"
    if math.isfinite(t):
        return f"target validation loss <b>{t:.4f}</b> (median best of {ref})"
    return f'<span class="never">no target</span>: no run of {ref} reached a finite validation loss'


def _method_table(ms, cmap, target: float, names: Mapping[str, str]) -> str:
    rows = []
    for i, m in enumerate(ms):
        lo, hi = m.final_val_spread
        spread = f' <span class="note">({lo:.3f}–{hi:.3f})</span>' if m.seeds > 1 and math.isfinite(lo) else ""
        reach = f' <span class="note">({m.reached}/{m.seeds})</span>' if m.reached < m.seeds else ""
        tt = f"{m.time_to_target:.2f} s" if math.isfinite(m.time_to_target) else '<span class="never">never</span>'
        rows.append(
            f'<tr class="{"best" if i == 0 and math.isfinite(m.steps_to_target) else ""}">'
            f'<td class="method"><span class="swatch" style="background:{cmap[m.label]}"></span>{_name(m.label, names)}</td>'
            f"<td>{m.lr:g}</td><td>{m.seeds}</td><td>{_num(m.final_val)}{spread}</td><td>{_num(m.best_val)}</td>"
            f"<td>{_int(m.steps_to_target)}{reach}</td><td>{tt}</td><td>{_num(m.ratio, 3)}</td>"
            + (f"<td>{_num(m.sensitivity, 3)}</td>" if any(x.sensitivity is not None for x in ms) else "") + "</tr>")
    sens_h = "<th>LR sensitivity</th>" if any(x.sensitivity is not None for x in ms) else ""
    return ("<table><thead><tr><th>method</th><th>peak LR</th><th>seeds</th><th>final val loss</th><th>best val loss</th>"
            f"<th>steps to target</th><th>time to target</th><th>× fastest</th>{sens_h}</tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def render_report(store, reference: str | None = None, targets: Mapping[str, float] | None = None,
                  title: str | None = None) -> str:
    """The report of ``store`` (a :class:`lrkit.bench.Store`) as one HTML string."""
    from ..bench.scoring import R_MAX, score_trials
    from ..bench.workloads import get_workload
    from .demo_html import conclusion, demo_section, demo_story
    from .demo_story import schedule_name

    predictions = store.artifacts("prediction:")
    pilot_ids = {i for p in predictions.values() for i in p.get("pilot_ids", [])}
    names = {c["label"]: f"planned: {schedule_name(c['label'])}"
             for p in predictions.values() for c in p.get("curves", []) if c.get("planned")}
    rows = [r for r in store.trials(status="done") if r["id"] not in pilot_ids]  # pilots: in their own section
    if not rows:
        n = {st: len(store.trials(status=st)) for st in ("failed", "running", "pending")}
        have = ", ".join(f"{v} {k}" for k, v in n.items() if v)
        raise ValueError(f"{store.path}: no finished trials to report on"
                         + (f" ({have}; see: lrkit runs --db {store.path})" if have else " (run lrkit bench first)"))
    hist = store.histories([r["id"] for r in rows])
    scores = score_trials(rows, hist, reference, targets)
    labels_all = list(scores.labels) + [c["label"] for p in predictions.values() for c in p.get("curves", [])]
    cmap = F.colours(list(dict.fromkeys(labels_all)))
    all_rows = store.trials()
    n_failed = sum(r["status"] == "failed" for r in all_rows)
    train_s = sum(r["train_time"] or 0 for r in rows)
    title = title or "lrkit benchmark report"
    parts = [
        f'<header><h1>{_e(title)}</h1><div class="sub">{_e(store.path.name)} · generated '
        f'{_dt.datetime.now().strftime("%Y-%m-%d %H:%M")} · lrkit</div></header>',
        '<div class="stats">'
        + "".join(f'<div class="stat"><div class="v">{v}</div><div class="k">{k}</div></div>' for k, v in (
            ("problems", len(scores.methods)), ("methods", len(scores.labels)), ("trials done", len(rows)),
            ("failed", n_failed), ("training time", f"{train_s / 60:.1f} min")))
        + "</div>",
    ]
    for key, pred in sorted(predictions.items()):  # the demo: its conclusion opens the report
        story = demo_story(store, pred)
        parts.insert(1, conclusion(story))
        parts.append(demo_section(store, pred, story, cmap, names))
    if len(scores.labels) > 1 and len(scores.methods) >= 1:
        srows = "".join(
            f'<tr class="{"best" if i == 0 else ""}"><td class="method"><span class="swatch" style="background:{cmap[lab]}"></span>'
            f"{_name(lab, names)}</td><td>{scores.score[lab]:.3f}</td><td>{scores.score_time[lab]:.3f}</td>"
            + "".join(f"<td>{_num(scores.times[lab].get(p, math.inf) / min(scores.times[x].get(p, math.inf) for x in scores.labels), 3) if math.isfinite(min(scores.times[x].get(p, math.inf) for x in scores.labels)) else '–'}</td>"
                      for p in scores.methods) + "</tr>"
            for i, lab in enumerate(sorted(scores.labels, key=lambda s: -scores.score[s])))
        phead = "".join(f"<th>{_e(p)}</th>" for p in scores.methods)
        parts.append(
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
    for p, ms in scores.methods.items():
        meta = scores.problems[p]
        try:
            desc = get_workload(meta["workload"]).description
        except ValueError:
            desc = ""
        info = {}
        first = next(r for r in rows if r["id"] == ms[0].trial_ids[0])
        if first.get("info"):
            try:
                info = json.loads(first["info"])
            except ValueError:
                info = {}
        facts = " · ".join(f"{_e(k)} <b>{_e(f'{v:,}' if isinstance(v, int) else no_paths(v))}</b>" for k, v in info.items())
        figs = [figure(F.loss_curves(ms, hist, cmap, scores.targets[p], names),
                       "Median over seeds at each method's best peak LR; shaded: min–max over seeds. Dashed: the target.",
                       "loss curves")]
        side = [figure(F.lr_curves(ms, hist, cmap, names), "The learning rate each method applied.", "learning rate")]
        if any(len(m.lr_sweep) > 1 for m in ms):
            l0 = np.nanmedian([r["init_val"] for r in rows if r["id"] in {i for m in ms for i in m.trial_ids} and r["init_val"] is not None] or [math.nan])
            side.append(figure(F.lr_sensitivity(ms, cmap, float(l0), names),
                               "Final validation loss (median over seeds) for each peak LR swept.", "LR sensitivity"))
        parts.append(
            f'<section class="card"><h2>{_e(p)}</h2><p class="lead">{_e(desc)} · {meta["steps"]:,} steps · '
            f'{_target(scores, p, names)}</p>'
            + (f'<p class="facts">{facts}</p>' if facts else "")
            + _method_table(ms, cmap, scores.targets[p], names)
            + '<div class="figs one">' + figs[0] + "</div>"
            + '<div class="figs">' + "".join(side) + "</div></section>")
    parts.append(
        '<footer>Steps to target count updates applied until the validation loss first reached the target (evaluated every '
        "K steps, untimed); time to target is the training time until then. A method's peak LR is the swept LR with the fewest "
        "steps to target. LR sensitivity (Wortsman et al. 2023): mean over the swept LRs of min(loss, initial loss) minus the best. "
        "Times are wall-clock on the machine that ran the trials (noisy when it is shared); steps are the primary measure. "
        "Generated by <code>lrkit report</code>.</footer>")
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
