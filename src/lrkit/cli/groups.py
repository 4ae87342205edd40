"""``lrkit show --groups FILE``: each parameter group's absolute LR, from a small JSON (or YAML) config.

A config names the groups, their base LRs and, where a group differs, its own schedule::

    {"schedule": "wsd(warmup=0.05)",
     "groups": [{"name": "backbone", "lr": 1e-4},
                {"name": "head", "lr": 1e-3, "schedule": "cosine(floor=0.1)"}]}

Each group's LR at step t is ``lr * schedule(t)``, exactly what :class:`lrkit.torch.Scheduler` writes
into an optimizer built with the same groups (each group's own base LR is its multiplier's reference).
YAML files (``.yaml``/``.yml``) are read when PyYAML is installed.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from ..errors import SpecError
from ..schedules import Schedule
from ..schedules import validate as v
from ..schedules.conventions import Convention, get_convention
from ..spec import loads_json, parse

TOP_KEYS = ("groups", "schedule")
GROUP_KEYS = ("name", "lr", "schedule")


@dataclass(frozen=True)
class Group:
    """One parameter group: its name, its base (peak) LR and its schedule."""

    name: str
    lr: float
    schedule: Schedule


def read_config(path: str | Path) -> Any:
    """The data of a JSON or YAML file (YAML needs PyYAML); one-line :class:`SpecError` otherwise."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"--groups: no such file: {path}") from None
    except OSError as e:
        raise SpecError(f"--groups: cannot read {path}: {e.strerror or e}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise SpecError(f"--groups: {path} is YAML, and reading YAML needs PyYAML (pip install pyyaml); "
                            f"or write the config as JSON") from None
        try:
            return yaml.load(text, Loader=_strict_yaml(yaml))  # noqa: S506 (a SafeLoader, stricter)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise SpecError(f"--groups: {path} is not valid YAML{where}: {getattr(e, 'problem', None) or e}") from None
        except SpecError as e:
            raise SpecError(f"--groups: {path}: {e}") from None
    try:
        return loads_json(text)
    except json.JSONDecodeError as e:
        raise SpecError(f"--groups: {path} is not valid JSON at line {e.lineno}, column {e.colno}: {e.msg}") from None
    except SpecError as e:
        raise SpecError(f"--groups: {path}: {e}") from None


#: The decimal numbers a YAML config may hold; YAML 1.1 (PyYAML) would also read ``1_005`` as 1005, ``010`` as
#: 8, ``0x10`` as 16 and ``1:30`` as 90.
_YAML_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_YAML_FLOAT = re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)")


def _strict_yaml(yaml):
    """PyYAML's SafeLoader, refusing a key given twice (it keeps the last) and numbers that are not plain
    decimals (one line naming the line and the number)."""

    class Strict(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, Hashable) and key in seen:
                    raise SpecError(f"line {key_node.start_mark.line + 1}: {key} is given twice; give each key once")
                if isinstance(key, Hashable):
                    seen.add(key)
            return super().construct_mapping(node, deep)

    def number(kind, pattern):
        base = getattr(yaml.SafeLoader, f"construct_yaml_{kind}")

        def construct(loader, node):
            text = str(node.value)
            if not pattern.fullmatch(text):
                plain = text.replace("_", "")
                hint = (f"write {plain} (digits only, no separators)" if "_" in text and pattern.fullmatch(plain)
                        else "write it as a plain decimal number (YAML 1.1 reads it otherwise), or quote it")
                raise SpecError(f"line {node.start_mark.line + 1}: the number {text} is not a plain decimal; {hint}")
            try:
                return base(loader, node)
            except ValueError:  # an integer of more than 4300 digits
                raise SpecError(f"line {node.start_mark.line + 1}: an integer of {len(text):,} digits is too long "
                                f"to read") from None

        return construct

    # YAML 1.1 reads ``3e-4`` (no dot) as a string; YAML 1.2, JSON and Python read it as a number, and so do we
    Strict.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+$"),
                                 list("-+0123456789."))
    Strict.add_constructor("tag:yaml.org,2002:int", number("int", _YAML_INT))
    Strict.add_constructor("tag:yaml.org,2002:float", number("float", _YAML_FLOAT))
    return Strict


def parse_groups(data: Any, default: str | Schedule | None = None, where: str = "--groups") -> list[Group]:
    """Groups from a config's data. ``default`` (a SPEC given on the command line) replaces the config's
    top-level ``schedule``; a group's own ``schedule`` wins over both."""
    if isinstance(data, list):
        data = {"groups": data}
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}: expected an object with a 'groups' list, e.g. "
                        f"{{\"groups\": [{{\"name\": \"head\", \"lr\": 1e-3}}], \"schedule\": \"cosine()\"}}; "
                        f"got {type(data).__name__}")
    for key in data:
        if key not in TOP_KEYS:
            raise SpecError(f"{where}: unknown key {key!r}; expected {', '.join(TOP_KEYS)}"
                            f"{v.did_you_mean(str(key), TOP_KEYS)}")
    items = data.get("groups")
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise SpecError(f"{where}: 'groups' must be a non-empty list of {{\"name\", \"lr\", \"schedule\"}} objects")
    fallback = default if default is not None else data.get("schedule")
    fallback = _schedule(fallback, f"{where}: schedule") if fallback is not None else None
    out: list[Group] = []
    for i, g in enumerate(items):
        here = f"{where}: groups[{i}]"
        if not isinstance(g, Mapping):
            raise SpecError(f"{here} is {g!r}; expected an object with 'lr' (and 'name', 'schedule')")
        for key in g:
            if key not in GROUP_KEYS:
                raise SpecError(f"{here}: unknown key {key!r}; expected {', '.join(GROUP_KEYS)}"
                                f"{v.did_you_mean(str(key), GROUP_KEYS)}")
        name = g.get("name", f"group{i}")
        if not isinstance(name, str) or not name.strip():
            raise SpecError(f"{here}: name={name!r} is not a non-empty string")
        if name == "step":
            raise SpecError(f"{here}: name 'step' is taken by the step column; choose another name")
        if any(o.name == name for o in out):
            raise SpecError(f"{here}: name {name!r} is used twice; group names must be unique")
        if "lr" not in g:
            raise SpecError(f"{here} ({name!r}) has no 'lr'; give its base (peak) learning rate")
        lr = v.number(here, "lr", g["lr"], lo=0.0, lo_open=True)
        if "schedule" in g:
            schedule = _schedule(g["schedule"], f"{here} ({name!r}): schedule")
        elif fallback is not None:
            schedule = fallback
        else:
            raise SpecError(f"{here} ({name!r}) has no schedule; give it one, a top-level 'schedule' for all "
                            f"groups, or a SPEC on the command line")
        out.append(Group(name, lr, schedule))
    return out


def _schedule(value: Any, where: str) -> Schedule:
    if not isinstance(value, (str, Mapping, Schedule)):
        raise SpecError(f"{where}={value!r} is not a schedule spec")
    try:
        return parse(value)
    except SpecError as e:
        raise SpecError(f"{where}: {e}") from None


def load_groups(path: str | Path, default: str | Schedule | None = None) -> list[Group]:
    """Read and validate a groups config file."""
    return parse_groups(read_config(path), default, where=f"--groups {Path(path).name}")


def group_values(groups: Sequence[Group], steps: int, convention: str | Convention | None = None) -> list[np.ndarray]:
    """Each group's absolute LR at steps ``0 .. steps-1``."""
    steps = v.total_steps(steps, "--steps")
    conv = get_convention(convention)
    return [g.lr * g.schedule.sample(steps, conv) for g in groups]


def write_csv(stream: TextIO, groups: Sequence[Group], values: Sequence[np.ndarray]) -> None:
    """``step,<group1>,<group2>,...`` and one row per step (absolute LRs, exact float reprs)."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["step"] + [g.name for g in groups])
    for t in range(len(values[0])):
        writer.writerow([t] + [repr(float(y[t])) for y in values])


def to_json(groups: Sequence[Group], values: Sequence[np.ndarray], steps: int,
            convention: str | Convention | None = None) -> dict:
    """A summary per group (as ``lrkit show --format json``) with its name, base LR and values."""
    from ..summary import summarize

    out = []
    for g, y in zip(groups, values):
        d = summarize(g.schedule, steps, g.lr, convention, values=y / g.lr).to_dict()
        out.append({"name": g.name, "base_lr": g.lr, **d, "values": [float(x) for x in y]})
    return {"steps": steps, "convention": get_convention(convention).name, "groups": out}


def show_table(console, groups: Sequence[Group], values: Sequence[np.ndarray], steps: int,
               convention: str | Convention | None = None, full: bool = False) -> None:
    """A summary panel per group (``full``: each spec with every parameter), then every group's LR on one
    terminal plot."""
    from ..summary import summarize
    from . import terminal

    for i, (g, y) in enumerate(zip(groups, values)):
        s = summarize(g.schedule, steps, g.lr, convention, values=y / g.lr)
        panel = terminal.summary_panel(s, terminal.SERIES[i % len(terminal.SERIES)][1],
                                       full_spec=g.schedule.spec(full=True) if full else None)
        panel.title = f"{g.name} · lr {terminal.fmt(g.lr)} · {s.spec}"
        panel.width = min(console.width, 100)  # one width for all groups, room for the subtitle
        console.print(panel)
    width = max(40, min(console.width - 2, 100))
    labels = [f"{g.name} (lr {terminal.fmt(g.lr)})" for g in groups]
    console.print(terminal.line_plot(values, labels, width=width, ylabel="learning rate"))


def run_show(path: str, specs: Sequence[str], steps: int, lr: float | None, convention: str, fmt: str,
             out: str | None, title: str | None, figure: dict | None = None, full: bool = False) -> None:
    """``lrkit show --groups FILE``: the summary and plot, csv, json or a figure of every group's LR."""
    import click

    from ..report.plots import plot_groups
    from . import terminal

    if lr is not None:
        raise click.UsageError("--lr does not apply with --groups: each group gives its own 'lr' in the file")
    if len(specs) > 1:
        raise click.UsageError(f"with --groups, give at most one SPEC (the default schedule of the groups); got "
                               f"{len(specs)}")
    groups = load_groups(path, specs[0] if specs else None)
    values = group_values(groups, steps, convention)
    steps = len(values[0])
    if fmt in ("png", "svg", "pdf"):
        target = Path(out or f"groups.{fmt}")
        plot_groups([f"{g.name}: lr {g.lr:g} × {g.schedule.spec(full=True)}" for g in groups], values, target,
                    base_lrs=[g.lr for g in groups], title=title, fmt=fmt, **(figure or {}))
        click.echo(f"wrote {target}")
        return
    with terminal.output(out) as stream:
        if fmt == "csv":
            write_csv(stream, groups, values)
        elif fmt == "json":
            json.dump(to_json(groups, values, steps, convention), stream, indent=1)
            stream.write("\n")
        else:
            from rich.console import Console

            show_table(Console(file=stream, width=None if not out else 100), groups, values, steps, convention,
                       full)
