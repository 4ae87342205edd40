"""``lrkit`` and ``lrkit --help``: the help itself (exit 0), commands in workflow order, summaries not cut."""

from __future__ import annotations

import os
import subprocess
import sys

from lrkit.cli import WORKFLOW, cli


def run(*args: str, columns: int = 80) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([sys.executable, "-m", "lrkit", *args], capture_output=True, text=True, timeout=120, env=env)


def _commands(help_text: str) -> list[str]:
    section = help_text.split("Commands:", 1)[1]
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ") and not line.startswith("   ")]


def test_plain_lrkit_prints_the_help_and_exits_zero():
    r = run()
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout == run("--help").stdout
    assert "Usage: lrkit" in r.stdout and "Commands:" in r.stdout


def test_commands_are_listed_in_workflow_order():
    listed = _commands(run("--help").stdout)
    assert set(listed) == set(cli.commands)
    known = [n for n in WORKFLOW if n in cli.commands]
    assert listed[:len(known)] == known
    assert listed.index("show") < listed.index("fit") < listed.index("bench") < listed.index("demo")


def test_summaries_are_whole_sentences_at_80_columns():
    out = run("--help").stdout
    assert "..." not in out.split("Commands:", 1)[1]
    assert all(len(line) <= 80 for line in out.splitlines())
    flat = " ".join(out.split())
    assert "Run every schedule x LR x seed on the workloads, store each trial, print the scores." in flat
