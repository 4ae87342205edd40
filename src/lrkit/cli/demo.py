"""``lrkit demo``: the main job on the embedded default (:mod:`lrkit.demo`).

Two pilot runs of the ``charlm`` workload (a constant run and its cooldown branch), a fitted
loss-curve law, the cooldown planned for the same budget, the planned and the standard schedules run
with several seeds, and a report that says whether the predictions and the plan held.
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
    """Plan a WSD cooldown from two pilot runs, run it against cosine, WSD and linear, and report.

    The WSD workflow: a constant-LR run and its short cooldown branch as pilots, the multi-power law
    fitted to them, the cooldown planned for the same budget, then the planned schedule, cosine, WSD and
    linear trained with 3 seeds each and compared with their predictions. Runs on a small transformer
    language model trained on the Python standard library's own source (no download). Takes about 3.5
    minutes on an idle 2-core CPU (--quick: seconds). A second run with the same --out reuses the finished
    trials.
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
    _summary(console, res, escape)


def _summary(console, res, escape) -> None:
    """The table of final losses (mean ± sd over the seeds, each seed), the conclusion, the timings; no
    machine paths beyond the folder the user named."""
    from . import terminal

    st = res.story
    rows = []
    for r in st.rows:
        ran = math.isfinite(r.mean)
        sd = f" ± {r.sd:.4f}" if math.isfinite(r.sd) else ""
        err = f"{r.error * 100:+.2f}%" if ran else "–"
        rows.append([("[bold]planned[/]: " if r.planned else "") + escape(r.label), f"{r.predicted:.4f}",
                     f"{r.lower:.4f}–{r.upper:.4f}", f"{r.mean:.4f}{sd}" if ran else "–",
                     " ".join(f"{v:.4f}" for v in r.finals), err if ran and abs(r.error) <= st.tolerance else f"[bold red]{err}[/]"])
    columns = [terminal.Column("schedule", key=True), terminal.Column("predicted", "right"),
               terminal.Column("band", "right", drop=2), terminal.Column("realised", "right", short="mean ± sd"),
               terminal.Column("each seed", "right", drop=1, short="seeds"), terminal.Column("error", "right")]
    seeds = max(len(r.seeds) for r in st.rows)
    console.print(terminal.fitted_table(console, f"charlm, {res.budget:,} steps: predicted vs realised final validation "
                                        f"loss ({seeds} seeds)", columns, rows, hint="the report has it"))
    console.print(f"planned schedule: {escape(res.planned)}", soft_wrap=True)
    console.print(f"[bold]{escape(st.sentence())}[/]")
    phases = ", ".join(f"{k} {v:.0f} s" for k, v in res.phases.items())
    console.print(f"[dim]{res.seconds:.0f} s wall, {res.cpu_seconds:.0f} s CPU ({phases}); trials in "
                  f"{escape(str(res.db))}[/]")
    console.print(f"report: {escape(str(res.report))}")
