"""`lrkit demo --quick`: pilots, fit, plan, budget runs, report, summary table."""

from __future__ import annotations

from lrkit.bench import Store

from conftest import lrkit


def test_demo_quick(tmp_path):
    out = tmp_path / "demo"
    r = lrkit("demo", "--quick", "--out", str(out), timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "index.html").is_file() and f"report: {out / 'index.html'}" in r.stdout
    for word in ("predicted", "realised", "planned", "cosine(warmup=6)", "linear(warmup=6)", "wsd(", "steps to target"):
        assert word in r.stdout, word
    with Store(out / "demo.db") as s:
        rows = s.trials()
        assert len(rows) == 6 and all(x["status"] == "done" for x in rows)   # 2 pilots + 4 budget runs
        pred = s.get_artifact("prediction:charlm")
        assert pred["planned"] in {x["schedule"] for x in rows}
        assert len(pred["curves"]) == 4 and all(len(c["loss"]) == len(c["steps"]) for c in pred["curves"])
    html = (out / "index.html").read_text()
    assert "predicted vs realised" in html and "Final validation loss" in html
    # run again: everything is reused
    r2 = lrkit("demo", "--quick", "--out", str(out), timeout=600)
    assert r2.returncode == 0, r2.stderr[-2000:]
    with Store(out / "demo.db") as s:
        rows2 = s.trials()
        assert len(rows2) == 6 and all(x["attempts"] == 1 for x in rows2), [(x["schedule"], x["steps"]) for x in rows2]
