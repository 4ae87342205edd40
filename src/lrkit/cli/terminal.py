"""What the terminal shows: consoles, where a command's output goes (:func:`output`), a sweep's
progress bar, summary panels (rich) and a braille line plot (plotext)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import click
import numpy as np
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..report.ticks import count_label, nice_ticks, value_labels
from ..summary import Summary

#: plotext colour names matched to the rich styles used for the same series.
SERIES = [("blue", "bold blue"), ("orange", "bold dark_orange"), ("green", "bold green"),
          ("magenta", "bold magenta"), ("cyan", "bold cyan"), ("red", "bold red")]
#: one marker per series when a plot has several, so they stay apart where colour is lost (piped output, a
#: log file, a colour-blind reader); a single curve is drawn in braille, the finest
MARKERS = ["•", "+", "x", "o", "*", "#", "=", "~", "^", "%"]


def console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr) without highlighting; 120 columns when not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(highlight=False, stderr=stderr, width=None if stream.isatty() else 120)


@contextmanager
def output(out: str | Path | None) -> Iterator[TextIO]:
    """The stream a command writes its result to: the file ``out`` (UTF-8; closed afterwards, then
    ``wrote OUT`` on stderr) or, without ``out``, standard output."""
    if not out:
        yield sys.stdout
        return
    with open(out, "w", newline="", encoding="utf-8") as stream:
        yield stream
    click.echo(f"wrote {out}", err=True)


class Progress:
    """A rich progress bar fed by a sweep's events (:func:`lrkit.bench.sweep`'s ``on_event``): trials
    done, ETA, the last result; a failed trial is printed above the bar."""

    def __init__(self, console: Console, description: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self.progress = Bar(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("trials"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), TextColumn("{task.fields[last]}"),
            console=console, transient=False)
        self.description = description
        self.task = None
        self.failed = 0

    def __enter__(self) -> "Progress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    @property
    def started(self) -> bool:
        """Whether the bar is on screen (entered and not yet exited)."""
        return bool(self.progress.live.is_started)

    def __call__(self, kind: str, data: dict) -> None:
        from rich.markup import escape

        p = self.progress
        if kind == "start":
            self.task = p.add_task(self.description, total=data["total"], last="", completed=0)
            self._already = data["done"]
            if data["done"]:
                p.update(self.task, completed=data["done"], last=f"[dim]{data['done']} already done[/]")
        elif kind == "progress" and self.task is not None:
            p.update(self.task, completed=data["done"] + data["failed"])
        elif kind == "finished" and self.task is not None:
            tr, s = data["trial"], data["summary"]
            val = "diverged" if s.get("diverged") else f"val {s['final_val']:.4f}"
            p.update(self.task, last=f"[dim]{escape(tr.label[:40])} lr={tr.lr:g} seed={tr.seed}: {val} ({s['wall_time']:.0f}s)[/]")
        elif kind == "failed" and self.task is not None:
            self.failed += 1
            tr = data["trial"]
            p.console.print(f"[red]failed:[/] {escape(tr.label)} lr={tr.lr:g} seed={tr.seed}: "
                            f"{escape((data['error'] or 'failed').splitlines()[0])}")


def fmt(x: float | None) -> str:
    """A number in the fewest characters that still reads clearly."""
    if x is None:
        return "-"
    if x == 0:
        return "0"
    return f"{x:.4g}"


def phase_text(s: Summary) -> Text:
    out = Text()
    for i, p in enumerate(s.phases):
        if i:
            out.append("  ·  ", style="dim")
        end = "∞" if p.end is None else f"{p.end:,}"
        out.append(p.label, style="bold")
        out.append(f" {p.start:,}–{end}", style="dim")
    return out


def summary_panel(s: Summary, style: str = "bold blue", full_spec: str | None = None) -> Panel:
    """A schedule's numbers in a panel titled by its spec; ``full_spec``: a first row with every parameter
    (wrapped, never cut)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", justify="right")
    grid.add_column()
    unit = "" if s.lr is not None else "×"
    if full_spec is not None:
        grid.add_row("spec", Text(full_spec, style="bold"))
    grid.add_row("peak", Text(f"{fmt(s.peak)}{unit}", style="bold") + Text(f"  at step {s.peak_step:,}", style="dim"))
    grid.add_row("first / final", f"{fmt(s.first)}{unit} / {fmt(s.final)}{unit}")
    grid.add_row("mean", f"{fmt(s.mean)}{unit}" + (f"  ({s.mean / s.peak:.0%} of peak)" if s.peak else ""))
    grid.add_row("area Σ lr", fmt(s.area) + ("" if s.lr is not None else " (multiplier × steps)"))
    grid.add_row("phases", phase_text(s))
    title = Text(s.spec, style=style)
    sub = f"{s.total:,} steps · " + (f"base LR {fmt(s.lr)}" if s.lr is not None else "multiplier of base LR") \
        + f" · convention {s.convention}"
    # wide enough for the title and the subtitle, which rich would otherwise cut to the content's width
    from rich.measure import Measurement

    probe = Console()
    content = Measurement.get(probe, probe.options, grid).maximum
    width = max(content, len(sub) + 4, len(s.spec) + 4) + 4  # borders and padding
    return Panel(grid, title=title, title_align="left", subtitle=sub, subtitle_align="right", border_style="dim",
                 expand=True, width=width)


def line_plot(series: Sequence[np.ndarray], labels: Sequence[str], width: int = 76, height: int = 15,
              ylabel: str = "") -> Text | Group:
    """A line plot of one or more curves over the same steps, with round ticks (``2.5k`` steps, ``1e-4``);
    several curves each get their own marker, shown in the legend, as well as a colour."""
    import plotext as plt

    plt.clear_figure()
    plt.plot_size(width, height)
    plt.theme("clear")
    n = len(series[0])
    stride = max(1, n // (width * 4))
    x = list(range(0, n, stride))
    several = len(series) > 1
    for i, y in enumerate(series):
        plt.plot(x, [float(v) for v in y[::stride]], color=SERIES[i % len(SERIES)][0],
                 marker=MARKERS[i % len(MARKERS)] if several else "braille")
    xt = nice_ticks(0, n - 1, max(2, min(6, width // 14)))
    plt.xticks(xt, [count_label(t) for t in xt])
    lo = min(float(np.min(y)) for y in series)
    hi = max(float(np.max(y)) for y in series)
    if hi > lo:  # round ticks over the data and a little beyond, so 0 is labelled for a curve that ends near it
        pad = 0.03 * (hi - lo)
        yt = nice_ticks(lo - pad, hi + pad, max(2, height // 3))
        plt.ylim(min(lo, yt[0]), max(hi, yt[-1]))
        plt.yticks(yt, value_labels(yt))
    plt.xlabel("step")
    if ylabel:
        plt.ylabel(ylabel)
    text = Text.from_ansi(plt.build())
    if not several:
        return text
    keys = [Text(f"{MARKERS[i % len(MARKERS)]}━━", style=SERIES[i % len(SERIES)][1]) for i in range(len(labels))]
    if sum(len(label) + 7 for label in labels) + 2 <= width:  # the legend on one line
        return Text("\n").join([text, Text("  ") + Text("   ").join(k + " " + label for k, label in zip(keys, labels))])
    legend = Table.grid(padding=(0, 1))  # else one entry a line, a long label wrapped under itself
    legend.add_column(width=5, justify="right")
    legend.add_column()
    for key, label in zip(keys, labels):
        legend.add_row(key, label)
    return Group(text, legend)


def show(console: Console, summaries: Sequence[Summary], values: Sequence[np.ndarray], plot: bool = True,
         full_specs: Sequence[str] | None = None, findings: Sequence[Sequence] | None = None) -> None:
    """A summary panel per schedule, each followed by its lint findings, then one plot of them all;
    ``full_specs``: every parameter of each spec, in its panel and the legend."""
    for i, s in enumerate(summaries):
        console.print(summary_panel(s, SERIES[i % len(SERIES)][1], full_spec=full_specs[i] if full_specs else None))
        for f in (findings[i] if findings else ()):
            console.print(finding_line(f))
    if plot:
        width = max(40, min(console.width - 2, 100))
        ylabel = "learning rate" if summaries[0].lr is not None else "multiplier"
        labels = list(full_specs) if full_specs else [s.spec for s in summaries]
        console.print(line_plot(values, labels, width=width, ylabel=ylabel))


def finding_line(f) -> Table:
    """One lint finding, ``  ⚠ code: message``, its message wrapped under itself."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=3, justify="right", style="yellow")
    grid.add_column()
    grid.add_row("⚠", Text.assemble((f"{f.code}", "bold"), (": ", ""), (f.message, "")))
    return grid


def findings(console: Console, spec: str, total: int, items) -> None:
    if not items:
        console.print(Group(Text.assemble(("✓ ", "bold green"), (spec, "bold"),
                                          (f": no problems found over {total:,} steps", ""))))
        return
    console.print(Text.assemble((f"{len(items)} finding{'s' if len(items) > 1 else ''} ", "bold yellow"),
                                (f"for {spec} over {total:,} steps", "")))
    for f in items:
        console.print(finding_line(f))
