"""What the terminal shows: consoles, where a command's output goes (:func:`output`), a sweep's
progress bar, summary panels (rich) and a braille line plot (plotext)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, TextIO

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


def console(stderr: bool = False, file: TextIO | None = None) -> Console:
    """A console on stdout (or stderr, or ``file``) without highlighting: as wide as the terminal, or
    ``COLUMNS`` when set; 120 columns when neither says."""
    stream = file if file is not None else sys.stderr if stderr else sys.stdout
    told = stream.isatty() or os.environ.get("COLUMNS", "").strip().isdigit()
    return Console(highlight=False, stderr=stderr, file=file, width=None if told else 120)


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
    """A progress display fed by a sweep's events (:func:`lrkit.bench.sweep`'s ``on_event``): a bar, trials
    done of all, the time so far, an ETA once the finished trials say enough, and the last result; a
    failed trial is printed above it. At 80 columns the last result goes on a line of its own (its label
    shortened, never its numbers); on a wide console everything is one line.

    ``slots``: trials that run at once (the ETA waits for the first round of them); ``get_time``: the
    clock (seconds), for tests.
    """

    def __init__(self, console: Console, description: str, slots: int = 1, get_time=None) -> None:
        from ._progress import Display

        self.progress = Display(console, get_time=get_time)
        self.description = description
        self.slots = max(1, int(slots))
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
            note = f"{data['done']} already done" if data["done"] else ""
            self.task = p.add_task(self.description, total=data["total"], completed=data["done"], last=None,
                                   note=note, already=data["done"], slots=self.slots, t0=p.get_time())
        elif kind == "progress" and self.task is not None:
            p.update(self.task, completed=data["done"] + data["failed"])
        elif kind == "finished" and self.task is not None:
            tr, s = data["trial"], data["summary"]
            val = "diverged" if s.get("diverged") else f"val {s['final_val']:.4f}"
            p.update(self.task, last=(tr.label, f" lr={tr.lr:g} seed={tr.seed}: {val} ({s['wall_time']:.0f}s)"))
        elif kind == "failed" and self.task is not None:
            self.failed += 1
            tr = data["trial"]
            p.console.print(f"[red]failed:[/] {escape(tr.label)} lr={tr.lr:g} seed={tr.seed}: "
                            f"{escape((data['error'] or 'failed').splitlines()[0])}")


class Column(NamedTuple):
    """A column of :func:`fitted_table`: ``key`` columns are never dropped and wrap when the console
    is narrow; the others never wrap nor cut (numbers), and ``drop`` orders the ones that give way
    (1 first; 0: never) when even the short headers leave no room."""

    header: str
    justify: str = "left"
    key: bool = False
    drop: int = 0
    short: str | None = None


#: the narrowest a key column (a spec, a method) wraps to before other columns give way, and the
#: narrowest it wraps to when none is left to give way (below 80 columns)
KEY_MIN = 16
KEY_LAST = 8


def fitted_table(console: Console, title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]],
                 hint: str = "") -> Table:
    """A table that fits ``console``: its full headers when there is room (200 columns), short ones at
    80, then without the columns that matter least, named in a caption (with ``hint``, e.g. where
    the whole data is). Key columns wrap; the others (numbers) are never cut. Cells are rich markup."""
    plain = [[Text.from_markup(c).cell_len for c in r] for r in rows]

    def natural(i: int, short: bool) -> int:
        c = columns[i]
        head = c.short if short and c.short else c.header
        return max([len(head)] + [r[i] for r in plain])

    def floor(i: int, short: bool) -> int:
        return min(natural(i, short), KEY_MIN) if columns[i].key else natural(i, short)

    def chrome(n: int) -> int:  # borders and padding: | x | y |
        return 3 * n + 1

    def need(keep: list[int], short: bool, at_least: bool) -> int:
        return sum((floor if at_least else natural)(i, short) for i in keep) + chrome(len(keep))

    width = console.width
    keep = list(range(len(columns)))
    short = need(keep, False, False) > width
    if short:
        for i in sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: columns[i].drop):
            if need(keep, True, True) <= width:
                break
            keep.remove(i)
    widths = {i: natural(i, short) for i in keep}
    keys = [i for i in keep if columns[i].key]
    over = sum(widths.values()) + chrome(len(keep)) - width
    for least in (lambda i: floor(i, short), lambda i: min(widths[i], KEY_LAST)):
        while over > 0 and keys:  # narrow the widest key column, a character at a time, down to its floor
            widest = max(keys, key=lambda i: widths[i] - least(i))
            if widths[widest] <= least(widest):
                break
            widths[widest] -= 1
            over -= 1
    t = Table(title=title, title_justify="left", header_style="bold", caption_justify="left")
    for i in keep:
        c = columns[i]
        t.add_column(c.short if short and c.short else c.header, justify=c.justify,  # type: ignore[arg-type]
                     no_wrap=not c.key, overflow="fold", width=widths[i])
    for r in rows:
        t.add_row(*(wrap_key(Text.from_markup(r[i]), widths[i]) if columns[i].key else r[i] for i in keep))
    dropped = [columns[i].header for i in range(len(columns)) if i not in keep]
    if dropped:
        t.caption = f"not shown at {width} columns: {', '.join(dropped)}" + (f"; {hint}" if hint else "")
    return t


#: where a key cell (a spec, a method, a workload) breaks when its column is too narrow: after a bracket,
#: a comma or a space; failing those, after ``=``, ``:``, ``_`` or ``/``; a token wider than the column folds
_BREAKS = (" (,", "=:_/")


def wrap_key(text: Text, width: int) -> Text:
    """``text`` in lines of at most ``width`` cells, broken between a spec's parameters rather than inside a
    number or a name (``cosine(`` / ``warmup=0.05)``, not ``cosine(warmup=0.`` / ``05)``); styles kept."""
    plain = text.plain
    if len(plain) <= width or width < 1 or "\n" in plain:
        return text
    cuts, start = [], 0
    while len(plain) - start > width:
        end = start + width
        if plain[end] == " ":  # the line ends just before a space: break after it
            cut = end + 1
        else:  # the last break of the better kind that fits the line; failing both, fold
            cut = next((c for chars in _BREAKS
                        for c in [max((j + 1 for j in range(start, end) if plain[j] in chars), default=0)] if c),
                       end)
        cuts.append(cut)
        start = cut
    lines = list(text.divide(cuts))
    for line in lines:
        line.rstrip()
    return Text("\n").join(line for line in lines if line.plain)


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


def summary_panel(s: Summary, style: str = "bold blue", full_spec: str | None = None,
                  max_width: int | None = None) -> Panel:
    """A schedule's numbers in a panel titled by its spec; ``full_spec``: a first row with every parameter
    (wrapped, never cut). A spec too long for a title ``max_width`` wide (the console's) is that row, and
    the title only its family: a title would be cut, inside a number."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", justify="right")
    grid.add_column()
    unit = "" if s.lr is not None else "×"
    fits = max_width is None or len(s.spec) + 8 <= max_width
    if full_spec is None and not fits:
        full_spec = s.spec
    if full_spec is not None:
        grid.add_row("spec", Text(full_spec, style="bold"))
    grid.add_row("peak", Text(f"{fmt(s.peak)}{unit}", style="bold") + Text(f"  at step {s.peak_step:,}", style="dim"))
    grid.add_row("first / final", f"{fmt(s.first)}{unit} / {fmt(s.final)}{unit}")
    grid.add_row("mean", f"{fmt(s.mean)}{unit}" + (f"  ({s.mean / s.peak:.0%} of peak)" if s.peak else ""))
    grid.add_row("area Σ lr", fmt(s.area) + ("" if s.lr is not None else " (multiplier × steps)"))
    grid.add_row("phases", phase_text(s))
    title = Text(s.spec if fits else s.spec.split("(", 1)[0] + "(…)", style=style)
    sub = f"{s.total:,} steps · " + (f"base LR {fmt(s.lr)}" if s.lr is not None else "multiplier of base LR") \
        + f" · convention {s.convention}"
    # wide enough for the title and the subtitle, which rich would otherwise cut to the content's width
    from rich.measure import Measurement

    probe = Console()
    content = Measurement.get(probe, probe.options, grid).maximum
    width = max(content, len(sub) + 4, len(title) + 4) + 4  # borders and padding
    width = width if max_width is None else min(width, max_width)
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
        console.print(summary_panel(s, SERIES[i % len(SERIES)][1], full_spec=full_specs[i] if full_specs else None,
                                    max_width=console.width))
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
