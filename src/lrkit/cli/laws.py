"""``lrkit fit``, ``lrkit predict``, ``lrkit plan``: predict a loss curve before training.

Thin: parse arguments, call :mod:`lrkit.laws` and :mod:`lrkit.runs`, print with rich.  Bad input
raises ``click.UsageError`` or a ``ValueError`` (RunError, LawError, SpecError) that the main
wrapper prints as one line with exit code 2.
"""

from __future__ import annotations

from typing import Sequence

import click
import numpy as np

from .figure_options import figure_kwargs, figure_options
from .show import MAX_STEPS

LAW_CHOICES = ("multipower", "lra")


def _steps_range(low: int):
    """A click callback: every value of the option is ``low..MAX_STEPS`` steps (the LR of every step is
    an array element, as in ``show``)."""
    def check(ctx, param, value):
        for v in value if isinstance(value, tuple) else (value,):
            if v is not None and v < low:
                raise click.BadParameter(f"must be at least {low}, got {v}")
            if v is not None and v > MAX_STEPS:
                raise click.BadParameter(f"{v:,} steps is more than lrkit {ctx.command.name} evaluates "
                                         f"({MAX_STEPS:,}, every step's LR in memory)")
        return value
    return check


def _figure(plot: str | None, dpi: int | None, size) -> dict:
    """``--dpi`` and ``--size`` for the ``--plot`` figure, its suffix checked before any work is done."""
    from ..report.style import figure_format

    if plot is None and (dpi is not None or size is not None):
        raise click.UsageError("--dpi and --size apply to the --plot figure; give --plot FILE.png")
    if plot is not None:
        figure_format(plot)
    return figure_kwargs(dpi, size)


def _check_lr(schedules: Sequence[str | None], base_lr: float | None) -> None:
    """``--schedule`` needs ``--lr``, a positive finite number."""
    if any(s is not None for s in schedules) and base_lr is None:
        raise click.UsageError("--schedule needs --lr BASE (the base LR the schedule multiplies)")
    if base_lr is not None and not (base_lr > 0 and np.isfinite(base_lr)):
        raise click.BadParameter(f"must be a positive finite number, got {base_lr}", param_hint="--lr")


def _per_run(values: Sequence, name: str, n: int) -> list:
    """An option given once (for every run), once per run, or not at all (``None`` for each run)."""
    if len(values) not in (0, 1, n):
        raise click.UsageError(f"give {name} once (for all runs) or once per run ({n} times)")
    return [values[0] if len(values) == 1 else (values[i] if values else None) for i in range(n)]


def _check_total(path: str, run, total: int | None, option: str) -> None:
    """A total must cover every logged step: a shorter one would drop the later losses."""
    if total is not None and total <= run.last_step:
        raise click.BadParameter(f"{total:,} steps end before {path} does (logged up to step {run.last_step:,}); give "
                                 f"at least {run.last_step + 1:,}, or leave it out for the run's own length",
                                 param_hint=option)


def _load_curves(paths: Sequence[str], schedules: Sequence[str], base_lr: float | None,
                 totals: Sequence[int], columns: Sequence[str], clean: bool, console=None,
                 total_option: str = "--total"):
    """Runs from files as law curves; LR from each run's own column or from --schedule/--lr."""
    from rich.markup import escape

    from ..laws import Curve
    from ..runs import load_run, parse_column_map

    specs, ends = _per_run(schedules, "--schedule", len(paths)), _per_run(totals, total_option, len(paths))
    _check_lr(specs, base_lr)
    cmap = parse_column_map(columns)
    curves = []
    for path, spec, total in zip(paths, specs, ends):
        run = load_run(path, columns=cmap, clean=clean)
        if console is not None:
            for note in run.notes:
                console.print(f"[yellow]{escape(f'{path}: {note}')}[/]")
        _check_total(path, run, total, total_option)
        curves.append(Curve.from_run(run, total=total, schedule=spec, base_lr=base_lr))
    return curves


_run_options = [
    click.option("--schedule", "schedules", multiple=True, metavar="SPEC",
                 help="The runs' LR schedule (once for all runs or once per run); default: the runs' lr column."),
    click.option("--lr", "base_lr", type=float, default=None, metavar="BASE", help="Base (peak) LR for --schedule."),
    click.option("--total", "totals", type=int, multiple=True, metavar="N", callback=_steps_range(1),
                 help=f"Total steps of each run, at most {MAX_STEPS:,} (default: last logged step + 1)."),
    click.option("--column", "columns", multiple=True, metavar="ROLE=NAME",
                 help="Map a file column to a role: step, loss, lr, val_loss, grad_norm, tokens."),
    click.option("--clean", is_flag=True, help="Repair bad rows (reported) instead of failing."),
]


def _apply(options):
    def deco(f):
        for o in reversed(options):
            f = o(f)
        return f

    return deco


@click.command("fit")
@click.argument("runs", nargs=-1, required=True, type=click.Path(), metavar="RUN...")
@click.option("--law", type=click.Choice(LAW_CHOICES), default="multipower", show_default=True,
              help="multipower: Luo et al. 2025; lra: Tissue et al. 2024.")
@_apply(_run_options)
@click.option("--out", "-o", type=click.Path(dir_okay=False), required=True, metavar="FIT.json", help="Write the fit here.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png", help="Observed vs fitted curves.")
@click.option("--boot", type=click.IntRange(0, 10000), default=200, show_default=True, help="Bootstrap resamples for the band.")
@click.option("--fix", "fixes", multiple=True, metavar="NAME=VALUE",
              help="Hold a law parameter at a value instead of fitting it (e.g. --fix gamma=0.6); repeatable.")
@figure_options
def fit_command(runs, law, schedules, base_lr, totals, columns, clean, out, plot, boot, fixes, dpi, size):
    """Fit a loss-curve law to one or more training runs (CSV, JSON lines, TensorBoard).

    \b
    Example:
      lrkit fit cosine.csv constant.csv --schedule 'cosine(warmup=2160, floor=0.1)' \\
          --schedule 'constant(warmup=2160)' --lr 3e-4 --total 24000 --out fit.json
    """
    from rich.table import Table

    from ..laws import fit
    from .terminal import console as make_console

    console = make_console()
    figure = _figure(plot, dpi, size)
    fixed = {}
    for item in fixes:
        name, sep, value = item.partition("=")
        try:
            fixed[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(f"expected NAME=VALUE with a number, got {item!r}", param_hint="'--fix'")
    curves = _load_curves(runs, schedules, base_lr, totals, columns, clean, console)
    result = fit(curves, law, n_boot=boot, fixed=fixed or None)
    result.to_json(out)
    for note in result.notes:
        console.print(f"[yellow]{note}[/]")
    t = Table(title=f"{result.law_obj.title}: parameters", title_justify="left")
    t.add_column("parameter")
    t.add_column("value", justify="right")
    t.add_column(f"{int(100 * result.band_level)}% bootstrap interval", justify="right")
    samples = np.asarray(result.param_samples) if result.param_samples else None
    for i, (k, v) in enumerate(result.params.items()):
        ci = "" if samples is None else f"{np.quantile(samples[:, i], 0.05):.4g} .. {np.quantile(samples[:, i], 0.95):.4g}"
        ci = "fixed" if k in result.fixed else ci
        t.add_row(k, f"{v:.5g}", ci)
    console.print(t)
    q = Table(title="fit quality", title_justify="left")
    for col in ("run", "points", "mean |err|", "max |err|", "R²"):
        q.add_column(col, justify="right" if col != "run" else "left")
    for name, m in result.metrics.items():
        q.add_row(name, str(m["points"]), f"{100 * m['mean_rel_error']:.3f}%", f"{100 * m['max_rel_error']:.3f}%", f"{m['r2']:.5f}")
    console.print(q)
    if result.rank < len(result.params) - len(result.fixed):
        console.print(f"[yellow]warning: only {result.rank} of {len(result.params)} parameters are determined by these runs; "
                      "add a run with a different schedule (e.g. one with a decay) for reliable predictions[/]")
    console.print(f"fitted in {result.seconds:.2f} s; wrote {out}")
    if plot:
        from ..report.law_figures import plot_curves

        plot_curves(result, curves, plot, fitted=[c.name for c in curves], **figure)
        console.print(f"wrote {plot}")


@click.command("predict")
@click.argument("fit_file", type=click.Path(), metavar="FIT.json")
@click.option("--schedule", default=None, metavar="SPEC", help="Schedule to predict for (with --lr and --steps).")
@click.option("--lr", "base_lr", type=float, default=None, metavar="BASE", help="Base (peak) LR.")
@click.option("--steps", type=int, default=None, metavar="N", callback=_steps_range(2),
              help=f"Total steps of the schedule (or of --run), at most {MAX_STEPS:,}.")
@click.option("--run", "run_path", type=click.Path(), default=None, metavar="RUN", help="Predict a logged run at its logged steps.")
@click.option("--every", type=click.IntRange(1), default=None, metavar="K", help="Report every K steps from the end of warmup (default: about 20 rows in a table, every step in csv).")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
@click.option("--band", is_flag=True, help="csv: add lower,upper columns.")
@click.option("--column", "columns", multiple=True, metavar="ROLE=NAME", help="Column mapping for --run.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png", help="Figure of the prediction (and the run).")
@figure_options
def predict_command(fit_file, schedule, base_lr, steps, run_path, every, fmt, band, columns, plot, dpi, size):
    """Predict the loss curve of a schedule (or of a logged run) from a fit.

    \b
    Examples:
      lrkit predict fit.json --schedule 'wsd(decay=0.2, warmup=2160)' --lr 3e-4 --steps 24000
      lrkit predict fit.json --run wsd.csv --format csv
    """
    from ..laws import Curve, FitResult, predict
    from ..laws.base import schedule_lr, usable_points

    figure = _figure(plot, dpi, size)
    result = FitResult.from_json(fit_file)
    observed = None
    if run_path is not None:
        curve = _load_curves([run_path], [schedule] if schedule is not None else [], base_lr,
                             [steps] if steps is not None else [], columns, False, total_option="--steps")[0]
        (curve,), notes = usable_points([curve])
        for note in notes:
            click.echo(note, err=True)
        lr, at, observed = curve.lr, curve.steps, curve.loss
        if every:
            sel = slice(None, None, every)
            at, observed = at[sel], observed[sel]
        name = curve.name
    else:
        if schedule is None or steps is None:
            raise click.UsageError("give --schedule SPEC --lr BASE --steps N, or --run RUN")
        _check_lr([schedule], base_lr)
        lr = schedule_lr(schedule, steps, base_lr)
        k = every or (1 if fmt == "csv" else max(1, steps // 20))
        first = int(np.argmax(lr >= lr.max() * (1 - 1e-9)))  # the laws describe training after warmup
        at = np.arange(first, steps, k)
        if at[-1] != steps - 1:
            at = np.r_[at, steps - 1]
        name = schedule
    p = predict(result, lr, at)
    if fmt == "csv":
        lines = ["step,loss,lower,upper" if band else "step,loss"]
        for i, s in enumerate(p.steps):
            lines.append(f"{s},{p.loss[i]:.6g},{p.lower[i]:.6g},{p.upper[i]:.6g}" if band else f"{s},{p.loss[i]:.6g}")
        click.echo("\n".join(lines))
    else:
        from rich.table import Table

        from .terminal import console as make_console

        console = make_console()
        t = Table(title=f"predicted loss: {name} ({result.law} law fitted on {', '.join(result.runs)})", title_justify="left")
        t.add_column("step", justify="right")
        t.add_column("LR", justify="right")
        t.add_column("loss", justify="right")
        t.add_column(f"{int(100 * p.level)}% band", justify="right")
        if observed is not None:
            t.add_column("observed", justify="right")
            t.add_column("error", justify="right")
        rows = range(p.steps.size) if observed is None or p.steps.size <= 25 else np.unique(np.linspace(0, p.steps.size - 1, 20).astype(int))
        for i in rows:
            cells = [str(p.steps[i]), f"{lr[p.steps[i]]:.3g}", f"{p.loss[i]:.4f}", f"{p.lower[i]:.4f} .. {p.upper[i]:.4f}"]
            if observed is not None:
                cells += [f"{observed[i]:.4f}", f"{100 * (p.loss[i] - observed[i]) / observed[i]:+.2f}%"]
            t.add_row(*cells)
        console.print(t)
        if observed is not None:
            rel = np.abs(p.loss - observed) / observed
            console.print(f"mean |error| {100 * rel.mean():.3f}%, max {100 * rel.max():.3f}% over {rel.size} logged steps")
        else:
            console.print(f"predicted final loss at step {p.steps[-1]}: [bold]{p.final:.4f}[/] ({p.lower[-1]:.4f} .. {p.upper[-1]:.4f})")
    if plot:
        from ..report.law_figures import plot_curves

        c = Curve(str(name), lr, p.steps, observed if observed is not None else p.loss)
        plot_curves(result, [c], plot, **figure)


@click.command("plan")
@click.argument("fit_file", type=click.Path(), metavar="FIT.json")
@click.option("--steps", type=int, required=True, metavar="N", help="Training budget in steps.")
@click.option("--lr", "peak_lr", type=float, required=True, metavar="BASE", help="Peak LR.")
@click.option("--family", type=click.Choice(["free", "wsd", "cosine", "linear", "rex", "uba"]), default="free",
              show_default=True,
              help="free: best non-increasing piecewise-linear schedule; or the best of one family (wsd: decay "
                   "fraction, form and floor; cosine: floor; linear: end value; rex: beta; uba: phi).")
@click.option("--warmup", type=int, default=None, metavar="W", help="Warmup steps (default: the fitted runs' warmup).")
@click.option("--knots", type=click.IntRange(3, 200), default=32, show_default=True, help="Knots of the free-form schedule.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png", help="Planned vs standard schedules.")
@figure_options
def plan_command(fit_file, steps, peak_lr, family, warmup, knots, plot, dpi, size):
    """Plan the schedule with the lowest predicted final loss for a budget.

    \b
    Example:
      lrkit plan fit.json --steps 24000 --lr 3e-4 --family wsd
    """
    from rich.table import Table

    from ..laws import FitResult, plan
    from .terminal import console as make_console

    if steps < 10:
        raise click.BadParameter(f"must be at least 10, got {steps}", param_hint="--steps")
    if not peak_lr > 0:
        raise click.BadParameter(f"must be positive, got {peak_lr}", param_hint="--lr")
    figure = _figure(plot, dpi, size)
    result = FitResult.from_json(fit_file)
    p = plan(result, steps, peak_lr, family=family, warmup=warmup, knots=knots)
    console = make_console()
    console.print(f"[bold]recommended[/] ({family}): {p.best.spec}")
    t = Table(title=f"predicted final loss after {steps} steps, peak LR {peak_lr:g} ({result.law} law)", title_justify="left")
    t.add_column("schedule")
    t.add_column("final loss", justify="right")
    t.add_column("vs recommended", justify="right")
    t.add_row("[bold]recommended[/]", f"[bold]{p.best.final_loss:.4f}[/]", "")
    for c in p.standard:
        t.add_row(c.spec, f"{c.final_loss:.4f}", f"{c.final_loss - p.best.final_loss:+.4f}")
    console.print(t)
    if plot:
        from ..report.law_figures import plot_plan

        plot_plan(result, p, plot, **figure)
        console.print(f"wrote {plot}")


def register(group: click.Group) -> None:
    """Add ``fit``, ``predict`` and ``plan`` to a click group."""
    group.add_command(fit_command)
    group.add_command(predict_command)
    group.add_command(plan_command)
