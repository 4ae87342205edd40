"""``lrkit find-lr``: the LR range test on a benchmark workload (see :mod:`lrkit.integrations.lr_range`)."""

from __future__ import annotations

import itertools
import json
import math

import click

from ..integrations.lr_range import METHODS
from .figure_options import figure_options, plot_figure
from .params import STEPS


def register(group: click.Group) -> None:
    group.add_command(find_lr_command)


@click.command("find-lr")
@click.option("--workload", "-w", required=True, metavar="NAME",
              help="A workload: digits-mlp, mnist1d, charlm, or module:function.")
@click.option("--option", "wl_options", multiple=True, metavar="KEY=VALUE", help="A workload option, e.g. d_model=128.")
@click.option("--steps", "-n", type=STEPS, default=100, show_default=True, help="Steps of the sweep.")
@click.option("--start-lr", type=float, default=1e-7, show_default=True, help="LR of the first step.")
@click.option("--end-lr", type=float, default=10.0, show_default=True, help="LR of the last step.")
@click.option("--mode", type=click.Choice(["exp", "linear"]), default="exp", show_default=True, help="The LR ramp.")
@click.option("--suggestion", type=click.Choice(METHODS), default="valley", show_default=True,
              help="valley, steep, minimum (a tenth of the LR at the lowest loss): fastai's; steepest: Lightning's.")
@click.option("--smooth", type=float, default=0.98, show_default=True, help="EMA weight of the loss (0: none).")
@click.option("--diverge", type=float, default=4.0, show_default=True,
              help="Stop when the smoothed loss exceeds this many times the best (0: never).")
@click.option("--optimizer", type=click.Choice(["adamw", "sgd"]), default="adamw", show_default=True,
              help="As lrkit bench builds it (betas and weight decay from the workload).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the model and its batches.")
@click.option("--threads", type=int, default=None, help="Torch threads (default: torch's).")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, writable=True), default=None, metavar="FILE",
              help="Write the loss-against-LR figure (png, svg, pdf).")
@figure_options
def find_lr_command(workload, wl_options, steps, start_lr, end_lr, mode, suggestion, smooth, diverge, optimizer,
                    seed, threads, fmt, plot_path, dpi, size):
    """Sweep the LR up over a few steps of a workload and suggest a peak LR to plan the schedule for.

    \b
    Examples:
      lrkit find-lr --workload digits-mlp
      lrkit find-lr -w charlm --option d_model=64 --steps 200 --format json --plot lr.png
    """
    from ..bench.workloads import get_workload
    from ..integrations.lr_range import find_lr
    from .bench import workload_options

    if threads is not None and threads < 1:
        raise click.BadParameter("must be >= 1", param_hint="--threads")
    figure = plot_figure(plot_path, dpi, size)  # a bad suffix or size refused before the sweep
    opts = workload_options(None, wl_options)
    wl = get_workload(workload)
    wl.check_options(opts)
    set_threads, make_optimizer = _bench_helpers()
    set_threads(threads)
    task = wl.task(seed=seed, steps=steps, **opts)
    params = [p for p in task.model.parameters() if p.requires_grad]
    if not params:
        raise click.ClickException(f"workload {workload}: the model has no trainable parameters")
    opt = make_optimizer(optimizer, params, start_lr, task.weight_decay, tuple(task.betas))
    counter = itertools.count()
    result = find_lr(task.model, opt, lambda: task.loss(task.model, task.batch(next(counter))), start_lr=start_lr,
                     end_lr=end_lr, steps=steps, mode=mode, smooth=smooth, diverge=diverge or None,
                     suggestion=suggestion, clip=task.clip)
    if plot_path:
        from ..report.range_test import save_lr_range

        save_lr_range(result, plot_path, **figure)
    if fmt == "json":
        out = {"workload": workload, "optimizer": optimizer, **result.to_dict()}
        click.echo(json.dumps(out, allow_nan=False))
    else:
        _table(result, workload, optimizer)
    if result.suggestion is None:
        from . import error

        error(f"no suggestion: {result.note}; sweep more steps or a wider LR range", code=1)


def _bench_helpers():
    """The bench's own thread setting and optimizer factory (bench/loop.py after the redesign)."""
    try:
        from ..bench.loop import make_optimizer, set_threads  # type: ignore[import-not-found]
    except ImportError:
        from ..bench.train import make_optimizer, set_threads
    return set_threads, make_optimizer


def _table(result, workload: str, optimizer: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"LR range test · {workload} · {optimizer}", title_justify="left", header_style="bold")
    table.add_column("method")
    table.add_column("suggested LR", justify="right")
    table.add_column("as", style="dim")
    how = {"valley": "fastai (default)", "steep": "fastai", "minimum": "fastai: a tenth of the lowest loss's LR",
           "steepest": "Lightning"}
    for m, lr in result.suggestions().items():
        text = "-" if lr is None or not math.isfinite(lr) else f"{lr:.3g}"
        table.add_row(f"[bold]{m}[/bold] ←" if m == result.method else m, text, how[m])
    console = Console(highlight=False)
    console.print(table)
    console.print(result.summary().split("\n")[0], style="dim")
