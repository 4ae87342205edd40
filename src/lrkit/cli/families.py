"""``lrkit families [NAME]``: every schedule family with its parameters, defaults and source."""

from __future__ import annotations

import json

import click


def register(group: click.Group) -> None:
    group.add_command(families_command)


@click.command("families")
@click.argument("name", required=False, metavar="[NAME]")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="table: for reading; json: the same data for programs.")
def families_command(name, fmt):
    """List the schedule families, their parameters with defaults, and their sources.

    With NAME, that family in full: every parameter (its own, then the warmup and length every
    decaying family shares) and its documentation.

    \b
    Examples:
      lrkit families
      lrkit families wsd
      lrkit families --format json
    """
    from ..schedules.catalog import families

    found = families(name)
    if fmt == "json":
        data = found.to_dict() if name is not None else [f.to_dict() for f in found]
        click.echo(json.dumps(data, indent=1))
        return
    from .terminal import console

    out = console()
    if name is None:
        out.print(_overview(sorted(found, key=lambda f: f.name)))  # a reader looks a name up: alphabetical
        out.print("[dim]lrkit families NAME: one family in full; every decaying family also takes warmup=, "
                  "warmup_form=, warmup_init=, beta2= and steps=[/]")
    else:
        for part in _detail(found):
            out.print(part)


def _params_text(params) -> str:
    return "  ".join(f"{p.name}={p.default_text}" for p in params)


def _overview(found):
    """One row per family: its name, then its summary, its own parameters and its source, wrapped."""
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=f"{len(found)} schedule families", title_justify="left", header_style="bold", show_lines=True)
    t.add_column("family", style="bold", no_wrap=True)
    t.add_column("summary · parameters (defaults) · source", overflow="fold")
    for f in found:
        lines = [escape(f.summary), f"[cyan]{escape(_params_text(f.own))}[/]" if f.own else ""]
        if f.source:
            lines.append(f"[dim]{escape(f.source)}[/]")
        t.add_row(f.name, "\n".join(line for line in lines if line))
    return t


def _detail(f):
    """A family in full: summary, source, a parameter table and the rest of its docstring."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    head = Text.assemble((f.name, "bold"), (": ", ""), (f.summary, ""))
    parts = [head]
    if f.source:
        parts.append(Text.assemble(("source: ", "dim"), (f.source, "")))
    t = Table(header_style="bold", show_edge=False)
    t.add_column("parameter", style="bold", no_wrap=True)
    t.add_column("default", overflow="fold")
    t.add_column("description", overflow="fold")
    for p in f.parameters:
        note = ("[dim](shared)[/] " if not p.own else "") + escape(p.doc) + (" [dim](positional)[/]" if p.positional else "")
        t.add_row(p.name, escape(p.default_text), note)
    parts.append(t)
    for para in f.doc.split("\n\n")[1:]:
        if not para.strip().startswith("Args:"):  # (the parameters' own words are in the table)
            parts.append(Text(" ".join(para.replace("``", "").split())))
    if _parses(f"{f.name}()"):
        parts.append(Text.assemble(("try: ", "dim"), (f"lrkit show '{f.name}()' --steps 1000", "")))
    return parts


def _parses(spec: str) -> bool:
    from ..errors import SpecError
    from ..spec import parse

    try:
        parse(spec)
    except SpecError:
        return False
    return True
