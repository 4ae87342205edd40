"""The rich display behind :class:`lrkit.cli.terminal.Progress`: one line on a wide console, two at 80
columns, and an ETA from the trials this sweep finished (none until the first round of them is done)."""

from __future__ import annotations

from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

#: the bar's width when the line has room for everything
BAR = 40
#: the shortest label of the last result before it moves to a line of its own
MIN_LABEL = 24


def clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class Eta(ProgressColumn):
    """``ETA h:mm:ss`` from the pace of the trials finished in this sweep (trials already done before it
    took no time); ``ETA -:--:--`` until as many have finished as run at once (the first round)."""

    def render(self, task: Task) -> Text:
        f = task.fields
        ran = task.completed - f.get("already", 0)
        left = (task.total or 0) - task.completed
        to_run = (task.total or 0) - f.get("already", 0)
        if left <= 0:
            return Text("ETA 0:00:00", style="progress.remaining")
        if ran < 1 or ran < min(f.get("slots", 1), to_run) or "t0" not in f:
            return Text("ETA -:--:--", style="progress.remaining")
        spent = max(0.0, task.get_time() - f["t0"])
        return Text(f"ETA {clock(spent / ran * left)}", style="progress.remaining")


class Display(RichProgress):
    """Columns: description, bar, ``done/total trials``, elapsed, ETA; then the last result, inline when
    it fits with a readable label, else below (its label shortened to the line, its numbers whole)."""

    def __init__(self, console: Console, get_time=None) -> None:
        self._wide = self._columns(BAR)
        self._narrow = self._columns(None)
        self._out = console  # (rich asks for the renderables before its ``live`` exists)
        super().__init__(*self._wide, console=console, transient=False, get_time=get_time)

    @staticmethod
    def _columns(bar_width):
        return (TextColumn("[bold]{task.description}"), BarColumn(bar_width=bar_width), MofNCompleteColumn(),
                TextColumn("trials"), TimeElapsedColumn(), Eta())

    def get_renderables(self):
        console = self._out
        width = console.width
        self.columns, self.expand = self._wide, False
        table = self.make_tasks_table(self.tasks)
        used = Measurement.get(console, console.options, table).maximum
        lasts = [(t.fields.get("last"), t.fields.get("note", "")) for t in self.tasks if t.visible]
        room = width - used - 2
        if all(_fits(last, note, room) for last, note in lasts):
            grid = Table.grid(padding=(0, 2))
            grid.add_column(no_wrap=True)
            grid.add_column(no_wrap=True)
            for row, (last, note) in zip(self._rows(table), lasts):
                grid.add_row(row, _last_text(last, note, room))
            yield grid
            return
        self.columns, self.expand = self._narrow, True  # the bar takes what the numbers leave
        yield self.make_tasks_table(self.tasks)
        for last, note in lasts:
            if last or note:
                yield _last_text(last, note, width - 2, indent=2)

    def _rows(self, table: Table):
        """The table itself for a single task (the usual case); one table per task otherwise."""
        if len(self.tasks) == 1:
            return [table]
        return [self.make_tasks_table([t]) for t in self.tasks if t.visible]


def _fits(last, note: str, room: int) -> bool:
    if last is None:
        return len(note) <= room
    label, rest = last
    return room >= len(rest) + min(len(label), MIN_LABEL)


def _last_text(last, note: str, room: int, indent: int = 0) -> Text:
    """The last result in ``room`` characters: the label shortened with ``…``, the numbers whole."""
    out = Text(" " * indent, style="dim")
    if last is None:
        out.append(note[:max(0, room)], style="dim")
        return out
    label, rest = last
    space = max(1, room - len(rest))
    out.append(label if len(label) <= space else label[:max(0, space - 1)] + "…", style="dim")
    out.append(rest, style="dim")
    return out
