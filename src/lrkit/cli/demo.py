"""``lrkit demo``: the main job, on the embedded default. For now: see the standard schedules side by side."""

from __future__ import annotations

from pathlib import Path

import click

DEMO_SCHEDULES = [
    "cosine(warmup=0.02, floor=0.1)",
    "wsd(warmup=0.02, decay=0.2, form=\"1-sqrt\")",
    "linear(warmup=0.02)",
    "rex(warmup=0.02)",
]


def register(group: click.Group) -> None:
    group.add_command(demo)


@click.command()
@click.option("--out", "-o", type=click.Path(file_okay=False), default="lrkit-demo", show_default=True,
              help="Folder for the figure.")
@click.option("--steps", "-n", type=int, default=10_000, show_default=True, help="Steps of the demo run.")
@click.option("--lr", type=float, default=3e-4, show_default=True, help="Peak LR.")
def demo(out, steps, lr):
    """Show lrkit's standard schedules for one budget, with their summaries, a terminal plot and a figure."""
    from rich.console import Console

    from ..report.plots import plot_schedules
    from ..schedules import validate
    from ..spec import parse
    from ..summary import summarize
    from . import terminal

    steps = validate.total_steps(steps, "--steps")
    console = Console()
    schedules = [parse(s) for s in DEMO_SCHEDULES]
    values = [s.sample(steps) * lr for s in schedules]
    summaries = [summarize(s, steps, lr) for s in schedules]
    terminal.show(console, summaries, values)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "schedules.png"
    plot_schedules(schedules, steps, lr=lr, out=path, title=f"Standard schedules, {steps:,} steps, peak LR {lr:g}")
    console.print(f"[dim]figure:[/dim] {path}")
