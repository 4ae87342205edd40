"""``lrkit show`` as a user runs it (issue 15): the format follows --out's suffix, figure size and DPI,
the full spec, lint findings under the summary, round terminal ticks and one marker per series."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "curves" / "multipowerlaw" / "csv_100"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="shared data not available")


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lrkit", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


def one_line_error(r, needle: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit: error: ") and needle in lines[0], r.stderr


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", head
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("name, magic", [("y.png", b"\x89PNG"), ("y.pdf", b"%PDF"), ("y.svg", b"<?xml"),
                                         ("Y.PNG", b"\x89PNG")])
def test_the_format_follows_the_suffix_of_out(tmp_path, name, magic):
    r = run("show", "cosine()", "-n", "100", "-o", str(tmp_path / name))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / name).read_bytes().startswith(magic)  # was: the text table, exit 0


@pytest.mark.parametrize("name, check", [("t.csv", lambda s: s.startswith("step,lr\n0,")),
                                         ("t.json", lambda s: s.lstrip().startswith("{")),
                                         ("t.txt", lambda s: "peak" in s), ("t", lambda s: "peak" in s)])
def test_text_formats_follow_the_suffix_too(tmp_path, name, check):
    r = run("show", "cosine()", "-n", "10", "-o", str(tmp_path / name))
    assert r.returncode == 0, r.stderr
    assert check((tmp_path / name).read_text())


@pytest.mark.parametrize("args, needle", [
    (["-f", "png", "-o", "z.svg"], "--format png but --out z.svg names svg"),
    (["-f", "csv", "-o", "z.png"], "--format csv but --out z.png names png"),
    (["-o", "z.jpg"], "z.jpg: lrkit writes figures as .png, .svg or .pdf, not .jpg"),
    (["-f", "png", "-o", "z.svg", "--groups", "g.json"], "names svg"),
    (["--dpi", "10", "-o", "z.png"], "--dpi"),
    (["--size", "8by4", "-o", "z.png"], "not a size"),
    (["--size", "0x4", "-o", "z.png"], "above 0"),
    (["--size", "100x50", "--dpi", "300", "-o", "z.png"], "at most 16,000 on a side"),
    (["--size", "100x50px", "-o", "z.png"], "no room"),
    (["--dpi", "100", "-f", "csv"], "--dpi and --size apply to figures"),
    (["--full", "-f", "json"], "--full applies to the table and figures"),
])
def test_conflicts_and_bad_figure_options_are_one_line(tmp_path, args, needle):
    r = run("show", "cosine()", "-n", "10", *args, cwd=tmp_path)
    one_line_error(r, needle)
    assert not (tmp_path / "z.svg").exists() and not (tmp_path / "z.png").exists()


def test_explicit_format_without_a_suffix_is_kept(tmp_path):
    r = run("show", "cosine()", "-n", "10", "-f", "svg", "-o", str(tmp_path / "figure"))
    assert r.returncode == 0, r.stderr
    assert b"<svg" in (tmp_path / "figure").read_bytes()


@pytest.mark.parametrize("args, pixels", [(["--size", "4x3", "--dpi", "100"], (400, 300)),
                                          (["--size", "1600x900px"], (1600, 900)),
                                          (["--size", "1000x500px", "--dpi", "200"], (1000, 500)),
                                          (["--dpi", "100"], (800, 450)), ([], (1200, 675))])
def test_size_and_dpi_give_the_pixels_asked_for(tmp_path, args, pixels):
    out = tmp_path / "s.png"
    r = run("show", "cosine(warmup=0.05)", "wsd(warmup=0.05, decay=0.2)", "-n", "1000", "-o", str(out), *args)
    assert r.returncode == 0, r.stderr
    assert png_size(out) == pixels


def test_groups_figure_follows_the_suffix_and_size(tmp_path):
    config = tmp_path / "g.json"
    config.write_text('{"schedule": "cosine()", "groups": [{"name": "a", "lr": 1e-3}, {"name": "b", "lr": 1e-4}]}')
    out = tmp_path / "g.png"
    r = run("show", "--groups", str(config), "-n", "100", "-o", str(out), "--size", "5x3", "--dpi", "100")
    assert r.returncode == 0, r.stderr
    assert png_size(out) == (500, 300)
    r = run("show", "--groups", str(config), "-n", "100", "-o", str(tmp_path / "g.pdf"))
    assert r.returncode == 0 and (tmp_path / "g.pdf").read_bytes().startswith(b"%PDF"), r.stderr


def test_full_spells_out_the_defaults_in_the_summary_and_legend():
    short = run("show", "wsd(warmup=0.05, decay=0.2)", "cosine()", "-n", "1000")
    full = run("show", "wsd(warmup=0.05, decay=0.2)", "cosine()", "-n", "1000", "--full")
    assert short.returncode == 0 and full.returncode == 0, full.stderr
    assert 'form="1-sqrt"' not in short.stdout
    flat = " ".join(full.stdout.replace("│", " ").split())
    assert 'spec wsd(decay=0.2, form="1-sqrt", floor=0.0, warmup=0.05, warmup_form="linear", warmup_init=0.0)' in flat
    assert "cosine(floor=0.0, exponent=1.0, warmup=0)" in flat.split("step")[-1]  # the legend too


def test_show_prints_what_lint_finds_under_the_summary():
    r = run("show", "cosine(warmup=2000)", "-n", "1000")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "warmup-too-long" in out and "not shorter than the 1000" in out
    assert out.index("phases") < out.index("warmup-too-long") < out.index("┤")  # under the summary, above the plot
    clean = run("show", "cosine(warmup=100)", "-n", "1000")
    assert "⚠" not in clean.stdout


def test_several_schedules_each_have_their_findings():
    r = run("show", "cosine(warmup=100)", "linear(warmup=2000)", "-n", "1000")
    panels = r.stdout.split("╭─")
    assert "⚠" not in panels[1] and "warmup-too-long" in panels[2]


def _tick_lines(out: str) -> tuple[list[str], str]:
    ys = [m.group(1).strip() for m in re.finditer(r"^\s*(\S+)┤", out, re.M)]
    axis = [ln for ln in out.splitlines() if "┬" in ln]
    below = out.splitlines()[out.splitlines().index(axis[0]) + 1]
    return ys, below


def test_terminal_ticks_are_round():
    r = run("show", "cosine()", "-n", "7500", "--lr", "1e-6")
    ys, xs = _tick_lines(r.stdout)
    assert xs.split() == ["0", "2k", "4k", "6k"]  # was: 0 1,875 3,750 5,624 7,499
    assert ys[-1] == "0" and all(re.fullmatch(r"\d(\.\d+)?e-\d+|0", y) for y in ys), ys  # was: 0.000001
    r = run("show", "linear()", "-n", "100")
    ys, xs = _tick_lines(r.stdout)
    assert xs.split() == ["0", "20", "40", "60", "80"] and ys == ["1", "0.75", "0.5", "0.25", "0"]


def test_piped_output_gives_each_series_its_own_marker():
    specs = ["cosine()", "linear()", "constant(value=0.5)", "rex()"]
    r = run("show", *specs, "-n", "500")
    assert r.returncode == 0, r.stderr
    legend = r.stdout.strip().splitlines()[-1]
    markers = re.findall(r"(\S)━━ (\S+\))", legend)
    assert [spec for _, spec in markers] == specs
    assert len({m for m, _ in markers}) == 4  # was: ━━ for every series once colour is gone
    plot = r.stdout[r.stdout.index("┌"):r.stdout.index("└")]
    assert all(m in plot for m, _ in markers)


def test_refine_follows_the_suffix_and_takes_figure_options(tmp_path):
    runfile = tmp_path / "norms.csv"
    runfile.write_text("step,loss,grad_norm\n" + "".join(f"{t},{3 - t / 100},{1 + t % 3 / 10}\n" for t in range(80)))
    out = tmp_path / "r.png"
    r = run("refine", str(runfile), "--steps", "200", "-o", str(out), "--size", "6x3", "--dpi", "100")
    assert r.returncode == 0, r.stderr
    assert png_size(out) == (600, 300)  # was: the spec's text in r.png
    r = run("refine", str(runfile), "--steps", "200", "-o", str(tmp_path / "r.pdf"))
    assert r.returncode == 0 and (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF")
    one_line_error(run("refine", str(runfile), "--steps", "200", "-f", "csv", "-o", "x.png", cwd=tmp_path), "names png")


def test_laws_plot_refuses_a_bad_suffix_before_fitting(tmp_path):
    runfile = tmp_path / "run.csv"
    runfile.write_text("step,lr,loss\n" + "".join(f"{s},0.001,{3 - s / 100}\n" for s in range(50)))
    one_line_error(run("fit", str(runfile), "--out", "f.json", "--plot", "f.jpg", cwd=tmp_path), "f.jpg")
    assert not (tmp_path / "f.json").exists() and not (tmp_path / "f.jpg").exists()
    one_line_error(run("fit", str(runfile), "--out", "f.json", "--dpi", "100", cwd=tmp_path),
                   "apply to the --plot figure")


@needs_data
def test_fit_and_plan_plots_take_size_and_dpi(tmp_path):
    fit = tmp_path / "fit.json"
    r = run("fit", str(DATA / "cosine_24000.csv"), str(DATA / "constant_24000.csv"),
            "--schedule", "cosine(warmup=2160, floor=0.1)", "--schedule", "constant(warmup=2160)", "--lr", "3e-4",
            "--total", "24000", "--out", str(fit), "--boot", "20", "--plot", str(tmp_path / "fit.png"),
            "--size", "6x5", "--dpi", "100")
    assert r.returncode == 0, r.stderr
    assert png_size(tmp_path / "fit.png") == (600, 500)
    r = run("plan", str(fit), "--steps", "24000", "--lr", "3e-4", "--family", "wsd",
            "--plot", str(tmp_path / "plan.pdf"), "--size", "7x6")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "plan.pdf").read_bytes().startswith(b"%PDF")


def test_a_legend_too_long_for_one_line_has_one_entry_a_line():
    specs = ["cosine(warmup=0.05)", "wsd(warmup=0.05, decay=0.2)", "sgdr(period=1000, mult=2)"]
    r = run("show", *specs, "-n", "1000", "--full")
    lines = r.stdout.splitlines()
    starts = [ln.strip()[:3] for ln in lines[lines.index(next(ln for ln in lines if "step" in ln and "┤" not in ln
                                                                and "steps" not in ln)) + 1:] if ln.strip()]
    assert [s for s in starts if s.endswith("━━")] == ["•━━", "+━━", "x━━"]
    assert 'wsd(decay=0.2, form="1-sqrt"' in r.stdout  # the label wrapped under itself, not cut


def test_full_applies_to_groups_too(tmp_path):
    config = tmp_path / "g.json"
    config.write_text('{"schedule": "wsd(decay=0.2)", "groups": [{"name": "a", "lr": 1e-3}]}')
    r = run("show", "--groups", str(config), "-n", "100", "--full")
    assert r.returncode == 0, r.stderr
    assert 'form="1-sqrt"' in " ".join(r.stdout.replace("│", " ").split())


@pytest.mark.parametrize("columns", [80, 200])
def test_a_spec_too_long_for_the_panel_title_is_shown_whole_in_the_panel(columns):
    """At 80 columns the panel's title was cut inside a number: `... constant(value=0─╮` (value=0.1)."""
    import os

    spec = "sequence(linear(end=0.5), cosine(floor=0.1, exponent=2.0), constant(value=0.1), boundaries=[0.3, 0.8])"
    r = subprocess.run([sys.executable, "-m", "lrkit", "show", spec, "-n", "10k"], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, COLUMNS=str(columns)))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns
    panel = lines[:next(i for i, line in enumerate(lines) if line.startswith("╰")) + 1]
    if columns == 80:
        assert panel[0].startswith("╭─ sequence(…) ─"), panel[0]
        body = " ".join(line.strip("│ ") for line in panel[1:3])
        assert body.split(None, 1) == ["spec", spec], body
    else:
        assert panel[0].startswith(f"╭─ {spec} ─") and " spec " not in r.stdout
