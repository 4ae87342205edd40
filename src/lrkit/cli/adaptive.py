"""``lrkit refine``: a refined schedule from a previous run's gradient norms (Defazio et al. 2023)."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import click

FORMATS = ("spec", "csv", "png")


def register(group: click.Group) -> None:
    group.add_command(refine_command)


@click.command("refine")
@click.argument("run_file", metavar="RUN.csv", type=click.Path(dir_okay=True))
@click.option("--steps", "-n", type=int, required=True, metavar="N", help="Steps of the run to schedule.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default="sgd", show_default=True,
              help="sgd: weights ||g||_2^-2 (column grad_norm); adam: weights ||g||_1^-1 (column grad_norm_l1 "
                   "if present, else grad_norm).")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default="spec", show_default=True,
              help="spec: the piecewise spec; csv: step,lr rows; png: norms and schedule figure.")
@click.option("--lr", type=float, default=None, metavar="BASE", help="Peak LR: csv gives absolute LRs.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of stdout (png default: refined.png).")
@click.option("--width", type=float, default=0.1, show_default=True,
              help="Median-filter width as a fraction of the run (0: no smoothing).")
@click.option("--warmup", default="0", show_default=True, metavar="STEPS|FRACTION",
              help="Linear warmup in front; the run's norms of that stretch are left out (small norms at "
                   "initialisation would otherwise put the peak at step 0).")
@click.option("--tolerance", type=float, default=5e-3, show_default=True,
              help="Largest gap between the piecewise spec and the exact refined values.")
@click.option("--column", "columns", multiple=True, metavar="ROLE=NAME",
              help="Map a file column to a role (step, grad_norm, loss ...).")
def refine_command(run_file, steps, optimizer, fmt, lr, out, width, warmup, tolerance, columns):
    """Refine a schedule for a run of N steps from RUN.csv's logged gradient norms.

    The weights are the inverse squared l2 norms (SGD) or inverse l1 norms (Adam), smoothed with the
    paper's median filter; eta_t ~ w_t * sum_{p>t} w_p, normalised to peak 1. Constant norms give
    linear decay exactly. Log the norms in PyTorch with lrkit.adaptive.refine.GradNormLogger.
    """
    from ..adaptive.refine import refine_run
    from ..runs import parse_column_map
    from ..schedules import validate

    steps = validate.total_steps(steps, "--steps")
    if lr is not None and not (lr > 0 and math.isfinite(lr)):
        raise click.BadParameter(f"must be a positive finite number, got {lr}", param_hint="--lr")
    if lr is not None and fmt != "csv":
        click.echo(f"lrkit: note: --lr only scales --format csv; the {fmt} output is in multipliers of the peak LR",
                   err=True)
    warm = _duration(warmup)
    res = refine_run(run_file, steps, optimizer, columns=parse_column_map(columns) or None, width=width,
                     tolerance=tolerance, warmup=warm)
    for note in res.notes:
        click.echo(f"lrkit: note: {note}", err=True)
    if fmt == "png":
        path = Path(out or "refined.png")
        plot_refined(res, path, raw=_raw_norms(run_file, optimizer, columns))
        click.echo(f"wrote {path}")
        return
    stream = open(out, "w", newline="") if out else sys.stdout
    try:
        if fmt == "spec":
            stream.write(res.spec + "\n")
        else:
            values = res.schedule.sample(steps) * (1.0 if lr is None else lr)
            w = csv.writer(stream, lineterminator="\n")
            w.writerow(["step", "lr"])
            for t, x in enumerate(values):
                w.writerow([t, repr(float(x))])
    finally:
        if out:
            stream.close()
    if out:
        click.echo(f"wrote {out}", err=True)


def _duration(text: str) -> int | float:
    """``--warmup``: ``50`` is steps, ``0.05`` (or ``1.0``, ``5e-2``) a fraction of the run, as in a spec."""
    t = text.strip()
    try:
        return int(t)
    except ValueError:
        pass
    try:
        return float(t)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number of steps or a fraction", param_hint="--warmup") from None


def _raw_norms(run_file, optimizer, columns):
    try:
        from ..adaptive.refine import load_norms, norms_from_run
        from ..runs import parse_column_map

        return norms_from_run(load_norms(run_file, optimizer, parse_column_map(columns)), optimizer)
    except ValueError:
        return None


def plot_refined(res, path, raw=None, title: str | None = None):
    """Two panels: the gradient norms (raw and smoothed) and the refined schedule beside linear decay."""
    import numpy as np

    from ..report import style

    style.use_agg()
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110, layout="constrained")
    for ax in (a, b):
        style.apply(ax)
    n = res.steps
    x = np.arange(n)
    if raw is not None:
        s, g = raw
        a.plot((s - s[0]) / max(s[-1] - s[0], 1) * n, g, color="#bbbbbb", linewidth=0.8, label="logged")
    a.plot(x, res.smoothed, color=style.PALETTE[0], linewidth=2, label="median-filtered")
    a.set_xlabel("step (mapped onto the new run)")
    a.set_ylabel(f"gradient norm ({'l2' if res.optimizer == 'sgd' else 'l1'})")
    a.legend(frameon=False, fontsize=8.5)
    b.plot(x, 1 - x / n, color="#999999", linestyle="--", linewidth=1.5, label="linear()")
    b.plot(x, res.schedule.sample(n), color=style.PALETTE[1], linewidth=2, label="refined (piecewise spec)")
    b.set_xlabel("step")
    b.set_ylabel("LR multiplier (× peak LR)")
    b.set_ylim(0, 1.05)
    b.legend(frameon=False, fontsize=8.5)
    if title:
        fig.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path
