"""Generate every figure of the user guide into docs/figures/ (``make docs`` runs this).

Each figure is drawn by :func:`lrkit.report.plots.plot_schedules` from the specs listed here, so the
pictures in the guide are exactly what ``lrkit show`` draws (``lrkit show ... -o x.png --dpi 90``). PNGs
are saved at 90 dpi to stay small.

    python docs/make_figures.py            # all figures
    python docs/make_figures.py cosine wsd # only these
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lrkit.report import style  # noqa: E402
from lrkit.report.plots import plot_schedules  # noqa: E402

OUT = Path(__file__).resolve().parent / "figures"
DPI = 90

#: name -> (specs, total, options for plot_schedules)
FIGURES: dict[str, tuple[list[str], int, dict]] = {
    # classic
    "constant": (["constant(warmup=100)", "constant(value=0.5)"], 1000, {"title": "constant"}),
    "linear": (["linear()", "linear(end=0.1, warmup=100)"], 1000, {"title": "linear"}),
    "cosine": (["cosine()", "cosine(floor=0.1, warmup=100)", "cosine(exponent=2.0)"], 1000, {"title": "cosine"}),
    "polynomial": (["polynomial(power=0.5)", "polynomial(power=1.0)", "polynomial(power=2.0, floor=0.1)"], 1000,
                   {"title": "polynomial"}),
    "exponential": (["exponential(gamma=0.995)", "exponential(gamma=0.999, floor=0.2, warmup=50)"], 1000,
                    {"title": "exponential"}),
    "step": (["step(every=250, gamma=0.5)", "step(every=0.3, gamma=0.1)"], 1000, {"title": "step"}),
    "multistep": (["multistep(milestones=[30, 60, 80], gamma=0.1, warmup=5)"], 90,
                  {"title": "multistep: Goyal et al. 30-60-80 epochs", "log": True}),
    "inverse_sqrt": (["inverse_sqrt(warmup=100)", "inverse_sqrt(timescale=50)"], 1000, {"title": "inverse_sqrt"}),
    # budget-aware
    "rex": (["rex()", "rex(beta=0.9)", "rex(beta=0.0)", "cosine()"], 1000, {"title": "rex against linear and cosine"}),
    "uba": (["uba(phi=0.5)", "uba(phi=1.0)", "uba(phi=2.0)", "uba(phi=4.0)"], 1000,
            {"title": "uba: phi=2 is cosine"}),
    "wsd": (["wsd(warmup=50, decay=0.2, form=\"linear\")", "wsd(warmup=50, decay=0.2, form=\"cosine\")",
             "wsd(warmup=50, decay=0.2, form=\"1-sqrt\")", "wsd(warmup=50, decay=0.2, form=\"square\")",
             "wsd(warmup=50, decay=0.2, form=\"exp\", floor=0.01)"], 1000, {"title": "wsd cooldown forms"}),
    "wsd_phases": (["wsd(warmup=100, decay=0.2, floor=0.0)"], 1000, {"title": "wsd: warmup, stable, decay"}),
    "power": (["power(warmup=0.01, decay=0.1, form=\"linear\")", "power(warmup=0.01)"], 40_000,
              {"title": "power: min(1, batch·a·n^b / lr_max), then an optional cooldown"}),
    "infinite": (["infinite(warmup=50, cooldown=0.2, constant_lr=0.2, anneal=0.1, min_lr=0.01)"], 1000,
                 {"title": "infinite: warmup, cooldown, constant, anneal"}),
    # cyclic
    "onecycle": (["onecycle()", "onecycle(three_phase=True, anneal=\"linear\")"], 1000, {"title": "onecycle"}),
    "cyclic": (["cyclic(up=100)", "cyclic(up=100, mode=\"triangular2\")", "cyclic(up=100, mode=\"exp_range\", "
                "gamma=0.998)"], 1000, {"title": "cyclic modes"}),
    "sgdr": (["sgdr(period=100, mult=2)", "sgdr(period=0.2, floor=0.1, peak_decay=0.7)"], 1000, {"title": "sgdr"}),
    # warmup
    "warmup_forms": ([f"constant(warmup=100, warmup_form=\"{f}\"{', warmup_init=0.01' if f == 'exponential' else ''})"
                      for f in ("linear", "cosine", "1-sqrt", "exponential", "sigmoid")], 200,
                     {"title": "warmup forms", "labels": ["linear", "cosine", "1-sqrt", "exponential", "sigmoid"]}),
    "warmup_factors": (["warmup(period=200)", "warmup(period=100, form=\"exponential\")",
                        "warmup(form=\"untuned\", beta2=0.995)", "warmup(form=\"radam\", beta2=0.995)"], 600,
                       {"title": "warmup factors (multiply with product)"}),
    # composition
    "sequence": (["sequence(linear(warmup=50, end=0.5), cosine(floor=0.1), boundaries=[400])"], 1000,
                 {"title": "sequence"}),
    "product": (["product(warmup(period=200), cosine(floor=0.1))"], 1000, {"title": "product"}),
    "clamp": (["clamp(exponential(gamma=0.995), floor=0.1)", "exponential(gamma=0.995)"], 1000, {"title": "clamp"}),
    "repeat": (["repeat(cosine(warmup=20), every=250, times=3)"], 1000, {"title": "repeat"}),
    "rewarm": (["sequence(cosine(floor=0.1), rewarm(from_lr=0.1, warmup=50, then=cosine(floor=0.1)), "
                "boundaries=[500])"], 1000, {"title": "rewarm: continual pre-training"}),
    "piecewise": (["piecewise(points=[(0, 0.1), (100, 1.0), (600, 1.0), (600, 0.5), (1000, 0.05)])"], 1000,
                  {"title": "piecewise"}),
    # the frameworks' shapes and presets (docs/frameworks.md)
    "frameworks_timm": (["tanh(warmup=50)", "kdecay(k=2.0, warmup=50)",
                         "tanh(floor=0.05, cycle_limit=3, cycle_mul=1.5, cycle_decay=0.6, steps=211)",
                         "noise(kdecay(k=1.0), range=[0.4, 0.9], pct=0.3)"], 1000,
                        {"title": "timm: tanh, k-decay, cycles, LR noise"}),
    "frameworks_hf": (["cosine_waves(warmup=50, waves=1.5, floor=0.1)", "cosine_restarts(warmup=50, cycles=3.0)",
                       "cosine_lr_rate(warmup=50, floor=0.1, warmup_lr_rate=0.2)"], 1000,
                      {"title": "transformers: num_cycles, hard restarts, warmup_lr_rate"}),
    "frameworks_llm": (["megatron(decay_style=\"WSD\", warmup=50, wsd_decay=0.2, wsd_decay_style=\"exponential\", "
                        "floor=0.1)", "megatron(decay_style=\"cosine\", warmup=50, warmup_init=0.1, floor=0.1)",
                        "deepspeed_warmup_cosine(warmup=100, floor=0.05)", "deepspeed_warmup_decay(warmup=100)",
                        "torchtitan(warmup=50, decay_ratio=0.3, decay_type=\"sqrt\", floor=0.05)"], 1000,
                       {"title": "Megatron-LM, DeepSpeed, torchtitan"}),
}

#: Figures that compare one spec under several conventions: (spec, steps drawn, conventions, title).
CONVENTION_FIGURES = {
    "conventions_warmup": ("cosine(warmup=10, floor=0.1)", 40, ["lrkit", "hf", "timm"], "warmup under conventions"),
    # steps=1000 fixes the schedule's own total, so drawing 1600 steps shows what happens after its end
    "conventions_after_end": ("cosine(floor=0.1, steps=1000)", 1600, ["lrkit", "torch"],
                              "after the end (step 1000): clamp or continue"),
}


def draw(name: str) -> Path:
    path = OUT / f"{name}.png"
    if name in CONVENTION_FIGURES:
        spec, total, conventions, title = CONVENTION_FIGURES[name]
        fig, ax = style.new_figure()
        for i, conv in enumerate(conventions):
            lines, texts, patches = len(ax.lines), len(ax.texts), len(ax.patches)
            plot_schedules([spec], total, convention=conv, ax=ax, labels=[conv], title=title)
            line = ax.lines[lines]  # the schedule's curve; the phase marks after it are drawn once only
            for artist in ax.lines[lines + 1:] + (ax.texts[texts:] + ax.patches[patches:] if i else []):
                artist.remove()
            line.set_color(style.PALETTE[i])
            line.set_linestyle(style.LINESTYLES[i % len(style.LINESTYLES)])
            line.set_zorder(3 + len(conventions) - i)
            if total <= 50:
                line.set_marker("o")
                line.set_markersize(3.5)
        style.legend_below(fig)
    else:
        specs, total, options = FIGURES[name]
        fig = plot_schedules(specs, total, **options)  # (its legend framed below the data, full specs)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def main(argv: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    names = argv or [*FIGURES, *CONVENTION_FIGURES]
    unknown = [n for n in names if n not in FIGURES and n not in CONVENTION_FIGURES]
    if unknown:
        print(f"unknown figure(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    for name in names:
        path = draw(name)
        print(f"{path.relative_to(OUT.parent.parent)}  {path.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
