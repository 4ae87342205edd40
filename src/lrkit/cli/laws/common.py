"""What ``lrkit fit``, ``predict`` and ``plan`` share: option checks, runs loaded as law curves,
warnings on stderr (one line each) and the domain-of-validity options."""

from __future__ import annotations

import json
import math
import warnings
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import click
import numpy as np

from ...schedules import PRESETS
from ..params import STEPS
from ...runs.base import MAX_STEPS as RUN_MAX_STEPS
from ..show import MAX_STEPS


def steps_range(low: int, high: int = MAX_STEPS):
    """A click callback: every value of the option is ``low..high`` steps (the LR of every step is an
    array element; ``high``: as in ``show``, or a run's limit for the options that give a run's length)."""
    def check(ctx, param, value):
        for v in value if isinstance(value, tuple) else (value,):
            if v is not None and v < low:
                raise click.BadParameter(f"must be at least {low}, got {v}")
            if v is not None and v > high:
                raise click.BadParameter(f"{v:,} steps is more than lrkit {ctx.command.name} evaluates "
                                         f"({high:,}, every step's LR in memory)")
        return value
    return check


def check_lr(schedules: Sequence[str | None], base_lr: float | None) -> None:
    """``--schedule`` needs ``--lr``, a positive finite number."""
    if any(s is not None for s in schedules) and base_lr is None:
        raise click.UsageError("--schedule needs --lr BASE (the base LR the schedule multiplies)")
    if base_lr is not None and not (base_lr > 0 and np.isfinite(base_lr)):
        raise click.BadParameter(f"must be a positive finite number, got {base_lr}", param_hint="--lr")


def per_run(values: Sequence, name: str, n: int) -> list:
    """An option given once (for every run), once per run, or not at all (``None`` for each run)."""
    if len(values) not in (0, 1, n):
        raise click.UsageError(f"give {name} once (for all runs) or once per run ({n} times)")
    return [values[0] if len(values) == 1 else (values[i] if values else None) for i in range(n)]


def check_total(path: str, run, total: int | None, option: str) -> None:
    """A total must cover every logged step: a shorter one would drop the later losses."""
    if total is not None and total <= run.last_step:
        raise click.BadParameter(f"{total:,} steps end before {path} does (logged up to step {run.last_step:,}); give "
                                 f"at least {run.last_step + 1:,}, or leave it out for the run's own length",
                                 param_hint=option)


def parse_bases(items: Sequence[str], paths: Sequence[str]) -> dict[int, str]:
    """``--base BRANCH=BASE`` items as ``{index of the branch among paths: base path}``; BRANCH is a run
    as given, or its file name or stem; so is BASE when it is one of the runs and no file of that name is
    here (``fit ../runs/constant.csv ../runs/cooldown.csv --base cooldown.csv=constant.csv``)."""
    from pathlib import Path

    out: dict[int, str] = {}
    for item in items:
        branch, sep, base = item.partition("=")
        if not (sep and branch.strip() and base.strip()):
            raise click.BadParameter(f"expected BRANCH=BASE (a run given above and the run it branched from), got "
                                     f"{item!r}", param_hint="'--base'")
        branch = branch.strip()
        hits = [i for i, p in enumerate(paths) if branch in (p, Path(p).name, Path(p).stem)]
        if len(hits) != 1:
            raise click.BadParameter(f"{branch!r} names {'none' if not hits else 'more than one'} of the runs "
                                     f"({', '.join(paths)})", param_hint="'--base'")
        if hits[0] in out:
            raise click.BadParameter(f"{branch!r} is given a base twice", param_hint="'--base'")
        base = base.strip()
        named = [p for p in paths if base in (p, Path(p).name, Path(p).stem)]
        if not Path(base).exists() and len(named) == 1:
            base = named[0]
        if base == paths[hits[0]]:
            raise click.BadParameter(f"{branch!r} is given itself as its base", param_hint="'--base'")
        out[hits[0]] = base
    return out


def load_runs(paths: Sequence[str], columns: Sequence[str], clean: bool, console=None,
              bases: dict[int, str] | None = None, target: str = "loss") -> list:
    """Runs from files (their notes printed on ``console``); a run with a base (``bases``: index -> the
    base's path) joined to it (:meth:`lrkit.runs.Run.on_base`).  Each file must log ``target`` (a log of
    the validation loss alone serves ``--target val_loss``); its loss checks apply when it is ``loss``."""
    from rich.markup import escape

    from ...runs import load_run, parse_column_map

    cmap = parse_column_map(columns)
    runs = []

    def say(path: str, notes) -> None:
        if console is not None:
            for note in notes:
                console.print(f"[yellow]{escape(f'{path}: {note}')}[/]")

    for i, path in enumerate(paths):
        run = load_run(path, columns=cmap, clean=clean, require=("step", target))
        if bases and i in bases:
            base = load_run(bases[i], columns=cmap, clean=clean, require=("step", target))
            say(bases[i], base.notes)
            run = run.on_base(base)
        say(path, run.notes)
        runs.append(run)
    return runs


def load_curves(paths: Sequence[str], schedules: Sequence[str], base_lr: float | None,
                totals: Sequence[int], columns: Sequence[str], clean: bool, console=None,
                total_option: str = "'--steps' / '-n' / '--total'", target: str = "loss", convention: str | None = None,
                bases: dict[int, str] | None = None):
    """Runs from files (branches joined to their ``bases``) as law curves of their ``target`` column; LR
    from each run's own column or from --schedule/--lr (evaluated under ``convention``)."""
    from ...laws import Curve

    specs, ends = per_run(schedules, "--schedule", len(paths)), per_run(totals, total_option, len(paths))
    check_lr(specs, base_lr)
    curves = []
    for path, run, spec, total in zip(paths, load_runs(paths, columns, clean, console, bases, target), specs, ends):
        check_total(path, run, total, total_option)
        curve = Curve.from_run(run, total=total, schedule=spec, base_lr=base_lr, loss=target, convention=convention)
        if spec is not None:
            _check_schedule(path, run, spec, base_lr, convention, curve.lr, total is not None)
        curves.append(curve)
    return curves


#: lint's findings that say a schedule's phases do not fit the run (the run is not what the spec describes)
PHASE_FINDINGS = ("phases-exceed-run", "phase-beyond-run", "milestone-beyond-run", "warmup-too-long")


def warn_phases(spec: str, total: int, convention: str | None, where: str = "") -> None:
    """One warning line per way ``spec``'s phases do not fit a run of ``total`` steps (``lrkit lint``'s
    findings of :data:`PHASE_FINDINGS`): a decay cut short by the end, a warmup longer than the run;
    ``where`` starts the line (a run's file)."""
    from ...lint import lint

    for f in lint(spec, total, convention):
        if f.code in PHASE_FINDINGS:
            warn("schedule", f"{where}{f.message}")


def _check_schedule(path, run, spec: str, base_lr: float, convention, lr, total_given: bool) -> None:
    """A run's --schedule against its logged lr column (one warning line on a mismatch), and the total said
    when it was inferred for a schedule that depends on it (as predict --run does)."""
    from ...spec import parse
    from .lr_check import compare_lr

    if not total_given and parse(spec).needs_total():
        click.echo(f"lrkit: note: {path}: total {lr.size:,} steps (its last logged step + 1; give --steps N if it was "
                   "planned longer: its schedule's decay depends on it)", err=True)
    for kind, message in compare_lr(run, spec, base_lr, convention, lr, total_given).items():
        warn(kind, message)
    warn_phases(spec, lr.size, convention, f"{path}: ")


def apply(options):
    def deco(f):
        for o in reversed(options):
            f = o(f)
        return f

    return deco


CONVENTION = click.option(
    "--convention", "-c", type=click.Choice(list(PRESETS)), default=None,
    help="How the schedules' edges are counted (lrkit, torch, hf, timm, optax): the one the runs were trained "
         "with. fit: default lrkit; predict/plan: default the pilots' (from the fit file).")
EXTRAPOLATE = click.option(
    "--extrapolate", is_flag=True,
    help="Predict even far outside the fit's domain of validity (10x the pilots' peak-LR range, 30x their length, "
         "a loss below the fitted L0): warned instead of refused.")

RUN_OPTIONS = [
    click.option("--schedule", "schedules", multiple=True, metavar="SPEC",
                 help="The runs' LR schedule (once for all runs or once per run); default: the runs' lr column."),
    click.option("--lr", "base_lr", type=float, default=None, metavar="BASE", help="Base (peak) LR for --schedule."),
    click.option("--steps", "-n", "--total", "totals", type=STEPS, multiple=True, metavar="N",
                 callback=steps_range(1, RUN_MAX_STEPS),
                 help=f"Total steps of each run, at most {RUN_MAX_STEPS:,} (default: last logged step + 1); --total "
                      f"is the old spelling."),
    click.option("--column", "columns", multiple=True, metavar="ROLE=NAME",
                 help="Map a file column to a role: step, loss, lr, val_loss, grad_norm, tokens."),
    click.option("--clean", is_flag=True, help="Repair bad rows (reported) instead of failing."),
    click.option("--base", "bases", multiple=True, metavar="BRANCH=BASE",
                 help="A run that branched from another (a cooldown resumed from a checkpoint of the constant run, "
                      "logged only from the branch point): join it to its base run (BRANCH: a RUN as given, or its "
                      "file name; BASE: a file, or one of the RUNs by name); repeatable."),
]


def warn(kind: str, message: str) -> None:
    """One warning line on stderr."""
    click.echo(f"lrkit: warning ({kind}): {' '.join(str(message).split())}", err=True)


@contextmanager
def quiet_extrapolation() -> Iterator[None]:
    """The library's ExtrapolationWarnings are not printed by Python (the command prints each once), and
    its refusals speak of --extrapolate."""
    from ...laws.domain import HINT, ExtrapolationError, ExtrapolationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        try:
            yield
        except ExtrapolationError as exc:
            raise ExtrapolationError(str(exc).replace(HINT, "give --extrapolate to go ahead anyway"), exc.kind) from None


def warning_list(found: dict[str, str]) -> list[dict[str, str]]:
    """``{kind: message}`` as the JSON output lists it."""
    return [{"kind": k, "message": m} for k, m in found.items()]


def dump_json(doc: Any) -> str:
    """JSON text with ``null`` for non-finite numbers (a NaN is not JSON)."""
    def clean(x: Any) -> Any:
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(doc), indent=1)
