"""Run loaders: formats, sparse logging, column mapping and every bad-input case."""

from __future__ import annotations

import json

import sys

import numpy as np
import pytest

from lrkit.runs import Run, RunError, load_run, parse_column_map


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_sparse_loss_and_lr(tmp_path):
    p = write(tmp_path, "r.csv", "step,lr,loss\n0,0.1,\n1,0.2,5.0\n2,0.3,\n3,0.3,4.0\n")
    run = load_run(p)
    assert run.name == "r"
    np.testing.assert_array_equal(run.step, [0, 1, 2, 3])
    steps, loss = run.logged("loss")
    np.testing.assert_array_equal(steps, [1, 3])
    np.testing.assert_allclose(loss, [5.0, 4.0])
    np.testing.assert_allclose(run.lr_per_step(), [0.1, 0.2, 0.3, 0.3])


def test_sparse_lr_is_interpolated_linearly(tmp_path):
    p = write(tmp_path, "r.csv", "step,lr,loss\n0,1.0,5\n4,0.6,4\n8,0.2,3\n")
    np.testing.assert_allclose(load_run(p).lr_per_step(9), 1.0 - 0.1 * np.arange(9))


def test_lr_from_schedule_is_exact(tmp_path):
    p = write(tmp_path, "r.csv", "step,loss\n10,5\n20,4\n")
    run = load_run(p)
    lr = run.lr_per_step(30, schedule=lambda s: 1.0 - s / 30.0, base_lr=0.5)
    np.testing.assert_allclose(lr, 0.5 * (1 - np.arange(30) / 30))
    with pytest.raises(RunError, match="base LR"):
        run.lr_per_step(30, schedule=lambda s: s * 0 + 1.0)


def test_missing_lr_coverage_is_an_error(tmp_path):
    run = load_run(write(tmp_path, "r.csv", "step,lr,loss\n5,0.1,5\n9,0.1,4\n"))
    with pytest.raises(RunError, match="LR logged only from step 5"):
        run.lr_per_step()
    run = load_run(write(tmp_path, "s.csv", "step,loss\n5,5\n"))
    with pytest.raises(RunError, match="no 'lr' column"):
        run.lr_per_step()


def test_jsonl_and_column_mapping(tmp_path):
    lines = [{"it": 0, "objective": 5.0, "lr": 0.1}, {"it": 1, "lr": 0.1}, {"it": 2, "objective": 4.0, "lr": 0.1}]
    p = write(tmp_path, "r.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    run = load_run(p, columns={"step": "it", "loss": "objective"})
    assert run.logged("loss")[0].tolist() == [0, 2]
    assert parse_column_map(["loss=train/loss", "step = _step"]) == {"loss": "train/loss", "step": "_step"}
    with pytest.raises(RunError, match="ROLE=NAME"):
        parse_column_map(["loss"])
    with pytest.raises(RunError, match="'val_los' is not a role; roles: step, lr, loss, val_loss, grad_norm, tokens; "
                                       "did you mean 'val_loss'"):
        parse_column_map(["val_los=eval/loss"])


def test_wandb_export(tmp_path):
    text = ('"Step","myrun - train/loss","myrun - train/loss__MIN","myrun - train/loss__MAX","myrun - train/lr"\n'
            '"0","5.0","4.9","5.1","0.001"\n"1","","","","0.001"\n"2","4.5","4.4","4.6","0.001"\n')
    run = load_run(write(tmp_path, "wandb.csv", text))
    np.testing.assert_allclose(run.logged("loss")[1], [5.0, 4.5])
    np.testing.assert_allclose(run.lr_per_step(), [0.001] * 3)
    run = load_run(write(tmp_path, "w2.csv", "_step,train/loss\n0,3\n1,2\n"))
    assert run.logged("loss")[1].tolist() == [3, 2]


def test_tensorboard_missing_package_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import fails as if not installed
    with pytest.raises(RunError, match="pip install tensorboard"):
        load_run(tmp_path / "events.out.tfevents.1")


def _write_events(logdir, events):
    """Write ``(tag, value, step)`` scalars with torch's SummaryWriter (needs tensorboard)."""
    tb = pytest.importorskip("torch.utils.tensorboard")
    writer = tb.SummaryWriter(str(logdir))
    for tag, value, step in events:
        writer.add_scalar(tag, value, step)
    writer.close()


def test_tensorboard_sparse_tags(tmp_path):
    logdir = tmp_path / "run-a"
    events = [("train/lr", 1e-3 * (1 - s / 20), s) for s in range(20)]
    events += [("train/loss", 5 - 0.1 * s, s) for s in range(0, 20, 2)]
    events += [("eval/loss", 6 - 0.1 * s, s) for s in range(0, 20, 5)]
    _write_events(logdir, events)
    run = load_run(logdir, columns={"val_loss": "eval/loss"})
    assert run.name == "run-a"
    steps, loss = run.logged("loss")
    assert steps.tolist() == list(range(0, 20, 2))
    np.testing.assert_allclose(loss, [5 - 0.1 * s for s in steps], rtol=1e-6)  # float32 in the file
    np.testing.assert_allclose(run.logged("val_loss")[0], [0, 5, 10, 15])
    np.testing.assert_allclose(run.lr_per_step(), [1e-3 * (1 - s / 20) for s in range(20)], rtol=1e-6)
    (event_file,) = logdir.iterdir()
    same = load_run(event_file)  # a single event file reads the same, named after its directory
    assert same.name == "run-a"
    np.testing.assert_array_equal(same.logged("loss")[1], loss)


def test_tensorboard_duplicate_steps_reported_or_repaired(tmp_path):
    logdir = tmp_path / "resumed"
    _write_events(logdir, [("loss", 3.0, 0), ("loss", 2.5, 1), ("loss", 2.4, 1), ("loss", 2.0, 2)])
    with pytest.raises(RunError, match="step 1 appears again"):
        load_run(logdir)
    run = load_run(logdir, clean=True)
    assert run.logged("loss")[0].tolist() == [0, 1, 2]
    assert run.logged("loss")[1][1] == pytest.approx(2.4)  # the last value of the step is kept
    assert any("duplicated step" in n for n in run.notes)


def test_tensorboard_nan_loss_named(tmp_path):
    logdir = tmp_path / "nan"
    _write_events(logdir, [("loss", 3.0, 0), ("loss", float("nan"), 1), ("loss", 2.0, 2)])
    with pytest.raises(RunError, match="column 'loss': value is NaN"):
        load_run(logdir)
    run = load_run(logdir, clean=True)
    assert run.logged("loss")[0].tolist() == [0, 2]
    assert run.notes == ("ignored 1 NaN values in column 'loss' (first at row 2)",)


@pytest.mark.parametrize("name, text, row", [  # rows: CSV counts the header, JSON lines count lines
    ("nan.csv", "step,loss,lr\n0,3,0.1\n1,nan,0.1\n2,2,NaN\n", 3),
    ("nan.jsonl", '{"step": 0, "loss": 3, "lr": 0.1}\n{"step": 1, "loss": NaN, "lr": 0.1}\n{"step": 2, "loss": 2, "lr": NaN}\n', 2),
])
def test_nan_cells_error_or_reported_repair(tmp_path, name, text, row):
    path = write(tmp_path, name, text)
    with pytest.raises(RunError, match=f"row {row}, column 'loss': value is NaN"):
        load_run(path)
    run = load_run(path, clean=True)
    assert run.logged("loss")[0].tolist() == [0, 2]
    assert run.notes[:2] == (f"ignored 1 NaN values in column 'loss' (first at row {row})",
                             f"ignored 1 NaN values in column 'lr' (first at row {row + 1})")


def test_tensorboard_without_scalars(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="tensorboard|scalar|column"):
        load_run(tmp_path / "empty", format="tensorboard")


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty file"),
        ("step,loss\n", "no data rows"),
        ("step,lr\n0,0.1\n", "no 'loss' column"),
        ("loss\n3\n", "no 'step' column"),
        ("step,loss\n0,5\n1,abc\n", r"row 3, column 'loss': cannot read 'abc'"),
        ("step,loss\n0,5\n1,nan\n", r"row 3, column 'loss': value is NaN"),
        ("step,loss\n0,5\n1,inf\n", r"row 3, column 'loss': loss is inf"),
        ("step,loss\n0,5\n2,4\n1,3\n", r"row 4, column 'step': step 1 comes after step 2"),
        ("step,loss\n0,5\n1,4\n1,3\n", r"row 4, column 'step': step 1 appears again \(first at row 3\)"),
        ("step,lr,loss\n0,0.1,5\n1,-0.1,4\n", r"row 3, column 'lr': learning rate -0.1 is negative"),
        ("step,loss\n0,5\n1,4\n2,12\n", r"row 4, column 'loss': loss 12 at step 2 .* diverged"),
        ("step,loss\n-1,5\n", "not a non-negative integer"),
        ("step,loss\n0,\n1,\n", "no loss values logged"),
    ],
)
def test_bad_csv_raises_one_clear_line(tmp_path, text, match):
    p = write(tmp_path, "bad.csv", text)
    with pytest.raises(RunError, match=match) as exc:
        load_run(p)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(str(p)) or "bad.csv" in msg
    assert isinstance(exc.value, ValueError)


def test_bad_jsonl(tmp_path):
    with pytest.raises(RunError, match="line 2: not valid JSON"):
        load_run(write(tmp_path, "r.jsonl", '{"step": 0, "loss": 1}\n{oops\n'))
    with pytest.raises(RunError, match="line 1: expected a JSON object"):
        load_run(write(tmp_path, "s.jsonl", "[1, 2]\n"))
    with pytest.raises(RunError, match="no such file"):
        load_run(tmp_path / "missing.csv")
    with pytest.raises(RunError, match="not in header"):
        load_run(write(tmp_path, "t.csv", "step,loss\n0,1\n"), columns={"loss": "nope"})


def test_cleaned_reports_every_repair(tmp_path):
    text = "step,lr,loss\n0,0.1,5\n2,0.1,4\n1,0.1,4.5\n2,0.1,3.9\n3,-1,inf\n4,0.1,3.5\n5,0.1,20\n6,0.1,3\n"
    run = load_run(write(tmp_path, "r.csv", text), clean=True)
    notes = " | ".join(run.notes)
    for part in ("sorted", "duplicated step", "infinite losses", "negative or infinite LRs", "diverged"):
        assert part in notes
    np.testing.assert_array_equal(run.step, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(run.logged("loss")[1], [5, 4.5, 3.9, 3.5])
    raw = Run(step=np.array([0.0, 1.0]), loss=np.array([2.0, np.inf]))
    fixed, notes = raw.cleaned()
    assert notes and fixed.logged("loss")[0].tolist() == [0]
