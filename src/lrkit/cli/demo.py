"""``lrkit demo``: the main job on the embedded default.

Two pilot runs of the ``charlm`` workload, a fitted loss-curve law, a schedule planned for a budget
four times longer, the planned and the standard schedules run for that budget, and a report that
compares the predicted and the realised curves.
"""

from __future__ import annotations

import math

import click


def register(group: click.Group) -> None:
    group.add_command(demo)


@click.command()
@click.option("--out", "-o", type=click.Path(file_okay=False), default="lrkit-demo", show_default=True,
              help="Folder for the report (index.html) and the trial database (demo.db).")
@click.option("--quick", is_flag=True, help="A tiny model and short runs (seconds): for tests.")
@click.option("--workers", type=int, default=None, help="Parallel trials (default: up to 2).")
def demo(out, quick, workers):
    """Plan a schedule from two pilot runs, run it against cosine, WSD and linear, and report.

    Runs on a small transformer language model trained on the Python standard library's own source
    (no download). Takes about 3 minutes on a 2-core CPU (--quick: seconds). A second run
    with the same --out reuses the finished trials.
    """
    from rich.markup import escape

    from ..demo import run_demo
    from . import terminal

    if workers is not None and workers < 0:
        raise click.BadParameter("must be >= 0", param_hint="--workers")
    console = terminal.console()
    err = terminal.console(stderr=True)
    bars: list = []

    def progress(name: str):
        prog = terminal.Progress(err, name, slots=2 if workers is None else max(1, workers))
        prog.__enter__()
        bars.append(prog)

        def on_event(kind: str, data: dict) -> None:
            prog(kind, data)
            if kind == "progress" and data["done"] + data["failed"] >= data["total"]:
                prog.__exit__(None, None, None)
        return on_event

    def say(msg: str) -> None:
        console.print(f"[bold cyan]›[/] {escape(msg)}")

    try:
        res = run_demo(out, quick=quick, workers=workers, say=say, progress=progress)
    finally:
        for b in bars:
            if b.started:
                b.__exit__(None, None, None)
    rows = []
    for r in res.rows:
        err_pct = (r["predicted"] - r["realised"]) / r["realised"] * 100 if math.isfinite(r["realised"]) else math.nan
        stt = f"{int(r['steps_to_target']):,}" if math.isfinite(r["steps_to_target"]) else "never"
        rows.append(["[bold]planned[/] (see the report)" if r["planned"] else escape(r["schedule"]),
                     f"{r['predicted']:.4f}", f"{r['lower']:.4f}–{r['upper']:.4f}", f"{r['realised']:.4f}",
                     f"{err_pct:+.2f}%", stt])
    columns = [terminal.Column("schedule", key=True), terminal.Column("predicted", "right"),
               terminal.Column("band", "right", drop=1), terminal.Column("realised", "right"),
               terminal.Column("error", "right"), terminal.Column("steps to target", "right", short="to target")]
    t = terminal.fitted_table(console, f"charlm, {res.budget:,} steps: predicted vs realised final validation loss",
                              columns, rows, hint="the report has it")
    console.print(t)
    console.print(f"planned schedule: {escape(res.planned)}", soft_wrap=True)
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in res.phases.items())
    console.print(f"[dim]{res.seconds:.0f} s ({phases}); trials in {res.db}[/]")
    console.print(f"report: {res.report}")

