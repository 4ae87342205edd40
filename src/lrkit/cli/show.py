"""``lrkit show`` and ``lrkit lint``: see a schedule, and find its soft problems, before training."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from ..lint import lint
from ..schedules import PRESETS
from ..spec import parse
from ..summary import summarize
from .figure_options import figure_kwargs, figure_options, resolve_format

FORMATS = ("table", "csv", "json", "png", "svg", "pdf")
FIGURES = ("png", "svg", "pdf")


#: show and lint evaluate every step of the run (8 bytes a step, a few arrays of them)
MAX_STEPS = 100_000_000


def _check_steps(ctx, param, value):
    if value is not None and value > MAX_STEPS:
        raise click.BadParameter(f"{value:,} steps is more than show and lint evaluate ({MAX_STEPS:,}, every step "
                                 f"in memory); the shape does not change with N for fraction-based specs, so "
                                 f"show a shorter run")
    return value


def steps_option(f):
    from .params import STEPS

    return click.option("--steps", "-n", type=STEPS, required=True, metavar="N", callback=_check_steps,
                        help="Total number of steps of the run (steps 0..N-1 are shown), e.g. 10000, 1e4 or 10k.")(f)


def convention_option(f):
    return click.option("--convention", "-c", type=click.Choice(list(PRESETS)), default="lrkit", show_default=True,
                        help="How edges are counted: lrkit's default or a library's (torch, hf, timm, optax).")(f)


def time_units_option(f):
    """--steps-per-epoch, --tokens-per-step, --samples-per-step: read Composer's '2ep', '1000tok', '64sp'."""
    for name, what in (("samples-per-step", "samples"), ("tokens-per-step", "tokens"), ("steps-per-epoch", "epochs")):
        f = click.option(f"--{name}", type=float, default=None, metavar="N",
                         help=f"Count durations in {what} (Composer's time strings) as optimizer steps.")(f)
    return f


def register(group: click.Group) -> None:
    group.add_command(show)
    group.add_command(lint_command)


@click.command()
@click.argument("specs", nargs=-1, required=False, metavar="SPEC...")
@steps_option
@click.option("--lr", type=float, default=None, metavar="BASE", help="Base (peak) LR: show absolute values.")
@convention_option
@click.option("--format", "-f", "fmt", type=click.Choice(FORMATS), default=None,
              help="table (the default): summary and terminal plot; csv: step,lr rows; json; png/svg/pdf: a "
                   "figure. Without it, --out's suffix decides (.png, .svg, .pdf, .csv, .json).")
@click.option("--out", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of stdout (png/svg/pdf default: schedule.<format>).")
@click.option("--title", default=None, help="Figure title (png/svg/pdf).")
@click.option("--full", is_flag=True, help="Spell out every parameter of each spec, defaults included, in the "
                                             "summary and the legend (figures always do).")
@figure_options
@click.option("--groups", "groups_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="JSON (or YAML) config of parameter groups, each with a name, an lr and optionally its own "
                   "schedule: show each group's absolute LR (csv columns step,<group>,...). A SPEC is then the "
                   "default schedule.")
@time_units_option
def show(specs, steps, lr, convention, fmt, out, title, full, dpi, size, groups_file, steps_per_epoch,
         tokens_per_step, samples_per_step):
    """Show one or more schedules over a run of N steps.

    SPEC is a schedule in lrkit's language, e.g. 'cosine(warmup=0.05, floor=0.1)'; give several to
    compare them on one plot. The summary ends with what `lrkit lint` finds.
    """
    from ..schedules import validate
    from . import terminal

    fmt = resolve_format(fmt, out)
    figure = figure_kwargs(dpi, size)
    if (dpi is not None or size is not None) and fmt not in FIGURES:
        raise click.UsageError(f"--dpi and --size apply to figures (png, svg, pdf), not to {fmt}")
    if full and fmt in ("csv", "json"):
        raise click.UsageError(f"--full applies to the table and figures, not to {fmt} (its specs stay short, "
                               f"to parse back)")
    with validate.time_units(steps_per_epoch, tokens_per_step, samples_per_step):
        if groups_file is not None:
            from .groups import run_show

            return run_show(groups_file, specs, steps, lr, convention, fmt, out, title, figure, full)
        if not specs:
            raise click.UsageError("Missing argument 'SPEC...' (or give --groups FILE).")
        schedules = [parse(s) for s in specs]
    steps = validate.total_steps(steps, "--steps")
    values = [s.sample(steps, convention) for s in schedules]
    summaries = [summarize(s, steps, lr, convention, values=y) for s, y in zip(schedules, values)]
    scale = 1.0 if lr is None else lr

    if fmt in FIGURES:
        from ..report.plots import plot_schedules

        path = Path(out or f"schedule.{fmt}")
        plot_schedules(schedules, steps, lr=lr, convention=convention, out=path, title=title, fmt=fmt, **figure)
        click.echo(f"wrote {path}")
        return
    with terminal.output(out) as stream:
        if fmt == "csv":
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(["step", "lr"] if len(schedules) == 1 else ["step"] + [str(s) for s in schedules])
            columns = [y * scale for y in values]
            for t in range(steps):
                writer.writerow([t] + [repr(float(c[t])) for c in columns])
        elif fmt == "json":
            docs = []
            for s, y in zip(summaries, values):
                d = s.to_dict()
                d["values"] = (y * scale).tolist()
                docs.append(d)
            json.dump(docs[0] if len(docs) == 1 else docs, stream, indent=1)
            stream.write("\n")
        else:
            from rich.console import Console

            console = Console(file=stream, width=None if not out else 100)
            specs_full = [s.spec(full=True) for s in schedules] if full else None
            found = [lint(s, steps, convention) for s in schedules]
            terminal.show(console, summaries, [y * scale for y in values], full_specs=specs_full, findings=found)


@click.command("lint")
@click.argument("spec", metavar="SPEC")
@steps_option
@convention_option
@click.option("--strict", is_flag=True, help="Exit with code 1 when there are findings.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: for reading; json: {spec, steps, convention, findings: [{code, message}]} for CI.")
@time_units_option
def lint_command(spec, steps, convention, strict, fmt, steps_per_epoch, tokens_per_step, samples_per_step):
    """Report soft problems of a valid schedule: LR 0 at the first step, jumps at phase boundaries,
    phases or milestones beyond the run, warmup longer than the run, LR rising after the end, a floor
    above the peak. Exit code 0 when the spec is valid (1 with --strict and findings)."""
    from rich.console import Console

    from ..schedules import validate
    from . import terminal

    schedule = parse(spec, steps_per_epoch=steps_per_epoch, tokens_per_step=tokens_per_step,
                     samples_per_step=samples_per_step)
    steps = validate.total_steps(steps, "--steps")
    items = lint(schedule, steps, convention)
    if fmt == "json":
        doc = {"spec": str(schedule), "steps": steps, "convention": convention,
               "findings": [{"code": f.code, "message": f.message} for f in items]}
        click.echo(json.dumps(doc, indent=1))
    else:
        terminal.findings(Console(), str(schedule), steps, items)
    if strict and items:
        sys.exit(1)
