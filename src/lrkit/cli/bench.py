"""``lrkit bench``, ``lrkit runs``, ``lrkit export``, ``lrkit report``: compare schedules honestly.

Thin: parse arguments, call :mod:`lrkit.bench` and :mod:`lrkit.report.html`, print with rich.
"""

from __future__ import annotations

import ast
import csv
import io
import json
import math
import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from .params import STEPS

DEFAULT_DB = "lrkit-bench.db"


def register(group: click.Group) -> None:
    for cmd in (bench, runs, export, report):
        group.add_command(cmd)


def _console(stderr: bool = False):
    from .terminal import console

    return console(stderr)


@contextmanager
def _store(path: str, readonly: bool = False) -> Iterator[Any]:
    """The store at ``path`` (``readonly``: an existing one, opened without writing); an SQLite error
    on the way (a locked or damaged file, a full disk) ends as one line naming the database."""
    import sqlite3

    from ..bench.store import Store

    if readonly and not Path(path).is_file():
        raise click.BadParameter(f"{path}: no such database", param_hint="--db")
    store = Store(path, readonly=readonly)
    try:
        with store:
            yield store
    except sqlite3.Error as e:
        raise click.ClickException(f"{path}: {e}") from None


def workload_options(corpus: str | None, items: tuple[str, ...]) -> dict[str, Any]:
    """The workload options given as ``--option KEY=VALUE`` (Python literals, else text), and ``--corpus``."""
    out: dict[str, Any] = {}
    for it in items:
        key, sep, val = it.partition("=")
        if not sep or not key.strip().isidentifier():
            raise click.BadParameter(f"{it!r} should look like KEY=VALUE, e.g. d_model=128", param_hint="--option")
        try:
            value = ast.literal_eval(val.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            value = val.strip()
        if isinstance(value, tuple):
            value = list(value)
        try:  # options are stored as JSON, part of the trial's key
            json.dumps(value)
        except (TypeError, ValueError):
            raise click.BadParameter(f"{it!r}: the value must be a number, a string, True/False/None, or a list or "
                                     f"dict of those (got {type(value).__name__})", param_hint="--option") from None
        out[key.strip()] = value
    if corpus:
        p = Path(corpus).expanduser().resolve()
        if not p.exists():
            raise click.BadParameter(f"{corpus}: no such file or folder", param_hint="--corpus")
        out["corpus"] = str(p)
    return out


def reference_label(text: str) -> str:
    """A method as named in tables, from ``--reference``: a spec, optionally with ``[sgd]``/``[sfadamw]``
    after it as the tables show it, or the exact label of a schedule-free method."""
    from ..bench.trial import canonical_spec

    if text.strip().startswith("schedule-free AdamW"):
        return text.strip()
    m = re.fullmatch(r"(.*?)\s*\[\s*(\w+)\s*\]\s*", text)
    if m:
        return f"{canonical_spec(m.group(1))} [{m.group(2)}]"
    return canonical_spec(text)


def _target_text(scores, w: str) -> str:
    """The target of problem ``w`` in words: none when every run of the reference diverged, and its
    diverged runs named when some were left out."""
    from rich.markup import escape

    t, ref = scores.targets[w], escape(scores.reference[w])
    diverged = getattr(scores, "reference_diverged", {}).get(w, 0)
    if math.isfinite(t):
        left_out = f"; its {diverged} diverged run{'s' * (diverged > 1)} left out" if diverged else ""
        return f"target val loss {t:.4g} (from {ref}{left_out})"
    if diverged:
        return f"no target: every run of {ref} diverged (give --reference METHOD, or a lower --lr)"
    return f"no target: no run of {ref} reached a finite validation loss"


def _fmt(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "never"
    return f"{x:.{digits}g}" if isinstance(x, float) else str(x)


def print_scores(console, scores, title_prefix: str = "") -> None:
    """One rich table per workload, and the benchmark score when there are several methods."""
    from rich.markup import escape as esc

    from .terminal import Column, fitted_table

    for w, ms in scores.methods.items():
        console.print(scores_table(console, f"{title_prefix}{esc(w)}: {_target_text(scores, w)}", ms))
    if len(scores.methods) > 1 and len(scores.labels) > 1:
        rows = [[esc(lab), f"{scores.score[lab]:.3f}", f"{scores.score_time[lab]:.3f}"]
                for lab in sorted(scores.score, key=lambda s: -scores.score[s])]
        console.print(fitted_table(console, "AlgoPerf benchmark score (steps to target, r_max = 4; 1 = fastest "
                                            "everywhere)",
                                   [Column("method", key=True), Column("score", "right"),
                                    Column("score by time", "right", short="by time")], rows))


#: the scores table: (header, justify, key, drop order, short header)
SCORE_TABLE = (("method", "left", True, 0, None), ("peak LR", "right", False, 0, "LR"),
               ("seeds", "right", False, 0, None), ("final val", "right", False, 0, "final"),
               ("seed range", "right", False, 1, "range"), ("best val", "right", False, 2, "best"),
               ("steps to target", "right", False, 0, "steps"), ("time to target", "right", False, 3, "time"),
               ("× best", "right", False, 0, None))


def scores_table(console, title: str, ms):
    """One problem's methods as a table that fits the console (the method wraps, numbers are whole;
    at 80 columns short headers, then the seed range, best val and time give way)."""
    from rich.markup import escape as esc

    from .terminal import Column, fitted_table

    rows = []
    for m in ms:
        lo, hi = m.final_val_spread
        spread = f"{_fmt(lo)}–{_fmt(hi)}" if m.seeds > 1 and math.isfinite(lo) else ""  # 4 digits, as final val
        final = "[red]diverged[/]" if m.diverged == m.seeds else _fmt(m.final_val) + \
            (f" [red]({m.diverged} diverged)[/]" if m.diverged else "")
        rows.append([esc(m.label), f"{m.lr:g}", str(m.seeds), final, spread, _fmt(m.best_val),
                     _fmt(m.steps_to_target, 6) + (f" ({m.reached}/{m.seeds})" if m.reached < m.seeds else ""),
                     (_fmt(m.time_to_target, 3) + " s") if math.isfinite(m.time_to_target) else "never",
                     _fmt(m.ratio, 3)])
    keep = [i for i in range(len(SCORE_TABLE)) if i != 4 or any(r[4] for r in rows)]
    return fitted_table(console, title, [Column(*SCORE_TABLE[i]) for i in keep], [[r[i] for i in keep] for r in rows],
                        hint="lrkit report has them all")


@click.command()
@click.option("--workload", "-w", "workloads", multiple=True, required=True, metavar="NAME",
              help="digits-mlp, mnist1d, charlm, or module:function, which imports and runs that module's code "
                   "(repeat for several).")
@click.option("--schedule", "-s", "schedules", multiple=True, required=True, metavar="SPEC",
              help="A schedule spec (repeat for several). The first is the reference for the target, unless "
                   "--db holds earlier trials of the problem: then the first of the first sweep.")
@click.option("--steps", "-n", type=STEPS, required=True, help="Training steps of every trial, e.g. 500, 1e4 or 10k.")
@click.option("--seeds", type=int, default=1, show_default=True, help="Seeds 0..K-1 per configuration.")
@click.option("--lr", "lrs", type=float, multiple=True, metavar="LR",
              help="Peak LR (repeat for an LR sweep). Default: the workload's own.")
@click.option("--optimizer", "optimizers", multiple=True, type=click.Choice(["adamw", "sgd", "sfadamw"]),
              help="adamw (default), sgd, or sfadamw (Schedule-Free AdamW; pair it with constant(warmup=...)).")
@click.option("--db", default=DEFAULT_DB, show_default=True, help="SQLite database of trials (created if needed).")
@click.option("--workers", type=int, default=None, help="Parallel trials (default: one per CPU; 0: in this process).")
@click.option("--threads", type=int, default=None, help="Torch threads per trial (default: CPUs / workers).")
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local process pool, or a Ray cluster.")
@click.option("--address", default=None, help="Ray cluster address (e.g. ray://head:10001 or auto); default: start a local Ray.")
@click.option("--log-every", type=STEPS, default=0, help="Log every K steps (default: steps/50).")
@click.option("--corpus", default=None, metavar="PATH", help="charlm: a text file or folder instead of the stdlib's source.")
@click.option("--option", "wl_options", multiple=True, metavar="KEY=VALUE", help="A workload option, e.g. d_model=128.")
@click.option("--reference", default=None, metavar="SPEC", help="Method whose median best val loss is the target.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display.")
def bench(workloads, schedules, steps, seeds, lrs, optimizers, db, workers, threads, backend, address, log_every,
          corpus, wl_options, reference, quiet):
    """Run every schedule x LR x seed on the workloads, store each trial, print the scores.

    A sweep killed at any moment and started again keeps the finished trials, reruns the unfinished
    and duplicates none; two sweeps may share one database.

    \b
    Examples:
      lrkit bench -w digits-mlp -s 'cosine(warmup=0.05)' -s 'wsd(warmup=0.05, decay=0.2)' -n 500 --seeds 3
      lrkit bench -w charlm -s 'cosine(warmup=0.05)' --lr 1e-3 --lr 3e-3 --lr 1e-2 -n 1000 --db lm.db
      lrkit bench -w mnist1d -s 'constant(warmup=0.05)' --optimizer sfadamw -n 1000
    """
    from ..bench import expand, make_executor, sweep
    from ..bench.scoring import score_trials
    from .terminal import Progress

    if workers is not None and workers < 0:
        raise click.BadParameter("must be >= 0", param_hint="--workers")
    if workers == 0 and backend == "ray":
        raise click.BadParameter("0 (run in this process) does not go with --backend ray; give the CPUs Ray may "
                                 "use, or leave it out", param_hint="--workers")
    if threads is not None and threads < 1:
        raise click.BadParameter("must be >= 1", param_hint="--threads")
    if log_every < 0:
        raise click.BadParameter("must be >= 0", param_hint="--log-every")
    opts = workload_options(corpus, wl_options)
    trials = expand(list(workloads), list(schedules), list(lrs) or None, seeds, steps, list(optimizers) or ["adamw"],
                    log_every, opts)
    if workers is None:
        from ..bench.runner import available_cpus

        workers = min(available_cpus(), len(trials))
    ref = reference_label(reference) if reference else None
    labels = list(dict.fromkeys(t.label for t in trials))
    if ref is not None and ref not in labels:  # it may be a method an earlier sweep ran on these problems
        earlier: list[str] = []
        if Path(db).is_file():
            with _store(db, readonly=True) as store:
                earlier = list(dict.fromkeys(r["label"] for r in problem_rows(store, trials)))
        if ref not in earlier:
            raise click.BadParameter(f"{reference!r} is none of the methods of this sweep: {', '.join(labels)}"
                                     + (f"; nor of the earlier trials in {db} on its workloads: {', '.join(earlier)}"
                                        if earlier else ""), param_hint="--reference")
    console = _console()
    err = _console(stderr=True)
    with _store(db) as store:
        executor = make_executor(backend, workers, threads, address)
        what = f"{backend} x{getattr(executor, 'slots', 1)}"
        try:
            if quiet:
                rep = sweep(store, trials, executor)
            else:
                with Progress(err, f"bench ({what})", slots=getattr(executor, "slots", 1)) as prog:
                    rep = sweep(store, trials, executor, on_event=prog)
        finally:
            executor.close()
        rows = problem_rows(store, trials)  # with the trials earlier sweeps ran on the same problems
        scores = score_trials(rows, store.histories([r["id"] for r in rows]), ref) if rows else None
        earlier = len({r["id"] for r in rows} - set(rep.ids))
    if scores is not None:
        print_scores(console, scores)
        if earlier:
            console.print(f"[dim]the scores include {earlier} trial{'s' * (earlier > 1)} of earlier sweeps on the same "
                          f"workload and budget in {db}[/]")
    console.print(f"[dim]{rep.ran} trials run, {rep.already_done} already done"
                  + (f", {rep.by_others} by another sweep" if rep.by_others else "")
                  + (f", [red]{rep.failed} failed[/]" if rep.failed else "") + f" in {rep.seconds:.0f} s; database {db}[/]")
    from rich.markup import escape

    for e in rep.errors[:5]:
        err.print(f"[red]{escape(e)}[/]")
    if rep.failed:
        sys.exit(1)


def problem_rows(store, trials) -> list[dict]:
    """The done trials in ``store`` of the problems ``trials`` belong to (workload, budget, options), this
    sweep's and earlier ones', so that a baseline run later in the same database is scored with them."""
    problems = {(t.workload, int(t.steps), t.options_json) for t in trials}
    rows = []
    for w in sorted({p[0] for p in problems}):
        rows += [r for r in store.trials(status="done", workload=w)
                 if (r["workload"], int(r["steps"]), r["options"] or "{}") in problems]
    return sorted(rows, key=lambda r: r["id"])


RUN_COLUMNS = ("id", "workload", "schedule", "lr", "optimizer", "seed", "steps", "status", "final_val_loss",
               "best_val_loss", "diverged", "train_seconds", "key")


@click.command()
@click.option("--db", default=DEFAULT_DB, show_default=True, help="SQLite database of trials.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
@click.option("--workload", "-w", default=None, help="Only this workload.")
@click.option("--status", type=click.Choice(["pending", "running", "done", "failed"]), default=None, help="Only this status.")
def runs(db, fmt, workload, status):
    """List the trials of a database, one row per trial.

    csv columns: id, workload, schedule, lr, optimizer, seed, steps, status, final_val_loss,
    best_val_loss, diverged, train_seconds, key.
    """
    with _store(db, readonly=True) as store:
        rows = store.trials(status=status, workload=workload)
        if workload is not None and not rows:
            known = [r[0] for r in store.conn.execute("SELECT DISTINCT workload FROM trials ORDER BY workload")]
            if workload not in known:
                raise click.BadParameter(f"no trials of workload {workload!r} in {db}; its workloads: "
                                         f"{', '.join(map(str, known)) or 'none'}", param_hint="--workload")
    values = [[r["id"], r["workload"], r["schedule"], repr(r["lr"]), r["optimizer"], r["seed"], r["steps"], r["status"],
               "" if r["final_val"] is None else repr(r["final_val"]), "" if r["best_val"] is None else repr(r["best_val"]),
               "" if r["diverged"] is None else int(r["diverged"]),
               "" if r["train_time"] is None else f"{r['train_time']:.3f}", r["key"]] for r in rows]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(RUN_COLUMNS)
        w.writerows(values)
        click.echo(buf.getvalue(), nl=False)
        return
    _console().print(runs_table(_console(), str(db), rows, values))


#: ``lrkit runs``' table: (header, justify, key, drop order, short header); a column with one value in
#: every row goes into the title instead
RUNS_TABLE = (("id", "right", False, 0, None), ("workload", "left", True, 0, None),
              ("schedule", "left", True, 0, None), ("lr", "right", False, 0, None), ("opt", "left", False, 4, None),
              ("seed", "right", False, 0, None), ("steps", "right", False, 3, None),
              ("status", "left", False, 0, None), ("final val", "right", False, 0, "final"),
              ("best val", "right", False, 2, "best"), ("train s", "right", False, 1, "secs"))


def runs_table(console, db: str, rows: list[dict], values: list[list]):
    """The trials as a table that fits the console: a column whose value is the same in every row
    (one workload, optimizer or budget) is said once in the title; at 80 columns the headers are
    shorter, the specs wrap and the least needed columns give way (named below the table)."""
    from rich.markup import escape

    from .terminal import Column, fitted_table

    colour = {"done": "green", "failed": "red", "running": "yellow", "pending": "dim"}
    cells = [[str(r["id"]), escape(r["workload"]), escape(r["schedule"]), f"{r['lr']:g}", r["optimizer"],
              str(r["seed"]), str(r["steps"]), f"[{colour[r['status']]}]{r['status']}[/]",
              "[red]diverged[/]" if r["diverged"] else _fmt(r["final_val"]), _fmt(r["best_val"]), v[11] or "–"]
             for r, v in zip(rows, values)]
    same = {1: "workload", 4: "optimizer", 6: "steps"}
    common = [i for i in same if len(rows) > 1 and len({c[i] for c in cells}) == 1]
    said = [f"{cells[0][i]} steps" if i == 6 else cells[0][i] for i in common]
    keep = [i for i in range(len(RUNS_TABLE)) if i not in common]
    title = f"{escape(db)}: {len(rows)} trials" + "".join(f" · {x}" for x in said)
    columns = [Column(*RUNS_TABLE[i]) for i in keep]
    return fitted_table(console, title, columns, [[c[i] for i in keep] for c in cells],
                        hint="lrkit runs --format csv has every column")


@click.command(context_settings={"ignore_unknown_options": True})  # so that a negative id reads as an id
@click.argument("trial_id", type=int)
@click.option("--db", default=DEFAULT_DB, show_default=True, help="SQLite database of trials.")
@click.option("--out", "-o", default="-", show_default=True, help="Run CSV to write ('-': standard output).")
@click.option("--loss", "loss_from", type=click.Choice(["train", "val"]), default="train", show_default=True,
              help="What goes in the 'loss' column: the training loss, or the validation loss.")
def export(trial_id, db, out, loss_from):
    """Write a trial's history as a run CSV (step,lr,loss,val_loss,grad_norm) that `lrkit fit` reads.

    \b
    Example:
      lrkit export 3 --db bench.db -o run3.csv && lrkit fit run3.csv --law multipower --out fit.json
    """
    with _store(db, readonly=True) as store:
        rows = store.trials(ids=[trial_id]) if -2**63 <= trial_id < 2**63 else []  # SQLite's integers
        if not rows:
            raise click.BadParameter(f"no trial {trial_id} in {db} (see: lrkit runs --db {db})", param_hint="TRIAL_ID")
        if rows[0]["status"] != "done":
            raise click.BadParameter(f"trial {trial_id} is {rows[0]['status']}, not done", param_hint="TRIAL_ID")
        h = store.history(trial_id)
    text = history_csv(h, loss_from)
    if out == "-":
        click.echo(text, nl=False)
    else:
        if Path(out).is_dir():
            raise click.BadParameter(f"{out} is a folder; give a file name, e.g. {Path(out) / f'run{trial_id}.csv'}",
                                     param_hint="--out")
        Path(out).write_text(text)
        _console(stderr=True).print(f"[dim]wrote {out} ({len(h['step'])} rows)[/]")


def history_csv(h: dict, loss_from: str = "train") -> str:
    """A run CSV from a stored history: header ``step,lr,loss,val_loss,grad_norm`` (the one run-CSV writer,
    :func:`lrkit.runs.write_csv`)."""
    from ..runs import write_csv

    buf = io.StringIO()
    loss = h["val_loss"] if loss_from == "val" else h["loss"]
    write_csv(buf, [("step", h["step"]), ("lr", h["lr"]), ("loss", loss), ("val_loss", h["val_loss"]),
                    ("grad_norm", h["grad_norm"])])
    return buf.getvalue()


@click.command()
@click.option("--db", default=DEFAULT_DB, show_default=True, help="SQLite database of trials.")
@click.option("--out", "-o", default="lrkit-report", show_default=True, help="Folder for index.html.")
@click.option("--reference", default=None, metavar="SPEC", help="Method whose median best val loss is the target.")
@click.option("--target", "targets", multiple=True, metavar="WORKLOAD=LOSS", help="A validation target, e.g. charlm=1.9.")
@click.option("--title", default=None, help="Title of the report.")
def report(db, out, reference, targets, title):
    """Write DIR/index.html: a self-contained report of a database (figures embedded).

    Loss curves per schedule with the seed spread, LR curves, steps to target, performance profile,
    LR sensitivity, and the demo's predicted-versus-realised curves when present.
    """
    from ..report.html import write_report

    tg: dict[str, float] = {}
    for it in targets:
        k, sep, v = it.rpartition("=")
        try:
            loss = float(v)
        except ValueError:
            loss = math.nan
        if not sep or not k.strip() or not math.isfinite(loss):
            raise click.BadParameter(f"{it!r} should look like WORKLOAD=LOSS with a finite LOSS, e.g. charlm=1.9",
                                     param_hint="--target")
        tg[k.strip()] = loss
    if Path(out).exists() and not Path(out).is_dir():
        raise click.BadParameter(f"{out} is a file; give a folder for index.html", param_hint="--out")
    with _store(db, readonly=True) as store:
        path = write_report(store, out, reference=reference_label(reference) if reference else None,
                            targets=tg or None, title=title)
    _console().print(f"report: {path}")
