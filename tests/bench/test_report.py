"""The HTML report: self-contained, every figure decodes, no console errors in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lrkit.bench import Store, expand, make_executor, sweep
from lrkit.report.html import write_report

from conftest import TINY, lrkit

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--virtual-time-budget=10000"]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("report")
    trials = expand([TINY], ["cosine(warmup=2)", "wsd(warmup=2, decay=0.3)", "linear(warmup=2)"], [0.02, 0.05, 0.3], 2, 30,
                    log_every=3)
    trials += expand([TINY], ["constant(warmup=2)"], [0.05], 2, 30, optimizers=["sfadamw"], log_every=3)
    with Store(d / "bench.db") as s:
        sweep(s, trials, make_executor("local", workers=0))
        s.put_artifact("prediction:" + TINY, {
            "workload": TINY, "budget": 30, "peak_lr": 0.05, "pilot_steps": 10, "pilot_ids": [1], "trial_ids": [],
            "curves": [{"label": "cosine(warmup=2)", "steps": list(range(0, 30, 3)), "loss": [1.0 - 0.02 * i for i in range(10)],
                        "lower": [0.9 - 0.02 * i for i in range(10)], "upper": [1.1 - 0.02 * i for i in range(10)]}],
            "fit": {"law": "multipower", "params": {"L0": 1.0}}})
        write_report(s, d, title="test report")
    return d


def test_report_is_self_contained(report_dir):
    text = (report_dir / "index.html").read_text()
    assert text.startswith("<!doctype html>")
    for section in ("Benchmark score", "performance profile", "steps to target", "LR sensitivity", "learning rate",
                    "predicted vs realised", "schedule-free AdamW", "cosine(warmup=2)"):
        assert section in text, section
    # no external resources: every src/href is a data URI
    refs = re.findall(r'(?:src|href)="([^"]*)"', text)
    assert refs and all(r.startswith("data:") for r in refs)
    assert len(re.findall(r'<img alt="[^"]*" src="data:image/svg\+xml;base64,', text)) >= 5


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(report_dir, tmp_path):
    url = (report_dir / "index.html").resolve().as_uri()
    r = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                        "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    m = re.search(r'<html[^>]*data-figures="(\d+)/(\d+)"[^>]*>', r.stdout)
    assert m, "the page's load check did not run: " + r.stdout[:300]
    loaded, total = int(m.group(1)), int(m.group(2))
    assert total >= 5 and loaded == total
    assert 'data-errors="0"' in m.group(0), m.group(0)
    console = [ln for ln in r.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert not console, console
    # and it paints: a screenshot of the page
    shot = tmp_path / "page.png"
    s = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile2'}", "--window-size=1280,2000",
                        f"--screenshot={shot}", url], capture_output=True, text=True, timeout=120)
    assert s.returncode == 0 and shot.stat().st_size > 20_000


def test_report_command(report_dir, tmp_path):
    r = lrkit("report", "--db", str(report_dir / "bench.db"), "--out", str(tmp_path / "r"), "--reference", "linear(warmup=2)",
              "--target", f"{TINY}=0.5")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "r" / "index.html").is_file() and "report:" in r.stdout
    bad = lrkit("report", "--db", str(report_dir / "bench.db"), "--out", str(tmp_path / "r"), "--target", "oops")
    assert bad.returncode == 2 and "WORKLOAD=LOSS" in bad.stderr


def test_report_figures_frame_their_legend_below_the_axes_with_full_labels():
    """The report's legends sat on the curves, unframed, their specs cut (`floor=0.0...` for floor=0.01)."""
    from types import SimpleNamespace

    from lrkit.report import bench_figures as F

    labels = ['wsd(decay=0.3, form="linear", floor=0.01, warmup=0.05) [sgd]', "cosine(warmup=0.05)",
              'onecycle(pct_start=0.25, anneal="linear") [sfadamw]']
    cmap = F.colours(labels)
    methods = [SimpleNamespace(label=lab, lr_sweep={1e-3: 0.5 + i, 3e-3: 0.4 + i}, sensitivity=0.1 * i, trial_ids=[i], lr=3e-3)
               for i, lab in enumerate(labels)]
    hist = {i: {"step": [0, 1, 2], "lr": [1e-3, 2e-3, 1e-3], "loss": [2.0, 1.5, 1.0], "val_loss": [2.1, 1.6, 1.1]}
            for i in range(len(labels))}
    figs = [F.performance_profile({lab: {"w": 1.0 + i} for i, lab in enumerate(labels)}, cmap,
                                  scores={lab: 0.5 for lab in labels}),
            F.lr_sensitivity(methods, cmap), F.lr_curves(methods, hist, cmap), F.loss_curves(methods, hist, cmap)]
    for fig in figs:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        assert all(ax.get_legend() is None for ax in fig.axes)  # none on the data
        (legend,) = fig.legends
        assert legend.get_frame_on()
        texts = [t.get_text().replace("\n", " ") for t in legend.get_texts()]
        assert len(texts) == len(labels) and all(t.startswith(lab) for t, lab in zip(texts, labels)), texts
        box = legend.get_window_extent(renderer)
        assert all(box.y1 <= ax.get_window_extent(renderer).y0 for ax in fig.axes)  # below every axis
