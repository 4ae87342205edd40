"""The demo's conclusion (lrkit.report.demo_story): given rows, the sentence says within or beyond seed noise,
prediction misses and ranking disagreements correctly; machine paths are cut from report text."""

from __future__ import annotations

import math
import re

import pytest

from lrkit.report.demo_story import ScheduleResult, compare, results_from, schedule_name, tell
from lrkit.report.html_base import no_paths

WSD = 'wsd(warmup=50)'
PLAN = 'wsd(decay=0.28, form="linear", floor=0.1, warmup=50)'
COS = "cosine(warmup=50)"


def row(spec, finals, predicted=None, planned=False, seeds=None):
    m = sum(finals) / len(finals)
    p = m if predicted is None else predicted
    return ScheduleResult(spec, planned, p, p - 0.01, p + 0.01, tuple(finals), tuple(seeds or range(len(finals))),
                          schedule_name(spec))


def test_plan_beyond_noise_better():
    # the plan is 0.010 better on every seed (paired differences -0.010, -0.011, -0.009): t = -17
    story = tell([row(WSD, [1.620, 1.625, 1.630]), row(PLAN, [1.610, 1.614, 1.621], planned=True),
                  row(COS, [1.72, 1.71, 1.73])])
    c = story.comparison
    assert c.paired and c.n == 3 and c.standard == "WSD 20% 1-sqrt" and c.planned == "WSD 28% linear to 0.1"
    assert c.difference == pytest.approx(-0.010, abs=1e-9) and c.critical == pytest.approx(4.303, abs=1e-3)
    assert c.beyond_noise
    s = story.sentence()
    assert s.startswith("The planned schedule, WSD 28% linear to 0.1, finished first of 3 and beat the best standard "
                        "schedule, WSD 20% 1-sqrt, by -0.0100 ± 0.0006")
    assert "beyond seed noise" in s and "within seed noise" not in s
    assert s.endswith(".") and not re.search(r"[.;:]\s+[A-Z]", s)  # one sentence


def test_plan_within_noise_when_the_gap_is_three_standard_errors():
    # paired differences -0.003, -0.009, -0.006: mean -0.006, SE 0.0017, t = -3.46; a 2-SE rule would call it
    # beyond noise, Student's t with 2 degrees of freedom (4.30) does not
    story = tell([row(WSD, [1.620, 1.626, 1.630]), row(PLAN, [1.617, 1.617, 1.624], planned=True)])
    c = story.comparison
    assert abs(c.t) == pytest.approx(3.46, abs=0.01) and not c.beyond_noise
    assert story.sentence().startswith("The planned schedule, WSD 28% linear to 0.1, finished first of 2, -0.0060 ± 0.0017 "
                                       "(standard error over 3 paired seeds) against the best standard schedule, "
                                       "WSD 20% 1-sqrt: within seed noise;")


def test_plan_second_beyond_noise_is_a_loss():
    story = tell([row(PLAN, [1.660, 1.668, 1.671], planned=True), row(WSD, [1.613, 1.622, 1.624])])
    assert story.planned_rank == 2 and story.comparison.difference > 0 and story.comparison.beyond_noise
    assert "finished second of 2 and lost to the best standard schedule, WSD 20% 1-sqrt, by +0.0467" in story.sentence()


def test_prediction_accuracy_and_misses():
    ok = tell([row(WSD, [1.62, 1.63], predicted=1.60), row(PLAN, [1.61, 1.62], planned=True)])
    assert not ok.misses and "within 2% (largest error -1.5%, WSD 20% 1-sqrt)" in ok.sentence()
    bad = tell([row(WSD, [1.60, 1.60], predicted=1.60), row(COS, [1.70, 1.70], predicted=1.751),
                row(PLAN, [1.59, 1.59], predicted=1.55, planned=True)])
    assert [r.label for r in bad.misses] == ["WSD 28% linear to 0.1", "cosine"]
    assert "missed by more than 2% for 2 of 3 schedules (WSD 28% linear to 0.1 -2.5%, cosine +3.0%)" in bad.sentence()


def test_ranking_agreement_and_disagreement():
    agree = tell([row(COS, [1.72], predicted=1.71), row(WSD, [1.62], predicted=1.61)])
    assert agree.ranking_agrees and "ranked the schedules in the realised order" in agree.sentence()
    swap = tell([row(COS, [1.62], predicted=1.60), row(WSD, [1.61], predicted=1.615)])
    assert not swap.ranking_agrees
    assert "ranked them cosine < WSD 20% 1-sqrt where training gave WSD 20% 1-sqrt < cosine" in swap.sentence()


def test_one_seed_is_too_few_and_unmatched_seeds_are_unpaired():
    one = tell([row(WSD, [1.62]), row(PLAN, [1.60], planned=True)])
    assert not one.comparison.beyond_noise and "too few seeds to tell from noise" in one.sentence()
    c = compare(row(PLAN, [1.60, 1.61, 1.62], planned=True, seeds=[0, 1, 2]), row(WSD, [1.63, 1.64, 1.65], seeds=[3, 4, 5]))
    assert not c.paired and c.se == pytest.approx(math.hypot(0.01 / math.sqrt(3), 0.01 / math.sqrt(3)))


def test_no_planned_schedule():
    story = tell([row(WSD, [1.62, 1.63]), row(COS, [1.72, 1.73])])
    assert story.comparison is None and story.sentence().startswith("There was no planned schedule to compare;")
    with pytest.raises(ValueError, match="at least one schedule"):
        tell([])


def test_results_from_stored_curves():
    curves = [{"label": PLAN, "planned": True, "loss": [2.0, 1.6], "lower": [1.9, 1.55], "upper": [2.1, 1.65]},
              {"label": COS, "loss": [2.0, 1.7], "lower": [1.9, 1.68], "upper": [2.1, 1.72]}]
    rows = results_from(curves, {PLAN: [(1, 1.62), (0, 1.61)], COS: [(0, 1.71)]})
    assert rows[0].seeds == (0, 1) and rows[0].finals == (1.61, 1.62) and rows[0].planned
    assert rows[0].predicted == 1.6 and (rows[0].lower, rows[0].upper) == (1.55, 1.65)
    assert rows[1].label == "cosine" and math.isnan(rows[1].sd) and rows[1].error == pytest.approx(1.7 / 1.71 - 1)


def test_schedule_names():
    assert schedule_name("linear(warmup=10)") == "linear"
    assert schedule_name('wsd(decay=0.048, form="square", floor=0.1, warmup=10)') == "WSD 5% square to 0.1"
    assert schedule_name("cosine(floor=0.1)") == "cosine to 0.1"
    assert schedule_name("rex(beta=0.9)") == "rex(beta=0.9)"
    assert schedule_name("no such schedule(") == "no such schedule("


def test_no_paths_in_report_text():
    assert no_paths("/usr/lib/python3.11 (168 files, every 10th held out)") == "python3.11 (168 files, every 10th held out)"
    assert no_paths("/tmp/pytest-1/demo0/corpus.txt (last 10% held out)") == "corpus.txt (last 10% held out)"
    assert no_paths("~/data/text/ and C:\\data\\x.txt") == "text and x.txt"
    for kept in ("https://example.org/a/b", "3/4/5", "1/2 of the steps", "tokens per step"):
        assert no_paths(kept) == kept


def test_schedules_without_a_final_loss_are_named_not_counted_as_misses():
    unfinished = ScheduleResult(COS, False, 1.70, 1.69, 1.71, (1.72, math.nan), (0, 1), "cosine")  # a seed diverged
    story = tell([row(WSD, [1.62, 1.63]), row(PLAN, [1.60, 1.61], planned=True), unfinished])
    assert [r.label for r in story.unfinished] == ["cosine"] and not story.misses
    assert story.realised_ranking == ["WSD 28% linear to 0.1", "WSD 20% 1-sqrt"] and story.rows[-1] is unfinished
    s = story.sentence()
    assert "finished first of 2" in s and "predicted the final validation loss of the 2 finished schedules within 2%" in s
    assert "(cosine: no final loss from every seed)" in s
    none = tell([ScheduleResult(PLAN, True, 1.6, 1.5, 1.7, (), (), "planned")])
    assert none.comparison is None and none.sentence().startswith("No schedule has a final validation loss")
