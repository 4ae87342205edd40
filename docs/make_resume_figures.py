"""Figures of docs/resume.md, made by driving real optimizers with lrkit.torch.Scheduler.

usage: python docs/make_resume_figures.py   (writes docs/figures/resume_*.png)
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from lrkit.report import style  # noqa: E402
from lrkit.torch import Scheduler  # noqa: E402

OUT = Path(__file__).parent / "figures"
LR = 3e-4


def optimizer():
    return torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=LR)


def train(opt, sched, steps):
    """The LR of each of ``steps`` optimizer steps (the value used by the step, then step the schedule)."""
    out = []
    for _ in range(steps):
        out.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    return out


def replanning(ax):
    spec, planned, longer, at = "cosine(warmup=50, floor=0.1)", 1000, 1600, 400
    opt = optimizer()
    sched = Scheduler(opt, spec, planned)
    first = train(opt, sched, at)
    ckpt = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
    rest = train(opt, sched, planned - at)
    ax.plot(range(planned), first + rest, color="#000000", linewidth=2.4, label=f"planned: {planned} steps", zorder=3)
    for change, color in (("keep", style.PALETTE[1]), ("stretch", style.PALETTE[0])):
        opt = optimizer()
        sched = Scheduler(opt, spec, longer)  # the run is extended on resume
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"], total_change=change)
        ax.plot(range(at, longer), train(opt, sched, longer - at), color=color, linewidth=2.0, zorder=4,
                linestyle="--" if change == "keep" else "-",
                label=f"resumed at {at} for {longer} steps, total_change='{change}'")
    ax.axvline(at, color="#999999", linewidth=0.9, linestyle=":", zorder=1)
    ax.text(at + 12, LR * 1.04, "checkpoint", fontsize=8, color="#666666")
    ax.set_title(f"Re-planning on resume: {spec}", loc="left", fontsize=10.5, fontweight="bold")


def cooldowns(ax):
    spec, at, total = "constant(warmup=50)", 500, 1200
    opt = optimizer()
    sched = Scheduler(opt, spec)
    head = train(opt, sched, at)
    ckpt = {"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
    ax.plot(range(total), head + train(opt, sched, total - at), color="#000000", linewidth=2.4,
            label="uninterrupted: constant", zorder=3)
    branches = [(150, "1-sqrt", 0.0), (300, "linear", 0.1), (600, "cosine", 0.0)]
    for i, (steps, form, floor) in enumerate(branches):
        opt = optimizer()
        sched = Scheduler(opt, spec)
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        sched.cooldown(steps, form, floor)
        n = min(total - at, steps + 60)
        ax.plot(range(at, at + n), train(opt, sched, n), color=style.PALETTE[i], linewidth=2.0, zorder=4,
                label=f"branch: cooldown({steps}, '{form}', floor={floor})")
    ax.axvline(at, color="#999999", linewidth=0.9, linestyle=":", zorder=1)
    ax.text(at + 12, LR * 1.04, "checkpoint", fontsize=8, color="#666666")
    ax.set_title("Anytime cooldowns branched from one checkpoint", loc="left", fontsize=10.5, fontweight="bold")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for name, draw in (("resume_replan", replanning), ("resume_cooldown", cooldowns)):
        fig, ax = plt.subplots(figsize=(8, 4.0), dpi=110, layout="constrained")
        style.apply(ax, x="count", y="value")
        draw(ax)
        ax.set_ylim(0, LR * 1.5)
        ax.set_xlim(0, None)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel("learning rate")
        ax.legend(frameon=False, fontsize=8.5, loc="upper right")
        fig.savefig(OUT / f"{name}.png", bbox_inches="tight")
        plt.close(fig)
        print(f"wrote {OUT / name}.png")


if __name__ == "__main__":
    main()
