"""docs/predict.md's Python snippet runs on the data the page describes (the multi-power-law paper's
100M curves), with no warning: the pilots are inside their own domain of validity (issue 13)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "predict.md"
DATA = ROOT.parent / "shared" / "data" / "curves" / "multipowerlaw" / "csv_100"

#: the snippet as issue 13 made it work; the page's own Python block is run instead once it holds one
#: that builds the pilots with Curve.from_run (the page names the pilots' schedules)
SNIPPET = '''\
import lrkit
from lrkit.runs import load_run
from lrkit.laws import Curve, fit, predict, plan

# the pilots log their LR only after warmup: give each one's schedule (exact LR of every step)
pilots = [
    Curve.from_run(load_run("cosine_24000.csv"), total=24000,
                   schedule="cosine(warmup=2160, floor=0.1)", base_lr=3e-4),
    Curve.from_run(load_run("constant_24000.csv"), total=24000,
                   schedule="constant(warmup=2160)", base_lr=3e-4),
]
f = fit(pilots, law="multipower")        # fit(..., fixed={"gamma": 0.6}) holds a parameter
f.to_json("fit.json")
print(f.summary())                       # parameters, R² and errors per pilot, domain of validity

lr = lrkit.parse("wsd(decay=0.2, warmup=2160)").sample(24000) * 3e-4
p = predict(f, lr)                       # p.loss, p.lower, p.upper: NaN before step p.start (end of warmup)
print(p.summary())

best = plan(f, 24000, 3e-4, family="wsd")
print(best.summary())                    # best.best.spec, its band, the difference to the best standard
'''


def snippet() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S) if DOC.is_file() else []
    own = [b for b in blocks if "Curve.from_run" in b]
    return own[0] if own else SNIPPET


@pytest.mark.skipif(not DATA.is_dir(), reason="shared data not available")
def test_the_predict_page_snippet_runs_on_its_data(tmp_path):
    for csv in DATA.glob("*.csv"):
        (tmp_path / csv.name).symlink_to(csv)
    # every warning is an error, except the fit's flags (C, beta, gamma are not determined by these pilots:
    # the page says so)
    header = ("import warnings\nimport lrkit.laws\nwarnings.simplefilter('error', UserWarning)\n"
              "warnings.simplefilter('default', lrkit.laws.UndeterminedWarning)\n")
    (tmp_path / "snippet.py").write_text(header + snippet())
    r = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "fit.json").is_file() and "Traceback" not in r.stderr
