"""``lrkit predict``: the loss curve of a schedule, or of a logged run, from a fit."""

from __future__ import annotations

from dataclasses import dataclass, field

import click
import numpy as np

from ..figure_options import figure_options, plot_figure
from ..params import STEPS
from ..show import MAX_STEPS
from .common import (CONVENTION, EXTRAPOLATE, check_lr, check_total, dump_json, load_runs, quiet_extrapolation, warn_phases,
                     steps_range, warn, warning_list)


@dataclass
class _Target:
    """What is predicted: the name, the LR of every step, the steps reported, the observed loss there."""

    name: str
    lr: np.ndarray
    at: np.ndarray
    observed: np.ndarray | None = None
    total: int = 0
    #: the run's column ``observed`` holds (``loss``, ``val_loss``); None for a schedule
    column: str | None = None
    notes: dict[str, str] = field(default_factory=dict)
    #: the indices of ``at`` reported (--every on a run; None: all); the error summary and --plot use all
    rows: np.ndarray | None = None
    #: the steps a --plot of a schedule draws: its whole curve, whatever --every says
    plot_at: np.ndarray | None = None


#: a --plot of a schedule draws its curve at about this many steps, whatever --every says
PLOT_POINTS = 2000


def _every(at: np.ndarray, every: int) -> np.ndarray:
    """Indices of the logged steps ``at`` that --every K reports: the first logged step at or after each
    multiple of K steps from the first, and the last one (K counts steps, as for a --schedule)."""
    grid = np.arange(int(at[0]), int(at[-1]) + 1, every)
    idx = np.unique(np.searchsorted(at, grid))
    idx = idx[idx < at.size]
    return idx if idx[-1] == at.size - 1 else np.r_[idx, at.size - 1]


def _from_run(result, run_path, schedule, base_lr, steps, columns, target, convention, every, base=None,
              clean=False) -> _Target:
    from ...laws import Curve
    from ...laws.base import usable_points
    from ...laws.predict import start_of
    from .lr_check import compare_lr

    check_lr([schedule], base_lr)
    column = target or result.target
    (run,) = load_runs([run_path], columns, clean, None, {0: base} if base else None, column)
    for note in run.notes:
        click.echo(f"lrkit: note: {run_path}: {note}", err=True)
    check_total(run_path, run, steps, "--steps")
    curve = Curve.from_run(run, total=steps, schedule=schedule, base_lr=base_lr, loss=column, convention=convention)
    (curve,), notes = usable_points([curve])
    for note in notes:
        click.echo(f"lrkit: note: {run_path}: {note}", err=True)
    t = _Target(curve.name, curve.lr, curve.steps, curve.loss, int(curve.lr.size), column=column)
    if column != result.target:
        t.notes["target"] = (f"the fit was made on the pilots' {result.target}; --target {column} compares its "
                             f"prediction with the run's {column}, another quantity")
    if steps is None:
        click.echo(f"lrkit: note: total {t.total:,} steps (the run's last logged step + 1; give --steps N if the run "
                   "was planned longer: a decay's start depends on it)", err=True)
    if schedule is not None:
        t.notes.update(compare_lr(run, schedule, base_lr, convention, curve.lr, steps is not None))
        warn_phases(schedule, curve.lr.size, convention)
    start = start_of(result, t.lr)
    early = t.at < start
    if early.any():
        click.echo(f"lrkit: note: left out {int(early.sum())} logged step{'s' * (int(early.sum()) != 1)} before step "
                   f"{start:,}, the end of the warmup (the pilots' if later), where the law does not apply", err=True)
        t.at, t.observed = t.at[~early], t.observed[~early]
    if not t.at.size:
        raise click.UsageError(f"{run_path}: no loss logged from step {start:,} on (the end of the warmup)")
    if every:
        t.rows = _every(t.at, every)
    return t


def _from_schedule(result, schedule, base_lr, steps, every, fmt, convention) -> _Target:
    from ...laws.base import schedule_lr
    from ...laws.predict import start_of

    if schedule is None or steps is None:
        raise click.UsageError("give --schedule SPEC --lr BASE --steps N, or --run RUN")
    check_lr([schedule], base_lr)
    lr = schedule_lr(schedule, steps, base_lr, convention)
    warn_phases(schedule, steps, convention)
    k = every or (1 if fmt == "csv" else max(1, steps // 20))
    at = np.arange(min(start_of(result, lr), steps - 1), steps, k)  # the laws describe training after warmup
    if at.size == 0 or at[-1] != steps - 1:
        at = np.r_[at, steps - 1]
    dense = np.unique(np.linspace(at[0], steps - 1, PLOT_POINTS).astype(int))
    return _Target(schedule, lr, at, None, steps, plot_at=dense)


#: what a fit without a bootstrap or a model-error calibration (``fit --boot 0``) predicts instead of a band
NO_BAND = "no band: the fit was made with --boot 0; refit with --boot N for one"


def _table(result, t: _Target, p, observed, full) -> None:
    """The rows reported (``p``, ``observed``), then the error over every logged step (``full``) or the final loss."""
    from rich.table import Table

    from ...laws.predict import has_band
    from ..terminal import console as make_console

    console = make_console()
    from rich.markup import escape

    # the title on its own line, as wide as the terminal (a table's title wraps at the table's width)
    against = f", against the run's {t.column}" if t.column not in (None, result.target) else ""
    console.print(escape(f"predicted {result.target}: {t.name} ({result.law} law fitted on {', '.join(result.runs)})"
                         f"{against}"), style="italic")
    tb = Table()
    for col in ("step", "LR", "loss", f"{int(100 * p.level)}% band") + (("observed", "error") if observed is not None else ()):
        tb.add_column(col, justify="right")
    rows = range(p.steps.size) if observed is None or p.steps.size <= 25 else \
        np.unique(np.linspace(0, p.steps.size - 1, 20).astype(int))
    banded = has_band(result)
    for i in rows:
        cells = [str(p.steps[i]), f"{t.lr[p.steps[i]]:.3g}", f"{p.loss[i]:.4f}",
                 f"{p.lower[i]:.4f} .. {p.upper[i]:.4f}" if banded else "none"]
        if observed is not None:
            cells += [f"{observed[i]:.4f}", f"{100 * (p.loss[i] - observed[i]) / observed[i]:+.2f}%"]
        tb.add_row(*cells)
    console.print(tb)
    if t.observed is not None:
        rel = np.abs(full.loss - t.observed) / t.observed
        console.print(f"mean |error| {100 * rel.mean():.3f}%, max {100 * rel.max():.3f}% over {rel.size} logged steps")
    else:
        band = f"{p.lower[-1]:.4f} .. {p.upper[-1]:.4f}" if banded else NO_BAND
        console.print(f"predicted final loss at step {p.steps[-1]}: [bold]{p.final:.4f}[/] ({band})")
    if banded:
        console.print(escape(band_line(result)), style="dim")
    if result.flags:  # a line of the output, not a warning: fit warned, and every prediction from the file has it
        console.print(escape(f"not determined by the pilots (the fit file's flags): {', '.join(result.flags)}; what "
                             "they decide, a cooldown's drop above all, rests on the prior or a bound"), style="dim")


def band_line(result) -> str:
    """What sets the band's width: the law's own error on the pilots' futures, and the parameters'."""
    from ...laws.predict import model_band

    level = f"{int(100 * result.band_level)}%"
    near, far = model_band(result), model_band(result, 2.0)
    if near is None:
        return f"{level} band: the parameters' bootstrap uncertainty only (this fit file has no calibration of the law's error)"
    horizon = int(result.model_error["horizon"]) + 1
    params = ("with the parameters' uncertainty" if len(result.param_samples) > 1 else
              "without the parameters' uncertainty (this fit file has no bootstrap samples)")
    return (f"{level} band: ±{100 * near:.2g}% of the loss within the pilots' {horizon:,} steps, ±{100 * far:.2g}% at 2x "
            f"(the law's own error on the pilots' futures, by forward chaining), {params}")


def _plot(result, t: _Target, p, path, **figure) -> None:
    """The figure: every logged step of a run, or the schedule's whole curve (not only the rows --every
    reports), with ``p``'s warnings."""
    from dataclasses import replace

    from ...laws.predict import evaluate
    from ...report.law_figures import plot_prediction

    dense = p if t.plot_at is None or np.array_equal(t.plot_at, p.steps) else \
        replace(evaluate(result, t.lr, t.plot_at, pilots_start=True), warnings=p.warnings)
    observed = None if t.observed is None else (t.at, t.observed)
    plot_prediction(dense, path, observed=observed, label=str(t.name), **figure)


def _reported(t: _Target, p):
    """The prediction and observed loss at the rows reported (--every on a run), from those at every logged step."""
    from dataclasses import replace

    if t.rows is None:
        return p, t.observed
    k = t.rows
    return replace(p, steps=p.steps[k], loss=p.loss[k], lower=p.lower[k], upper=p.upper[k]), t.observed[k]


@click.command("predict")
@click.argument("fit_file", type=click.Path(), metavar="FIT.json")
@click.option("--schedule", default=None, metavar="SPEC", help="Schedule to predict for (with --lr and --steps).")
@click.option("--lr", "base_lr", type=float, default=None, metavar="BASE", help="Base (peak) LR.")
@click.option("--steps", "-n", type=STEPS, default=None, metavar="N", callback=steps_range(2),
              help=f"Total steps of the schedule (or of --run), at most {MAX_STEPS:,}.")
@click.option("--run", "run_path", type=click.Path(), default=None, metavar="RUN",
              help="Predict a logged run at its logged steps (with --schedule: checked against its lr column).")
@click.option("--every", type=click.IntRange(1), default=None, metavar="K",
              help="Report every K steps from the end of warmup (--run: the first logged step at or after each; "
                   "default: about 20 rows in a table, every step in csv).")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--band", is_flag=True, help="csv: add lower,upper columns.")
@click.option("--column", "columns", multiple=True, metavar="ROLE=NAME", help="Column mapping for --run.")
@click.option("--clean", is_flag=True, help="--run: repair bad rows (each repair reported) instead of failing.")
@click.option("--base", "base", type=click.Path(), default=None, metavar="BASE",
              help="--run is a branch of BASE (a cooldown resumed from its checkpoint, logged from the branch point "
                   "on): join them.")
@click.option("--target", type=click.Choice(["loss", "val_loss"]), default=None,
              help="--run: the column to compare with (default: the one the fit was made on).")
@CONVENTION
@EXTRAPOLATE
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Figure (.png, .svg or .pdf): the pilots, the prediction with its band, and the run's observed "
                   "loss (--run).")
@figure_options
def predict_command(fit_file, schedule, base_lr, steps, run_path, every, fmt, band, columns, clean, base, target,
                    convention, extrapolate, plot, dpi, size):
    """Predict the loss curve of a schedule (or of a logged run) from a fit.

    Values start at the end of the warmup, where the law applies.  Outside the fit's domain of
    validity each kind of extrapolation is one warning line on stderr (and in --format json); far
    outside it the prediction is refused unless --extrapolate.

    \b
    Examples:
      lrkit predict fit.json --schedule 'wsd(decay=0.2, warmup=2160)' --lr 3e-4 --steps 24000
      lrkit predict fit.json --run wsd.csv --format csv
      lrkit predict fit.json --run cooldown.csv --base constant.csv
    """
    from ...laws import FitResult, predict
    from ...laws.predict import has_band

    figure = plot_figure(plot, dpi, size)
    result = FitResult.from_json(fit_file)
    if band and fmt == "csv" and not has_band(result):
        raise click.UsageError(f"--band: {fit_file} has no band to write ({NO_BAND.split(': ', 1)[1]})")
    convention = convention or (result.validity.convention if result.validity else None)
    if base is not None and run_path is None:
        raise click.UsageError("--base BASE joins the --run RUN to its base: give --run")
    if clean and run_path is None:
        raise click.UsageError("--clean repairs the --run RUN's bad rows: give --run")
    if run_path is not None:
        t = _from_run(result, run_path, schedule, base_lr, steps, columns, target, convention, every, base, clean)
    else:
        t = _from_schedule(result, schedule, base_lr, steps, every, fmt, convention)
    with quiet_extrapolation():
        p = predict(result, t.lr, t.at, extrapolate=extrapolate, convention=convention if schedule else None)
    found = {**p.warnings, **t.notes}
    for kind, message in found.items():
        warn(kind, message)
    full, (p, observed) = p, _reported(t, p)
    if fmt == "csv":
        lines = ["step,loss,lower,upper" if band else "step,loss"]
        for i, s in enumerate(p.steps):
            lines.append(f"{s},{p.loss[i]:.6g},{p.lower[i]:.6g},{p.upper[i]:.6g}" if band else f"{s},{p.loss[i]:.6g}")
        click.echo("\n".join(lines))
    elif fmt == "json":
        doc = {"fit": str(fit_file), "law": result.law, "target": result.target, "name": t.name, "total": t.total,
               "convention": convention, **p.to_dict(), "band": has_band(result),
               "undetermined": list(result.flags), "warnings": warning_list(found)}
        if observed is not None:
            doc["observed"], doc["observed_column"] = observed.tolist(), t.column
        click.echo(dump_json(doc))
    else:
        _table(result, t, p, observed, full)
    if plot:
        _plot(result, t, full, plot, **figure)
        click.echo(f"wrote {plot}", err=True)
