"""``lrkit fit``: fit a loss-curve law to pilot runs, with its diagnostics and domain of validity."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from ...laws.result import MAX_ERROR, MIN_R2
from ..figure_options import figure_options, plot_figure
from .common import CONVENTION, RUN_OPTIONS, apply, load_curves, parse_bases, warn

LAW_CHOICES = ("multipower", "multipower-it", "lra", "mpl-it", "fsl", "bound")


def _pairs(items, hint: str, example: str):
    """``NAME=VALUE`` items as ``(name, value)`` pairs, the value a number where it reads as one."""
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {item!r} (e.g. {example})", param_hint=hint)
        try:
            yield name.strip(), float(value)
        except ValueError:
            yield name.strip(), value.strip()


def _fixes(items) -> dict[str, float]:
    """``--fix NAME=VALUE`` items: parameters held at numbers."""
    fixed = dict(_pairs(items, "'--fix'", "gamma=0.6"))
    for name, value in fixed.items():
        if isinstance(value, str):
            raise click.BadParameter(f"expected NAME=VALUE with a number, got {name}={value!r}", param_hint="'--fix'")
    return fixed


def _law_options(items) -> dict[str, object]:
    """``--law-option NAME=VALUE`` items as the law's constructor options (a number where it reads as
    one, e.g. ``lam=0.99``; else the text, e.g. ``last=schedule``); the law checks the names and values."""
    return dict(_pairs(items, "'--law-option'", "last=schedule"))


def _flag(name: str, flags, at_bounds) -> str:
    """The flags column: why ``name`` is not determined (its reasons, without the ``name=value:`` the row
    shows already), else "at a bound" where it ended on one."""
    extra = flags.get(name) if isinstance(flags, dict) else None
    if extra:
        text = ", ".join(extra) if isinstance(extra, (list, tuple)) else str(extra)
        return text.split(": ", 1)[1] if text.startswith(f"{name}=") and ": " in text else text
    return "at a bound" if name in at_bounds else ""


def _tables(console, result) -> None:
    """The parameters (interval, fixed / at a bound / the fit's flags) and the fit quality per pilot."""
    from rich.markup import escape
    from rich.table import Table

    flags = getattr(result, "flags", None) or {}
    # the title on its own line, as wide as the terminal (a table's title wraps at the table's width)
    console.print(escape(f"{result.law_obj.title}: parameters"), style="italic")
    t = Table()
    t.add_column("parameter")
    t.add_column("value", justify="right")
    t.add_column(f"{int(100 * result.band_level)}% bootstrap interval", justify="right")
    t.add_column("flags")
    for k, v in result.params.items():
        ci = result.interval(k)  # the one rule: fixed, not determined, no bootstrap, or the measured interval
        t.add_row(k, f"{v:.5g}", ci if isinstance(ci, str) else f"{ci[0]:.4g} .. {ci[1]:.4g}",
                  _flag(k, flags, result.at_bounds))
    console.print(t)
    from ..terminal import Column, fitted_table

    rows = [[escape(name), str(m["points"]), f"{100 * m['mean_rel_error']:.3f}%", f"{100 * m['max_rel_error']:.3f}%",
             f"{m['r2']:.5f}"] for name, m in result.metrics.items()]
    columns = [Column("run", key=True), *(Column(c, "right") for c in ("points", "mean |err|", "max |err|", "R²"))]
    console.print(fitted_table(console, f"fit quality ({result.target})", columns, rows))  # a run's name wraps, whole


@click.command("fit")
@click.argument("runs", nargs=-1, required=True, type=click.Path(), metavar="RUN...")
@click.option("--law", type=click.Choice(LAW_CHOICES), default="multipower", show_default=True,
              help="multipower: Luo et al. 2025; multipower-it: the same with gamma = 0 (drop in intrinsic time, with "
                   "the prior); lra: Tissue et al. 2024; mpl-it: multi-power, drop in intrinsic time, no prior; fsl: the "
                   "Functional Scaling Law ansatz, Li et al. 2025 (mpl-it with each drop weighted by the loss when made); "
                   "bound: convex bound, Schaipp et al. 2025 (docs/methods.md).")
@apply(RUN_OPTIONS)
@click.option("--target", type=click.Choice(["loss", "val_loss"]), default="loss", show_default=True,
              help="The logged column to fit: the training loss or the validation loss.")
@CONVENTION
@click.option("--out", "-o", type=click.Path(dir_okay=False), required=True, metavar="FIT.json", help="Write the fit here.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Observed vs fitted curves (.png, .svg or .pdf).")
@figure_options
@click.option("--boot", type=click.IntRange(0, 10000), default=200, show_default=True, help="Bootstrap resamples for the band.")
@click.option("--fix", "fixes", multiple=True, metavar="NAME=VALUE",
              help="Hold a law parameter at a value instead of fitting it (e.g. --fix gamma=0.6); repeatable.")
@click.option("--law-option", "law_options", multiple=True, metavar="NAME=VALUE",
              help="An option of the law, instead of its default: bound last=schedule (the reference code's last "
                   "weight; default last=previous), multipower warmup=ld|skip (default: chosen by cross-validation), "
                   "lra lam=0.999; repeatable.")
@click.option("--force", is_flag=True,
              help=f"Write the fit even if it does not describe its pilots (R² < {MIN_R2:g} or an error above "
                   f"{100 * MAX_ERROR:g}% on a pilot).")
def fit_command(runs, law, schedules, base_lr, totals, columns, clean, bases, target, convention, out, plot, dpi, size,
                boot, fixes, law_options, force):
    """Fit a loss-curve law to one or more training runs (CSV, JSON lines, TensorBoard).

    The fit file records the law's domain of validity (the pilots' peak LRs, length, warmup and
    convention): predict and plan warn outside it and refuse far outside it.

    \b
    Example:
      lrkit fit cosine.csv constant.csv --schedule 'cosine(warmup=2160, floor=0.1)' \\
          --schedule 'constant(warmup=2160)' --lr 3e-4 --steps 24000 --out fit.json
      lrkit fit constant.csv cooldown.csv --base cooldown.csv=constant.csv --target val_loss \\
          --schedule 'constant(warmup=100)' --schedule 'wsd(decay=0.2, warmup=100)' --lr 1e-3 --out fit.json
    """
    from ...laws import LawError, UndeterminedWarning, fit
    from ...laws.identify import note as note_of_flags
    from ...laws.profile import describe
    from ..terminal import console as make_console

    console = make_console()
    for path, hint in ((out, "--out"), (plot, "--plot")):  # before the fit, not after it
        folder = Path(path).parent if path else None
        if folder is not None and not folder.is_dir():
            raise click.BadParameter(f"the folder {str(folder)!r} does not exist", param_hint=hint)
    figure = plot_figure(plot, dpi, size)
    fixed = _fixes(fixes)
    options = _law_options(law_options)
    curves = load_curves(runs, schedules, base_lr, totals, columns, clean, console, target=target,
                         convention=convention, bases=parse_bases(bases, runs))
    with warnings.catch_warnings():  # the flags are printed below, as a line of the output
        warnings.simplefilter("ignore", UndeterminedWarning)
        result = fit(curves, law, n_boot=boot, fixed=fixed or None, target=target, law_options=options or None,
                     convention=(convention or "lrkit") if schedules else None)
    problems = result.problems()
    if problems and not force:
        raise LawError(f"the {law} law does not describe its pilots ({'; '.join(problems)}); check the runs and "
                       "their schedules, try --law, or give --force to keep the fit anyway")
    result.to_json(out)
    for note in result.notes:
        console.print(f"[yellow]{note}[/]")
    _tables(console, result)
    if result.flags:
        warn("undetermined", note_of_flags(result.flags))
    if result.profile:
        console.print(f"what the pilots allow: {describe(result.profile)}; lrkit plan shows the cooldown each plans; "
                      "to rank cooldowns, fit these runs with --law bound too (docs/predict.md)")
    for p in problems:
        warn("fit", f"{p} (kept: --force)")
    if result.at_bounds:
        warn("bounds", f"{', '.join(result.at_bounds)} ended at a bound of {'its' if len(result.at_bounds) == 1 else 'their'} "
                       "range: the pilots push the law beyond it; treat predictions with care")
    free = len(result.params) - len(result.fixed)
    if free - result.rank > len(result.flags):  # a degeneracy the flags do not name already
        warn("rank", f"the fit's Jacobian (the prior's rows included) has rank {result.rank} for {free} free "
                     f"parameters: these runs determine at most {result.rank} of them; add a run with a different "
                     "schedule (e.g. one with a decay) for reliable predictions")
    console.print(f"fitted in {result.seconds:.2f} s; wrote {out}")
    if plot:
        from ...report.law_figures import plot_curves

        plot_curves(result, curves, plot, fitted=[c.name for c in curves], **figure)
        console.print(f"wrote {plot}")
