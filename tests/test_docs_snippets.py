"""Every snippet in README.md and docs/ runs, as a reader would run it (issue 15).

Collected from each page, in order:

* ```python blocks: run top to bottom in one fresh interpreter per page (a page's blocks share their
  names, as a reader's session does); a block of ``>>>`` lines is a doctest, its printed results checked;
* ```bash blocks whose commands start with ``lrkit ``: each command run in order in one temporary
  directory per page (so ``fit`` writes the ``fit.json`` that ``predict`` reads);
* ```console blocks: each ``$ lrkit ...`` command run the same way, and every line shown under it found in
  its output (``...`` stands for any text);
* ```text blocks of one line: a spec, parsed.

The temporary directory holds the published multi-power-law runs of the 100M model that the pages
use (``cosine_24000.csv``, ``constant_24000.csv``, ``wsd_20000_24000.csv`` ...) from ``../shared/data``.

A block that cannot run here (it downloads, trains for minutes, needs a GPU or a file of the reader's)
carries the marker ``<!-- snippet: skip REASON -->`` on the line above its opening fence; the reason is
shown as the test's skip reason, and :func:`test_skips_are_few_and_give_a_reason` keeps them few.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
DATA = ROOT.parent / "shared" / "data" / "curves" / "multipowerlaw" / "csv_100"
SKIP = re.compile(r"^<!--\s*snippet:\s*skip\s+(?P<reason>.+?)\s*-->$")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)\s*$")
#: at most this many skipped snippets over all pages (each one a part of the docs no test reads)
MAX_SKIPS = 16


@dataclass
class Snippet:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    skip: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def snippets(page: Path) -> list[Snippet]:
    """The fenced blocks of ``page`` with their language and skip reason (``None``: runs)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = SKIP.match(before)
        out.append(Snippet(page, i + 1, m.group("lang"), "\n".join(lines[i + 1:end]) + "\n",
                           marker.group("reason") if marker else None))
        i = end + 1
    return out


def commands(snippet: Snippet) -> list[tuple[str, list[str]]]:
    """``(command, expected output lines)`` of a bash or console block; a bash block counts only when its
    commands start with ``lrkit ``."""
    text = re.sub(r"\\\n\s*", " ", snippet.code)  # continuation lines
    if snippet.lang == "bash":
        cmds = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        return [(c, []) for c in cmds] if cmds and all(c.startswith("lrkit ") for c in cmds) else []
    out: list[tuple[str, list[str]]] = []
    for ln in text.splitlines():
        if ln.startswith("$ "):
            out.append((ln[2:].strip(), []))
        elif out and ln.strip():
            out[-1][1].append(ln.strip())
    return [c for c in out if c[0].startswith("lrkit ")]


def is_spec(snippet: Snippet) -> bool:
    return snippet.lang == "text" and len(snippet.code.strip().splitlines()) == 1 and "(" in snippet.code


ALL = [s for p in PAGES for s in snippets(p)]
RUNNABLE = [s for s in ALL if s.lang == "python" or commands(s) or is_spec(s)]


def env() -> dict:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    e.setdefault("MPLBACKEND", "Agg")
    e["COLUMNS"] = "100"
    return e


@pytest.fixture()
def workdir(tmp_path):
    if DATA.is_dir():
        for f in DATA.glob("*.csv"):
            (tmp_path / f.name).symlink_to(f)
    return tmp_path


def _pages(pred) -> list[Path]:
    return sorted({s.page for s in RUNNABLE if pred(s)})


def _id(page: Path) -> str:
    return str(page.relative_to(ROOT))


#: runs a page's python blocks in order in one namespace; exits 1 naming the block that failed
RUNNER = r"""
import doctest, json, sys, traceback
blocks = json.load(open(sys.argv[1]))
names = {"__name__": "__main__"}
for where, code in blocks:
    try:
        if code.lstrip().startswith(">>>"):
            test = doctest.DocTestParser().get_doctest(code, names, where, where, 0)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
            runner.run(test, out=sys.stderr.write, clear_globs=False)
            if runner.failures:
                sys.exit(f"{where}: doctest failed")
        else:
            exec(compile(code, where, "exec"), names)
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        sys.exit(f"{where}: {sys.exc_info()[1]!r}")
"""


@pytest.mark.parametrize("page", _pages(lambda s: s.lang == "python"), ids=_id)
def test_python_snippets_run(page, workdir):
    blocks = [s for s in snippets(page) if s.lang == "python"]
    run = [(s.where, s.code) for s in blocks if s.skip is None]
    if not run:
        pytest.skip("; ".join(f"{s.where}: {s.skip}" for s in blocks))
    (workdir / "blocks.json").write_text(json.dumps(run))
    r = subprocess.run([sys.executable, "-c", RUNNER, "blocks.json"], cwd=workdir, env=env(), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f"{r.stderr[-4000:]}\n{r.stdout[-2000:]}"


def _expected(line: str) -> re.Pattern:
    parts = [re.escape(" ".join(p.split())) for p in line.split("...")]
    return re.compile(".*".join(parts))


@pytest.mark.parametrize("page", _pages(lambda s: bool(commands(s))), ids=_id)
def test_shell_snippets_run(page, workdir):
    blocks = [s for s in snippets(page) if commands(s)]
    todo = [(s, c, shown) for s in blocks if s.skip is None for c, shown in commands(s)]
    if not todo:
        pytest.skip("; ".join(f"{s.where}: {s.skip}" for s in blocks))
    for s, cmd, shown in todo:
        args = shlex.split(cmd, comments=True)
        stdout = None
        if ">" in args:  # `lrkit ... > file`: the reader's shell redirect
            at = args.index(">")
            args, stdout = args[:at], args[at + 1]
        r = subprocess.run([sys.executable, "-m", *args], cwd=workdir, env=env(), capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, f"{s.where}: {cmd}\n{r.stderr[-3000:]}"
        if stdout:
            (workdir / stdout).write_text(r.stdout)
        flat = " ".join((r.stdout + r.stderr).split())
        for line in shown:
            assert _expected(line).search(flat), f"{s.where}: {cmd}\nexpected {line!r} in:\n{r.stdout}"


@pytest.mark.parametrize("snippet", [s for s in RUNNABLE if is_spec(s)], ids=lambda s: s.where)
def test_spec_snippets_parse(snippet):
    import lrkit

    lrkit.parse(snippet.code.strip())


def test_skips_are_few_and_give_a_reason():
    skipped = [s for s in ALL if s.skip is not None]
    assert len(skipped) <= MAX_SKIPS, [s.where for s in skipped]
    assert all(len(s.skip) >= 8 for s in skipped), [(s.where, s.skip) for s in skipped]


def test_the_collector_finds_every_kind():
    langs = {s.lang for s in RUNNABLE}
    assert {"python", "bash", "console", "text"} <= langs
    assert any(s.code.lstrip().startswith(">>>") for s in RUNNABLE)
    assert len(RUNNABLE) >= 40
