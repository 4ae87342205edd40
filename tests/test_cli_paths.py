"""Error messages that name a long file path cut its folders, never its file name."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lrkit.laws import FitResult
from lrkit.schedules.validate import clip_path


def test_clip_path_keeps_the_file_name_whole():
    path = "/home/someone/experiments/2026/sweeps/lr-sweep/csv_400/cosine-warmup-0.05.json"
    out = clip_path(path, 40)
    assert out.endswith("/cosine-warmup-0.05.json") and out.startswith(".../") and len(out) <= 40
    assert clip_path("/short/name.json", 40) == "/short/name.json"
    name = "a" * 70 + ".json"
    assert clip_path(f"/x/y/{name}", 40) == f".../{name}"  # a name longer than the limit stays whole


def test_a_long_path_in_a_fit_error_keeps_its_name(tmp_path):
    folder = tmp_path / ("deeply-nested-experiment-folder-" * 3) / "csv_400"
    folder.mkdir(parents=True)
    bad = folder / "cosine-not-a-fit.json"
    bad.write_text("step,loss\n1,2\n")
    with pytest.raises(ValueError, match="cosine-not-a-fit.json: not a JSON fit file"):
        FitResult.from_json(bad)
    r = subprocess.run([sys.executable, "-m", "lrkit", "predict", str(bad), "--schedule", "cosine()", "--lr", "1e-3",
                        "--steps", "100"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    line = r.stderr.strip()
    assert line.startswith("lrkit: error: ...") and "/csv_400/cosine-not-a-fit.json: not a JSON fit file" in line
