"""Hostile and careless run files (tests/runs_corpus/): each is refused in one line naming the problem, or
loaded with every repair reported; nothing is read as something else, nothing is dropped quietly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lrkit.runs import RunError, load_run

CORPUS = Path(__file__).resolve().parent / "runs_corpus"

#: file -> (what the error says, what ``clean=True`` says: an error's words, or a note's, prefixed "note: ")
REFUSED = {
    "json_int_loss_400_digits.jsonl": ("row 2, column 'loss': loss is inf", "note: ignored 1 infinite losses (first at row 2)"),
    "json_int_step_400_digits.jsonl": ("row 2, column 'step': step 10000000... (401 digits) is beyond the largest step",
                                       "note: dropped 1 rows with a bad step (first at row 2)"),
    "json_step_1e19.jsonl": ("row 2, column 'step': step 1e+19 is beyond the largest step lrkit holds exactly",
                             "note: dropped 1 rows with a bad step"),
    "json_loss_and_train_loss.jsonl": ("keys 'loss' and 'train/loss' both give the loss", "--column loss=NAME"),
    "json_Loss_and_loss.jsonl": ("keys 'Loss' and 'loss' both give the loss", "--column loss=NAME"),
    "json_lr_and_learning_rate.jsonl": ("keys 'lr' and 'learning_rate' both give the lr", "--column lr=NAME"),
    "json_key_twice.jsonl": ("line 2: key 'loss' given twice", "line 2: key 'loss' given twice"),
    "json_bool_loss.jsonl": ("row 1, column 'loss': True is not a number", "True is not a number"),
    "wandb_two_runs.csv": ("a W&B export of 2 runs (run-a, run-b): lrkit reads one run per file",
                           "--column loss='run-a - train/loss'"),
    "header_loss_twice.csv": ("column 'loss' appears 2 times", "column 'loss' appears 2 times"),
    "header_step_and_global_step.csv": ("columns 'step' and 'trainer/global_step' both give the step", "--column step=NAME"),
    "decimal_comma_row.csv": ("row 3 has 4 fields, the header 3 (a decimal comma", "row 3 has 4 fields"),
    "decimal_comma_quoted.csv": ("row 3, column 'loss': cannot read '2,53' as a number (a decimal comma?", "'2,53'"),
    "row_missing_a_field.csv": ("row 3 has 2 fields, the header 3", "row 3 has 2 fields"),
    "step_1e19.csv": ("row 3, column 'step': step 1e+19 is beyond the largest step", "note: dropped 1 rows with a bad step"),
    "step_int64_max_plus_1.csv": ("row 3, column 'step': step 9.223372036854776e+18 is beyond the largest step",
                                  "note: dropped 1 rows with a bad step"),
    "step_fraction.csv": ("row 3, column 'step': step 1.5 is not a non-negative integer", "note: dropped 1 rows with a bad step"),
    "step_inexact_decimal.csv": ("row 3, column 'step': step 1.0000000000000001 is not a non-negative integer",
                                 "note: dropped 1 rows with a bad step"),
    "loss_negative.csv": ("row 3, column 'loss': loss -0.5 is not positive", "note: left out 1 non-positive losses (first at row 3)"),
    "loss_zero.csv": ("row 4, column 'loss': loss 0 is not positive", "note: left out 1 non-positive losses (first at row 4)"),
    "digits_underscore.csv": ("row 3, column 'step': cannot read '1_005' as a number (numbers are read in ASCII digits",
                              "cannot read '1_005'"),
    "digits_arabic_indic.csv": ("row 3, column 'loss': cannot read '\u0662.\u0669' as a number (numbers are read in ASCII",
                                "cannot read"),
    "digits_fullwidth.csv": ("row 3, column 'step': cannot read '\uff11' as a number", "cannot read"),
    "digits_nbsp.csv": ("row 3, column 'loss': cannot read '2.9\\xa0' as a number", "cannot read"),
    "utf16_bom.csv": ("UTF-16 (or binary) data: lrkit reads UTF-8 text; convert it, e.g. iconv -f UTF-16 -t UTF-8", "UTF-16"),
    "utf16le_no_bom.csv": ("UTF-16 (or binary) data", "UTF-16"),
    "latin1.csv": ("not UTF-8 text", "save it as UTF-8"),
    "semicolons.csv": ("columns separated by ';'", "'.' as the decimal mark"),
}


def _one_line(path: Path, clean: bool) -> str:
    with pytest.raises(RunError) as exc:
        load_run(path, clean=clean)
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith(str(path)), msg
    return msg


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_corpus_file_is_refused_in_one_line_or_cleaned_with_a_note(name):
    path = CORPUS / name
    error, cleaned = REFUSED[name]
    assert error in _one_line(path, clean=False)
    if cleaned.startswith("note: "):
        run = load_run(path, clean=True)
        assert any(cleaned[6:] in n for n in run.notes), run.notes
    else:
        assert cleaned in _one_line(path, clean=True)


def test_every_corpus_file_has_an_expectation():
    files = {p.name for p in CORPUS.iterdir() if p.is_file()} - {"README.md"}
    assert files == set(REFUSED) | {"utf8_bom.csv"}


def test_a_utf8_byte_order_mark_is_read():
    run = load_run(CORPUS / "utf8_bom.csv")
    assert run.step.tolist() == [0, 1] and run.logged("loss")[1].tolist() == [3.0, 2.9]


def test_non_positive_losses_are_left_out_not_a_divergence():
    run = load_run(CORPUS / "loss_negative.csv", clean=True)
    assert run.step.tolist() == [0, 1, 2, 3]  # the rest of the run is kept: not cut as "diverged"
    assert run.logged("loss")[0].tolist() == [0, 2, 3]
    assert not any("diverged" in n for n in run.notes)


def test_a_wandb_export_of_two_runs_reads_one_chosen_by_its_full_column_name():
    run = load_run(CORPUS / "wandb_two_runs.csv", columns={"loss": "run-b - train/loss"})
    assert run.logged("loss")[1].tolist() == [3.2, 3.0]


def test_mixed_keys_read_once_one_is_chosen():
    run = load_run(CORPUS / "json_loss_and_train_loss.jsonl", columns={"loss": "train/loss"})
    assert run.logged("loss")[0].tolist() == [1, 3]
    assert run.step.tolist() == [0, 1, 2, 3]


def test_a_truncated_event_file_is_read_up_to_the_cut_with_a_note():
    pytest.importorskip("tensorboard")
    run = load_run(CORPUS / "tb_truncated")
    assert run.step.tolist() == list(range(23))
    (note,) = run.notes
    assert note.startswith("events.out.tfevents.1700000000.corpus is truncated at byte 1,190 of 1,203")


def test_cli_refuses_in_one_line_with_exit_2(tmp_path):
    out = tmp_path / "fit.json"
    proc = subprocess.run([sys.executable, "-m", "lrkit", "fit", str(CORPUS / "decimal_comma_row.csv"), "--out",
                           str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "row 3 has 4 fields" in proc.stderr
    assert not out.exists()
