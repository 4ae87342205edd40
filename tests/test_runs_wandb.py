"""Issue 13's readers: W&B run exports as one JSON document (config + history, and history.train /
history.val), training and validation rows logged at one step kept as one step (merged, with a note; with or
without --clean), and a cooldown branch joined to its base run (Run.on_base, --base)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrkit.runs import Run, RunError, load_run

TRAIN = [{"_step": s, "train/loss": 3.0 - s / 1000, "lr": 1e-3, "_runtime": s / 10} for s in range(250)]
VAL = [{"_step": s, "val/loss": 3.1 - s / 1000} for s in range(0, 250, 50)]


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_wandb_export_config_and_history(tmp_path):
    rows = sorted(TRAIN + VAL, key=lambda r: r["_step"])  # the API's history: one list, ordered by step
    p = write(tmp_path, "run.json", json.dumps({"config": {"lr": 1e-3}, "history": rows}, indent=2))
    run = load_run(p)
    assert run.step.size == 250 and np.isfinite(run.loss).sum() == 250
    assert run.logged("val_loss")[0].tolist() == [0, 50, 100, 150, 200]
    assert any("merged 5 rows into the row before at the same step" in n for n in run.notes)


def test_wandb_export_train_and_val_lists(tmp_path):
    train = [{"_step": r["_step"], "loss": r["train/loss"], "lr": 1e-3} for r in TRAIN]
    val = [{"_step": r["_step"], "loss": r["val/loss"]} for r in VAL]
    p = write(tmp_path, "run.json", json.dumps({"config": {}, "history": {"train": train, "val": val}}))
    run = load_run(p)
    assert run.step.size == 250 and run.logged("loss")[1][0] == pytest.approx(3.0)
    np.testing.assert_allclose(run.logged("val_loss")[1], [3.1 - s / 1000 for s in range(0, 250, 50)])
    assert "history.train (250 records) and history.val (5 records" in " ".join(run.notes)


def test_a_bare_list_and_json_lines_under_a_json_name(tmp_path):
    assert load_run(write(tmp_path, "a.json", json.dumps(TRAIN))).step.size == 250
    lines = "\n".join(json.dumps(r) for r in TRAIN[:3]) + "\n"
    assert load_run(write(tmp_path, "b.json", lines)).step.tolist() == [0, 1, 2]
    assert load_run(write(tmp_path, "c.json", json.dumps(TRAIN[0]))).step.tolist() == [0]


@pytest.mark.parametrize("text, match", [
    ('{"config": {},\n "history": [1,\n', "not valid JSON .* at line 2"),
    ('{"config": {}, "summary": {}}', "a W&B export without 'history'"),
    ('{"history": {"test": []}}', "expected a list of records, or 'train' and"),
    ('{"history": [{"_step": 0, "loss": 1}, 3]}', "'history' record 2: expected a JSON object"),
    ('{"history": [], "history": []}', "key 'history' given twice"),
    # several runs exported together read as one run's rows ("no 'step' key (header: config, history)")
    ('[{"config": {}, "history": [{"_step": 0, "loss": 1}]}, {"config": {}, "history": []}]',
     "a list of 2 W&B run exports; lrkit reads one run a file"),
])
def test_bad_exports_are_one_line(tmp_path, text, match):
    with pytest.raises(RunError, match=match):
        load_run(write(tmp_path, "bad.json", text))


def test_interleaved_rows_are_one_step_with_or_without_clean(tmp_path):
    rows = ["_step,train/loss,val/loss"]
    for r in TRAIN:
        rows.append(f"{r['_step']},{r['train/loss']},")
        if r["_step"] % 50 == 0:
            rows.append(f"{r['_step']},,{3.1 - r['_step'] / 1000}")
    p = write(tmp_path, "wb.csv", "\n".join(rows) + "\n")
    for clean in (False, True):
        run = load_run(p, clean=clean)
        assert run.step.size == 250 and np.isfinite(run.loss).sum() == 250  # was 1 of 250 kept with --clean
        assert np.isfinite(run.val_loss).sum() == 5
    # unsorted (validation rows appended at the end): --clean sorts, then merges instead of dropping
    tail = ["_step,train/loss,val/loss"] + [f"{r['_step']},{r['train/loss']}," for r in TRAIN] + \
           [f"{s},,3.0" for s in range(0, 250, 50)]
    run = load_run(write(tmp_path, "late.csv", "\n".join(tail) + "\n"), clean=True)
    assert np.isfinite(run.loss).sum() == 250 and np.isfinite(run.val_loss).sum() == 5
    assert "duplicated" not in " ".join(run.notes)


def test_rows_logging_one_column_twice_at_a_step_are_still_reported(tmp_path):
    with pytest.raises(RunError, match="step 1 appears again"):
        load_run(write(tmp_path, "d.csv", "step,loss\n0,5\n1,4\n1,3\n"))


def test_a_branch_joined_to_its_base():
    base = Run.from_arrays(np.arange(100), 3 - np.arange(100) / 100, np.full(100, 1e-3), name="constant")
    branch = Run.from_arrays(np.arange(80, 100), 2.2 - np.arange(20) / 50, np.linspace(1e-3, 0, 20), name="cooldown",
                             val_loss=np.full(20, 2.5))
    joined = branch.on_base(base)
    assert joined.name == "cooldown" and joined.step.tolist() == list(range(100))
    np.testing.assert_allclose(joined.loss[:80], base.loss[:80])
    np.testing.assert_allclose(joined.loss[80:], branch.loss)
    assert np.isnan(joined.val_loss[:80]).all() and joined.lr_per_step().size == 100
    assert "joined to its base constant: the base's 80 rows before step 80" in joined.notes[-1]
    assert "its 20 later rows left out" in joined.notes[-1]
    with pytest.raises(RunError, match="not a branch"):
        base.on_base(branch)
    with pytest.raises(RunError, match="no row before step 80"):
        branch.on_base(Run.from_arrays(np.arange(90, 95), np.full(5, 3.0), name="late"))
