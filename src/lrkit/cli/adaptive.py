"""``lrkit refine``: a refined schedule from a previous run's gradient norms (Defazio et al. 2023)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import click

from .figure_options import figure_kwargs, figure_options, resolve_format
from .params import DURATION, STEPS

FORMATS = ("spec", "csv", "png", "svg", "pdf")


def register(group: click.Group) -> None:
    group.add_command(refine_command)


@click.command("refine")
@click.argument("run_file", metavar="RUN.csv", type=click.Path(dir_okay=True))
@click.option("--steps", "-n", type=STEPS, required=True, metavar="N", help="Steps of the run to schedule.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam"]), default="sgd", show_default=True,
              help="sgd: weights ||g||_2^-2 (column grad_norm); adam: weights ||g||_1^-1 (column grad_norm_l1 "
                   "if present, else grad_norm).")
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default=None,
              help="spec (the default): the piecewise spec; csv: step,lr rows; png/svg/pdf: norms and schedule "
                   "figure. Without it, --out's suffix decides.")
@click.option("--lr", type=float, default=None, metavar="BASE", help="Peak LR: csv gives absolute LRs.")
@click.option("--out", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of stdout (png/svg/pdf default: refined.<format>).")
@click.option("--width", type=float, default=0.1, show_default=True,
              help="Median-filter width as a fraction of the run (0: no smoothing).")
@click.option("--warmup", type=DURATION, default=0, show_default=True, metavar="STEPS|FRACTION",
              help="Linear warmup in front; the run's norms of that stretch are left out (small norms at "
                   "initialisation would otherwise put the peak at step 0).")
@click.option("--tolerance", type=float, default=5e-3, show_default=True,
              help="Largest gap between the piecewise spec and the exact refined values.")
@click.option("--column", "columns", multiple=True, metavar="ROLE=NAME",
              help="Map a file column to a role (step, grad_norm, loss ...).")
@figure_options
def refine_command(run_file, steps, optimizer, fmt, lr, out, width, warmup, tolerance, columns, dpi, size):
    """Refine a schedule for a run of N steps from RUN.csv's logged gradient norms.

    The weights are the inverse squared l2 norms (SGD) or inverse l1 norms (Adam), smoothed with the
    paper's median filter; eta_t ~ w_t * sum_{p>t} w_p, normalised to peak 1. Constant norms give
    linear decay exactly. Log the norms in PyTorch with lrkit.adaptive.refine.GradNormLogger.
    """
    from ..adaptive.refine import refine_run
    from ..runs import parse_column_map
    from ..schedules import validate
    from . import terminal

    fmt = resolve_format(fmt, out, default="spec")
    if fmt == "json":
        raise click.UsageError(f"--out {Path(out).name}: refine writes spec, csv, png, svg or pdf, not json")
    figure = figure_kwargs(dpi, size)
    if (dpi is not None or size is not None) and fmt not in ("png", "svg", "pdf"):
        raise click.UsageError(f"--dpi and --size apply to figures (png, svg, pdf), not to {fmt}")
    steps = validate.total_steps(steps, "--steps")
    if lr is not None and not (lr > 0 and math.isfinite(lr)):
        raise click.BadParameter(f"must be a positive finite number, got {lr}", param_hint="--lr")
    if lr is not None and fmt != "csv":
        click.echo(f"lrkit: note: --lr only scales --format csv; the {fmt} output is in multipliers of the peak LR",
                   err=True)
    res = refine_run(run_file, steps, optimizer, columns=parse_column_map(columns) or None, width=width,
                     tolerance=tolerance, warmup=warmup)
    for note in res.notes:
        click.echo(f"lrkit: note: {note}", err=True)
    if fmt in ("png", "svg", "pdf"):
        from ..adaptive.refine import logged_norms
        from ..report.plots import plot_refined

        path = Path(out or f"refined.{fmt}")
        try:
            raw = logged_norms(run_file, optimizer, parse_column_map(columns))
        except ValueError:  # the figure goes without the logged norms
            raw = None
        plot_refined(res.smoothed, res.schedule.sample(res.steps), path, raw=raw,
                     norm="l2" if res.optimizer == "sgd" else "l1", fmt=fmt, **figure)
        click.echo(f"wrote {path}")
        return
    with terminal.output(out) as stream:
        if fmt == "spec":
            stream.write(res.spec + "\n")
        else:
            values = res.schedule.sample(steps) * (1.0 if lr is None else lr)
            w = csv.writer(stream, lineterminator="\n")
            w.writerow(["step", "lr"])
            for t, x in enumerate(values):
                w.writerow([t, repr(float(x))])

