"""Figures a person would put in a paper (issue 15): legend framed and clear of the data, ten lines
that stay apart, full labels wrapped and never cut, size and DPI, round ticks."""

from __future__ import annotations

import struct

import pytest

from lrkit.report import ticks

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg", force=True)
import matplotlib.pyplot as plt  # noqa: E402

import lrkit  # noqa: E402
from lrkit.report import style  # noqa: E402
from lrkit.report.plots import plot_groups, plot_schedules  # noqa: E402

SIX = ["cosine(warmup=0.05)", "wsd(warmup=0.05, decay=0.2)", "linear(warmup=0.05)", "rex(beta=0.5)",
       "constant(warmup=0.05)", "sgdr(period=1000, mult=2)"]


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def png_size(path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("lo, hi, expected", [
    (0, 7499, [0, 2000, 4000, 6000]), (0, 99, [0, 20, 40, 60, 80]), (0, 3e-4, [0, 1e-4, 2e-4, 3e-4]),
    (0, 1, [0, 0.25, 0.5, 0.75, 1]), (2160, 23999, [5000, 10000, 15000, 20000]), (5, 5, [5]),
])
def test_ticks_are_round(lo, hi, expected):
    assert ticks.nice_ticks(lo, hi, 5) == pytest.approx(expected, abs=0)


def test_tick_labels_are_short_and_one_notation_per_axis():
    assert [ticks.count_label(x) for x in (0, 750, 2000, 7500, 12500, 1_200_000)] == \
        ["0", "750", "2k", "7.5k", "12.5k", "1.2M"]
    assert ticks.value_labels([0, 1e-6, 2e-6, 3e-6]) == ["0", "1e-6", "2e-6", "3e-6"]
    assert ticks.value_labels([0, 0.00025, 0.0005]) == ["0", "2.5e-4", "5e-4"]
    assert ticks.value_labels([0, 0.25, 0.5, 1.0]) == ["0", "0.25", "0.5", "1"]
    assert ticks.value_labels([0.0005, 0.001]) == ["5e-4", "1e-3"]  # not 5e-4 beside 0.001
    with pytest.raises(ValueError, match="finite range"):
        ticks.nice_ticks(0, float("nan"))


def test_ten_lines_differ_in_colour_and_the_blues_in_dash_too():
    styles = [style.series(i) for i in range(10)]
    assert len({s["color"] for s in styles}) == 10
    blues = [s for s in styles if s["color"] in ("#0072B2", "#56B4E9")]
    assert len(blues) == 2 and blues[0]["linestyle"] != blues[1]["linestyle"]
    assert len({(s["color"], s["linestyle"]) for s in (style.series(i) for i in range(20))}) == 20


def test_six_specs_legend_is_framed_below_the_data_with_full_labels():
    fig = plot_schedules(SIX, 7500)
    fig.canvas.draw()
    (legend,) = fig.legends
    assert legend.get_frame_on()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    box, axes_box = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
    assert box.y1 < axes_box.y0  # wholly below the axes: nothing drawn over the curves
    assert 0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y0 >= 0  # and inside the figure
    shown = [t.get_text().replace("\n", " ") for t in legend.get_texts()]
    assert shown == [lrkit.parse(s).spec(full=True) for s in SIX]  # wrapped, never cut
    assert 'wsd(decay=0.2, form="1-sqrt"' in shown[1]


def test_a_single_schedule_is_titled_by_its_full_spec():
    fig = plot_schedules("wsd(warmup=0.05, decay=0.2)", 1000)
    title = fig.axes[0].get_title(loc="left")
    assert title.replace("\n", " ") == lrkit.parse("wsd(warmup=0.05, decay=0.2)").spec(full=True)
    assert not fig.legends


def test_ticks_on_the_figure_are_round():
    fig = plot_schedules(["cosine()", "linear()"], 7500, lr=3e-4)
    fig.canvas.draw()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()][:4] == ["0", "1k", "2k", "3k"]
    ys = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert "0" in ys and "3e-4" in ys and all("e-" in y or y == "0" for y in ys)


@pytest.mark.parametrize("size, dpi, pixels", [((4, 3), 100, (400, 300)), (None, None, (1200, 675)),
                                               ((8, 4.5), 300, (2400, 1350))])
def test_size_and_dpi_are_the_saved_pixels(tmp_path, size, dpi, pixels):
    out = tmp_path / "f.png"
    plot_schedules(SIX, 1000, out=out, size=size, dpi=dpi)
    assert png_size(out) == pixels


@pytest.mark.parametrize("fmt, magic", [("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_pdf_and_svg(tmp_path, fmt, magic):
    out = tmp_path / f"f.{fmt}"
    plot_schedules(["cosine()"], 100, out=out)
    assert out.read_bytes().startswith(magic)
    plot_groups(["a", "b"], [lrkit.parse("cosine()").sample(100), lrkit.parse("linear()").sample(100)],
                tmp_path / "g.bin", fmt=fmt)
    assert (tmp_path / "g.bin").read_bytes().startswith(magic)


def test_an_unknown_figure_suffix_is_one_line(tmp_path):
    with pytest.raises(ValueError, match=r"x\.jpg: a figure is written as \.png, \.svg or \.pdf; got \.jpg"):
        plot_schedules(["cosine()"], 100, out=tmp_path / "x.jpg")


WSD_FORMS = [f'wsd(warmup=50, decay=0.2, form="{f}"{", floor=0.01" if f == "exp" else ""})'
             for f in ("linear", "cosine", "1-sqrt", "square", "exp")]


@pytest.mark.parametrize("specs, size", [(WSD_FORMS, None), (SIX, (5, 4)), (SIX, (12, 4)), (WSD_FORMS, (4, 3)),
                                         (["cosine()", WSD_FORMS[0].replace("warmup=50", "warmup=0.05, floor=0.01")],
                                          (3, 2))])
def test_legend_and_labels_stay_inside_the_figure(tmp_path, specs, size):
    """Long full specs (was: a second legend column running off the right edge; a y label off the top)."""
    fig = plot_schedules(specs, 1000, size=size, out=tmp_path / "f.png")
    renderer = fig.canvas.get_renderer()
    (legend,) = fig.legends
    inside = fig.bbox.padded(1)
    for artist in (legend, fig.axes[0].yaxis.label, fig.axes[0].xaxis.label):
        box = artist.get_window_extent(renderer)
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1, artist
    assert [t.get_text().replace("\n", " ") for t in legend.get_texts()] == \
        [lrkit.parse(s).spec(full=True) for s in specs]  # wrapped where needed, never cut
    if size is not None and size[0] <= 5:
        assert any("\n" in t.get_text() for t in legend.get_texts())


def test_a_log_axis_keeps_its_range_with_phases_shaded():
    fig = plot_schedules(["multistep(milestones=[30, 60, 80], gamma=0.1, warmup=5)"], 90, log=True)
    lo, hi = fig.axes[0].get_ylim()
    assert 0 < lo < 1e-3 and 1 < hi < 3  # was: a bottom of 0 on the log axis, every line squashed


def test_a_figure_too_small_for_its_legend_says_which_size_fits(tmp_path):
    specs = [f"cosine(floor={k / 10}, warmup=0.05)" for k in range(10)]
    with pytest.raises(ValueError, match=r"a 4x2-inch figure is too small for the legend of 10 schedules; give a "
                                         r"larger size, e\.g\. 8x\d"):
        plot_schedules(specs, 100, size=(4, 2), out=tmp_path / "f.png")
    assert not (tmp_path / "f.png").exists()
