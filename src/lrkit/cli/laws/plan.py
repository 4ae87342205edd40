"""``lrkit plan``: the schedule with the lowest predicted final loss for a budget, beside the standard ones."""

from __future__ import annotations

import click

from ..figure_options import figure_options, plot_figure
from ..params import DURATION, STEPS
from .common import CONVENTION, EXTRAPOLATE, dump_json, quiet_extrapolation, warn, warning_list


def _table(stream, result, p) -> None:
    from rich.table import Table

    from ...laws.plan import FLOOR_RANGE, signed
    from ...laws.predict import has_band
    from ..terminal import console as make_console

    console = make_console(file=stream)
    console.print(f"[bold]{p.label}[/] ({p.family}): {p.best.spec}" if p.beats_standard else
                  f"[bold]{p.label}[/]: {p.best.spec}")
    if not p.beats_standard:
        console.print(f"[bold]recommended[/]: {p.recommended.spec} (a standard schedule is predicted better than the "
                      f"best {p.family})")
    # the title on its own line, as wide as the terminal (a table's title wraps at the table's width)
    console.print(f"predicted final loss after {p.steps:,} steps, peak LR {p.peak_lr:g} ({result.law} law)", style="italic",
                  markup=False)
    t = Table()
    t.add_column("schedule")
    t.add_column("final loss", justify="right")
    t.add_column(f"{int(100 * p.level)}% band", justify="right")
    t.add_column(f"vs {p.label}", justify="right")
    b = p.best
    banded = has_band(result)

    def band(c) -> str:
        return f"{c.lower:.4f} .. {c.upper:.4f}" if banded else "none"

    t.add_row(f"[bold]{p.label}[/]", f"[bold]{b.final_loss:.4f}[/]", band(b), "")
    for c in p.standard:
        t.add_row(c.spec, f"{c.final_loss:.4f}", band(c), signed(c.final_loss - b.final_loss))
    console.print(t)
    console.print(p.verdict())
    if p.family == "free" and p.floor > 0:
        d = result.validity
        low, high = FLOOR_RANGE
        why = ("the pilots' lowest LR" if d is not None and low * (1 - 1e-6) <= d.min_multiplier <= high * (1 + 1e-6)
               else f"the pilots' lowest LR, {d.min_multiplier:.3g} of the peak, kept within "
               f"{low:.0%}-{high:.0%}" if d is not None
               else "the default for a fit file without a domain")
        console.print(f"[dim]the free form stays at or above {p.floor:.3g} of the peak LR ({why}; --allow-zero lifts it)[/]")
    if p.profile:
        console.print(_profile_table(result, p))


def _profile_table(result, p):
    """What the pilots allow: the best WSD under each refit of the fit's profile (``Plan.profile``)."""
    from rich.table import Table

    from ...laws.profile import marks

    name = p.profile[0]["param"]
    mine, best = marks(p.profile, result.params[name])
    t = Table(title=f"what the pilots allow: the fit with {name} held (it decides the cooldown; the pilots leave it "
                    "open)", title_justify="left")
    for col, just in ((name, "right"), ("pilots' mean |err|", "right"), ("best wsd to 0", "left"), ("final loss", "right")):
        t.add_column(col, justify=just)
    for i, r in enumerate(p.profile):
        err = f"{100 * r['mean_rel_error']:.4f}%"
        t.add_row(f"{r['value']:g}" + (" (this fit)" if i == mine else ""), f"[bold]{err}[/]" if i == best else err,
                  r["spec"] if r["predictable"] else "[dim]no prediction[/]",
                  f"{r['final_loss']:.4f}" if r["predictable"] else "[dim]below L0[/]")
    return t


@click.command("plan")
@click.argument("fit_file", type=click.Path(), metavar="FIT.json")
@click.option("--steps", "-n", type=STEPS, required=True, metavar="N", help="Training budget in steps.")
@click.option("--lr", "peak_lr", type=float, required=True, metavar="BASE", help="Peak LR.")
@click.option("--family", type=click.Choice(["free", "wsd", "cosine", "linear", "rex", "uba"]), default="free",
              show_default=True,
              help="free: best non-increasing piecewise-linear schedule; or the best of one family (wsd: decay "
                   "fraction, form and floor; cosine: floor; linear: end value; rex: beta; uba: phi).")
@click.option("--warmup", type=DURATION, default=None, metavar="STEPS|FRACTION",
              help="Warmup: steps, or a fraction of --steps (default: the fitted runs' warmup).")
@click.option("--knots", type=click.IntRange(3, 200), default=32, show_default=True, help="Knots of the free-form schedule.")
@click.option("--allow-zero", is_flag=True,
              help="Let the free form train at LR 0 (default: never below the pilots' lowest LR, 1-10% of the peak).")
@CONVENTION
@EXTRAPOLATE
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json", "spec"]), default="table", show_default=True,
              help="table: the plan beside the standard schedules; json: all of it; spec: the recommended spec alone "
                   "(the plan, or the standard schedule predicted better than it).")
@click.option("--out", "-o", type=click.Path(dir_okay=False, writable=True), default=None, metavar="FILE",
              help="Write the output to FILE instead of stdout.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None, metavar="FILE.png",
              help="Planned vs standard schedules (.png, .svg or .pdf).")
@figure_options
def plan_command(fit_file, steps, peak_lr, family, warmup, knots, allow_zero, convention, extrapolate, fmt, out, plot,
                 dpi, size):
    """Plan the schedule with the lowest predicted final loss for a budget.

    The plan is shown with its band and its predicted difference to the best standard schedule; when a
    standard schedule is predicted better, it is the one recommended.  Outside the fit's domain of
    validity each kind of extrapolation is one warning line on stderr (and in --format json); far
    outside it the plan is refused unless --extrapolate.

    \b
    Example:
      lrkit plan fit.json --steps 24000 --lr 3e-4 --family wsd
      lrkit plan fit.json --steps 24000 --lr 3e-4 --format spec --out planned.txt
    """
    from ...laws import FitResult, plan
    from ..terminal import output

    if steps < 10:
        raise click.BadParameter(f"must be at least 10, got {steps}", param_hint="--steps")
    if not peak_lr > 0:
        raise click.BadParameter(f"must be positive, got {peak_lr}", param_hint="--lr")
    figure = plot_figure(plot, dpi, size)
    if isinstance(warmup, float):  # a fraction of the budget, as in a spec
        warmup = int(round(warmup * steps))
    result = FitResult.from_json(fit_file)
    with quiet_extrapolation():
        p = plan(result, steps, peak_lr, family=family, warmup=warmup, knots=knots, extrapolate=extrapolate,
                 allow_zero=allow_zero, convention=convention)
    for kind, message in p.warnings.items():
        warn(kind, message)
    if fmt == "spec" and not p.beats_standard:
        warn("plan", f"wrote the recommended schedule, {p.recommended.spec}, not the {p.family} plan "
                     f"{p.best.spec}: {p.verdict()}")
    with output(out) as stream:
        if fmt == "json":
            stream.write(dump_json({"fit": str(fit_file), "law": result.law, "target": result.target, **p.to_dict(),
                                    "warnings": warning_list(p.warnings)}) + "\n")
        elif fmt == "spec":
            stream.write(p.recommended.spec + "\n")
        else:
            _table(stream, result, p)
    if plot:
        from ...report.law_figures import plot_plan

        plot_plan(result, p, plot, **figure)
        click.echo(f"wrote {plot}", err=True)
