"""`lrkit demo --quick`: pilots (a constant run and its cooldown branch), fit, plan, budget runs with seeds,
report, summary table; the report opens with the conclusion and shows no machine paths."""

from __future__ import annotations

import html as htmllib
import re
import warnings

import pytest

from lrkit.bench import Store
from lrkit.bench.workloads.charlm import default_corpus
from lrkit.demo import QUICK, law_notes
from lrkit.laws import ExtrapolationWarning, UndeterminedWarning
from lrkit.report.demo_html import demo_story

from conftest import lrkit


def test_demo_quick(tmp_path):
    out = tmp_path / "demo"
    r = lrkit("demo", "--quick", "--out", str(out), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "index.html").is_file() and f"report: {out / 'index.html'}" in r.stdout
    for word in ("predicted", "realised", "planned", "cosine", "linear", "WSD 20% 1-sqrt", "each seed", "CPU"):
        assert word in r.stdout, word
    n_budget = 4 * QUICK.seeds
    with Store(out / "demo.db") as s:
        rows = s.trials()
        assert len(rows) == 2 + n_budget and all(x["status"] == "done" for x in rows)  # 2 pilots + 4 schedules x seeds
        assert {x["steps"] for x in rows} == {QUICK.budget}  # the pilots run to the budget: the law interpolates
        pred = s.get_artifact("prediction:charlm")
        assert pred["planned"] in {x["schedule"] for x in rows} and pred["planned"].startswith("wsd(")
        assert len(pred["curves"]) == 4 and all(len(c["loss"]) == len(c["steps"]) for c in pred["curves"])
        assert min(pred["curves"][0]["steps"]) >= QUICK.fit_start  # no prediction where the law was not fitted
        story = demo_story(s, pred)
    assert all(len(x.finals) == QUICK.seeds for x in story.rows)
    # the conclusion: printed, and the report opens with it (right under the title)
    assert story.sentence() in " ".join(r.stdout.split())
    page = (out / "index.html").read_text()
    first = re.search(r"</header>\s*<p class=\"conclusion\" id=\"conclusion\">(.*?)</p>", page)
    assert first and htmllib.unescape(first.group(1)) == story.sentence()
    assert "seed noise" in first.group(1)
    assert "predicted vs realised" in page and "Final validation loss" in page and "each seed" in page
    params = re.search(r"Fitted parameters: (.*?)(?:; R²|\.</p>)", page)
    assert params, "no fitted parameters in the report"
    for name in pred["fit"]["params"]:  # each flagged parameter says so, and only those
        marked = re.search(rf"\b{name} = [^,]*\(not determined by the pilots\)", params.group(1))
        assert bool(marked) == (name in pred["fit"]["flags"]), name
    # no machine paths: neither the corpus folder nor the folder the demo ran in
    for path in (str(default_corpus()), str(tmp_path)):
        assert path not in page, path
    assert str(default_corpus()) not in r.stdout
    # run again: everything is reused
    r2 = lrkit("demo", "--quick", "--out", str(out), timeout=600)
    assert r2.returncode == 0, r2.stderr[-2000:]
    with Store(out / "demo.db") as s:
        rows2 = s.trials()
        assert len(rows2) == 2 + n_budget and all(x["attempts"] == 1 for x in rows2), [(x["schedule"], x["steps"]) for x in rows2]


def test_law_notes_collects_the_laws_warnings_and_passes_others_on():
    with pytest.warns(RuntimeWarning, match="not ours"):
        with law_notes() as notes:
            warnings.warn(UndeterminedWarning("C at the prior's centre"))
            warnings.warn(ExtrapolationWarning("peak LR outside the pilots'"))
            warnings.warn(RuntimeWarning("not ours"))
    assert notes == ["C at the prior's centre", "peak LR outside the pilots'"]
