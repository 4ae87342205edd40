"""Figures of docs/adaptive.md (docs/figures/adaptive_*.png), each from a real run of the code it shows.

    .venv/bin/python docs/make_adaptive_figures.py        # about a minute on 2 cores
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = Path(__file__).resolve().parent
OUT = HERE / "figures"


def _ax(ax):
    from lrkit.report import style

    style.apply(ax)
    return ax


def refine_figure() -> None:
    """A pilot on mnist1d under linear decay, its gradient l1 norms, and the refined schedule."""
    import torch

    from lrkit.adaptive.refine import GradNormLogger, refine
    from lrkit.bench.workloads import get_workload
    from lrkit.report.plots import plot_refined
    from lrkit.torch import Scheduler

    torch.set_num_threads(1)
    steps = 1500
    task = get_workload("mnist1d").task(seed=0, steps=steps)
    opt = torch.optim.AdamW(task.model.parameters(), lr=3e-3, betas=task.betas, weight_decay=task.weight_decay)
    sched = Scheduler(opt, "linear(warmup=0.05)", total_steps=steps)
    log = GradNormLogger(opt)
    for t in range(steps):
        loss = task.loss(task.model, task.batch(t))
        opt.zero_grad()
        loss.backward()
        log.loss(loss)
        opt.step()
        sched.step()
    norms = log.norms("l1")
    res = refine(norms, steps, "adam", warmup=0.05)
    plot_refined(res.smoothed, res.schedule.sample(res.steps), OUT / "adaptive_refine_mnist1d.png",
                 raw=(log.steps, norms), norm="l1",
                 title="Refinement from a linear-decay pilot on mnist1d (AdamW, l1 norms)")
    # the paper's two facts on synthetic norms
    from lrkit.report import style

    style.use_agg()
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110, layout="constrained")
    n = 1000
    t = np.arange(n)
    cases = {"constant": np.ones(n), "growing over the last 20%": 1 + 3 * np.clip((t / n - 0.8) / 0.2, 0, None),
             "large at the start": 1 + 4 * np.exp(-t / 60)}
    for i, (name, g) in enumerate(cases.items()):
        c = style.PALETTE[i]
        _ax(a).plot(t, g, color=c, linewidth=2, label=name)
        _ax(b).plot(t, refine(g, n).values, color=c, linewidth=2, label=name)
    a.set_xlabel("step")
    a.set_ylabel("gradient norm (l2)")
    a.legend(frameon=False, fontsize=8.5)
    b.set_xlabel("step")
    b.set_ylabel("refined LR multiplier (SGD)")
    b.set_title("constant norms: exactly linear decay", loc="left", fontsize=10)
    fig.savefig(OUT / "adaptive_refine_facts.png", bbox_inches="tight")
    plt.close(fig)


def plateau_figure() -> None:
    """warmup -> plateau (driven by digits' validation loss) -> cooldown, and the product form."""
    import torch

    import lrkit.adaptive  # noqa: F401 - registers the plateau family

    from lrkit.bench.workloads import get_workload
    from lrkit.report import style
    from lrkit.torch import Scheduler

    style.use_agg()
    import matplotlib.pyplot as plt

    torch.set_num_threads(1)
    steps = 1200
    specs = {"sequence(warmup, plateau, linear cooldown)":
             "sequence(constant(warmup=1.0), plateau(factor=0.5, patience=2), linear(), boundaries=[60, 1000])",
             "product(plateau, wsd): the cooldown starts from the reduced LR":
             "product(plateau(factor=0.5, patience=2), wsd(warmup=60, decay=200))"}
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110, layout="constrained")
    for i, (label, spec) in enumerate(specs.items()):
        task = get_workload("digits-mlp").task(seed=0, steps=steps)
        opt = torch.optim.AdamW(task.model.parameters(), lr=3e-3)
        sched = Scheduler(opt, spec, total_steps=steps)
        lrs, vals, vsteps = [], [], []
        for t in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            loss = task.loss(task.model, task.batch(t))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if (t + 1) % 20 == 0:
                task.model.eval()
                with torch.no_grad():
                    v = task.val_loss(task.model)
                task.model.train()
                vals.append(v)
                vsteps.append(t)
                sched.step(metrics=v)
        c = style.PALETTE[i]
        _ax(a).plot(lrs, color=c, linewidth=2, label=label)
        _ax(b).plot(vsteps, vals, color=c, linewidth=1.5, label=label)
    a.set_xlabel("step")
    a.set_ylabel("learning rate")
    a.legend(frameon=False, fontsize=8)
    b.set_xlabel("step")
    b.set_ylabel("validation loss (digits-mlp)")
    b.set_yscale("log")
    fig.savefig(OUT / "adaptive_plateau.png", bbox_inches="tight")
    plt.close(fig)


def autolrs_figure() -> None:
    import torch

    from lrkit.adaptive.autolrs import AutoLRS
    from lrkit.bench.workloads import get_workload
    from lrkit.report import style

    style.use_agg()
    import matplotlib.pyplot as plt

    torch.set_num_threads(1)
    steps = 1500
    task = get_workload("mnist1d").task(seed=0, steps=steps)
    opt = torch.optim.AdamW(task.model.parameters(), lr=1e-3, betas=task.betas, weight_decay=task.weight_decay)
    ctl = AutoLRS(task.model, opt, min_lr=1e-4, max_lr=3e-2, tau=150, tau_probe=15, k=10, tau_max=steps,
                  total_steps=steps)
    lrs, phases = [], []
    for t in range(steps):
        lrs.append(ctl.lr)
        phases.append(ctl.phase)
        loss = task.loss(task.model, task.batch(t))
        opt.zero_grad()
        loss.backward()
        opt.step()
        ctl.step(loss.item())
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=110, layout="constrained")
    _ax(ax)
    x = np.arange(steps)
    probe = np.array([p == "probe" for p in phases])
    ax.scatter(x[probe], np.array(lrs)[probe], s=2, color="#bbbbbb", label="probe steps (rolled back)")
    ax.plot(x[~probe], np.where(~probe, lrs, np.nan)[~probe], ".", markersize=2, color=style.PALETTE[1],
            label="kept training at the chosen LR")
    for d in ctl.decisions:
        ax.axvline(d["step"], color="#dddddd", linewidth=0.8, zorder=0)
    ax.set_yscale("log")
    ax.set_xlabel("step (probes included)")
    ax.set_ylabel("learning rate")
    ax.set_title("AutoLRS on mnist1d: k=10 probes per stage, stages doubling", loc="left", fontsize=11,
                 fontweight="bold")
    ax.legend(frameon=False, fontsize=8.5, markerscale=4)
    fig.savefig(OUT / "adaptive_autolrs.png", bbox_inches="tight")
    plt.close(fig)


def hypergradient_figure() -> None:
    import torch

    from lrkit.adaptive.hypergradient import HypergradientLR
    from lrkit.report import style

    style.use_agg()
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110, layout="constrained")
    lam = 4.0
    for i, lr0 in enumerate([0.01, 0.1, 0.4]):
        theta = torch.nn.Parameter(torch.ones(10, dtype=torch.float64))
        opt = torch.optim.SGD([theta], lr=lr0)
        ctl = HypergradientLR(opt, beta=1e-3)
        for _ in range(15):
            opt.zero_grad()
            (0.5 * lam * (theta ** 2).sum()).backward()
            opt.step()
        _ax(a).plot([h[0] for h in ctl.history], marker="o", markersize=3, color=style.PALETTE[i],
                    label=f"α0 = {lr0}")
    a.axhline(1 / lam, color="#888888", linestyle="--", linewidth=1, label="best LR 1/λ")
    a.set_xlabel("step")
    a.set_ylabel("SGD-HD learning rate α")
    a.set_title("hypergradient descent on a quadratic", loc="left", fontsize=10)
    a.legend(frameon=False, fontsize=8.5)
    sys.path.insert(0, str(HERE.parent / "tests" / "adaptive"))
    from test_adaptive_hypergradient import _federated

    for i, v in enumerate(["fedavg", "g", "gm"]):
        curve, _ = _federated(v, rounds=150, local_lr=0.003)
        _ax(b).semilogy(curve / curve[0], color=style.PALETTE[i], linewidth=2,
                        label={"fedavg": "FedAvg", "g": "FedHyper-G", "gm": "FedHyper-GM"}[v])
    b.set_xlabel("round")
    b.set_ylabel("global loss / initial")
    b.set_title("FedHyper's global LR, 8 clients, local LR too small", loc="left", fontsize=10)
    b.legend(frameon=False, fontsize=8.5)
    fig.savefig(OUT / "adaptive_hypergradient.png", bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    which = sys.argv[1:] or ["refine", "plateau", "autolrs", "hypergradient"]
    for name in which:
        globals()[f"{name}_figure"]()
        print(f"wrote the {name} figure(s)")
