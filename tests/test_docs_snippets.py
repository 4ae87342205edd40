"""Every snippet in README.md and docs/ runs, as a reader would run it (issue 15).

Each page runs top to bottom in one fresh interpreter and one temporary directory, as a reader would
run it (so ``fit`` writes the ``fit.json`` that ``predict`` reads, and a Python block writes the
``run.csv`` that a later ``lrkit refine`` reads):

* ```python blocks: executed in one namespace (a page's blocks share their names); a block of ``>>>``
  lines is a doctest, its printed results checked; a warning of lrkit's (its own warning classes, or a
  message starting ``lrkit:``) is an error, as a reader would see it, except
  ``lrkit.laws.UndeterminedWarning``, which the pages state where pilots leave parameters open;
* ```bash blocks whose commands all start with ``lrkit ``: each command run (``> file`` redirects);
* ```console blocks: each ``$ lrkit ...`` command run, and every line shown under it found in its output
  (whitespace aside; ``...`` stands for any text);
* ```text blocks that hold only specs, one a line (a trailing ``# comment`` allowed): each parsed.

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
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
DATA = ROOT.parent / "shared" / "data" / "curves" / "multipowerlaw" / "csv_100"
#: the shared runs the pages name (the published 100M-model curves of Luo et al. 2025)
DATA_FILES = ("cosine_24000.csv", "constant_24000.csv", "wsd_20000_24000.csv")
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


SPEC_LINE = re.compile(r"^[A-Za-z_]\w*\(.*\)$")


def specs(snippet: Snippet) -> list[str]:
    """The specs of a ```text block that holds only specs, one a line (each with an optional ``# comment``)."""
    if snippet.lang != "text":
        return []
    lines = [re.split(r"\s+#", ln)[0].strip() for ln in snippet.code.splitlines() if ln.strip()]
    return lines if lines and all(SPEC_LINE.match(ln) for ln in lines) else []


def is_spec(snippet: Snippet) -> bool:
    return bool(specs(snippet))


ALL = [s for p in PAGES for s in snippets(p)]


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


def items(page: Path) -> tuple[list[dict], list[Snippet]]:
    """What runs on ``page``, in order (python code, doctests, shell commands with the output they show,
    specs), and the snippets skipped."""
    run, skipped = [], []
    for s in snippets(page):
        if s.lang != "python" and not commands(s) and not is_spec(s):
            continue
        if s.skip is not None:
            skipped.append(s)
        elif s.lang == "python":
            run.append({"where": s.where, "kind": "doctest" if s.code.lstrip().startswith(">>>") else "python",
                        "code": s.code})
        elif is_spec(s):
            run += [{"where": s.where, "kind": "spec", "code": spec} for spec in specs(s)]
        else:
            run += [{"where": s.where, "kind": "shell", "code": c, "shown": shown} for c, shown in commands(s)]
    return run, skipped


#: runs a page's items in order, python ones in one namespace (a reader's session); exits naming the one
#: that failed
RUNNER = r"""
import doctest, json, re, shlex, subprocess, sys, traceback, warnings
names = {"__name__": "__main__"}

def lrkit_warnings(caught):
    # lrkit's own warnings (not a library's, which depend on the machine), less the flags of parameters
    # the pilots leave open, which the pages state
    return [w for w in caught if w.category.__name__ != "UndeterminedWarning"
            and (w.category.__module__.startswith("lrkit") or str(w.message).startswith("lrkit:"))]

def shell(where, cmd, shown):
    args = shlex.split(cmd, comments=True)
    target = None
    if ">" in args:  # `lrkit ... > file`: the reader's shell redirect
        at = args.index(">")
        args, target = args[:at], args[at + 1]
    r = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, timeout=600)
    if r.returncode:
        sys.exit(f"{where}: `{cmd}` exited {r.returncode}:\n{r.stderr[-3000:]}")
    if target:
        open(target, "w").write(r.stdout)
    flat = " ".join((r.stdout + r.stderr).split())
    for line in shown:
        pattern = ".*".join(re.escape(" ".join(p.split())) for p in line.split("..."))
        if not re.search(pattern, flat):
            sys.exit(f"{where}: `{cmd}` does not print {line!r}; it printed:\n{r.stdout[-3000:]}")

for item in json.load(open(sys.argv[1])):
    where, kind, code = item["where"], item["kind"], item["code"]
    try:
        if kind == "shell":
            shell(where, code, item["shown"])
        elif kind == "spec":
            import lrkit
            lrkit.parse(code)
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                if kind == "doctest":
                    test = doctest.DocTestParser().get_doctest(code, names, where, where, 0)
                    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
                    runner.run(test, out=sys.stderr.write, clear_globs=False)
                    if runner.failures:
                        sys.exit(f"{where}: doctest failed")
                else:
                    exec(compile(code, where, "exec"), names)
            own = lrkit_warnings(caught)
            if own:
                sys.exit(f"{where}: warns {own[0].category.__name__}: {own[0].message}")
    except SystemExit:
        raise
    except BaseException:
        traceback.print_exc()
        sys.exit(f"{where}: {sys.exc_info()[1]!r}")
"""

RUN_PAGES = [p for p in PAGES if items(p)[0] or items(p)[1]]


@pytest.mark.parametrize("page", RUN_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_snippets_run(page, workdir):
    """Every snippet of the page, top to bottom in one directory, as a reader would run them."""
    run, skipped = items(page)
    if not run:
        pytest.skip("; ".join(f"{s.where}: {s.skip}" for s in skipped))
    if not DATA.is_dir() and any(name in i["code"] for i in run for name in DATA_FILES):
        pytest.skip(f"the page's runs are in {DATA}, which is not here")
    (workdir / "snippets.json").write_text(json.dumps(run))
    r = subprocess.run([sys.executable, "-c", RUNNER, "snippets.json"], cwd=workdir, env=env(), capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, f"{r.stderr[-5000:]}\n{r.stdout[-2000:]}"


def test_skips_are_few_and_give_a_reason():
    skipped = [s for s in ALL if s.skip is not None]
    assert len(skipped) <= MAX_SKIPS, [s.where for s in skipped]
    assert all(len(s.skip) >= 8 for s in skipped), [(s.where, s.skip) for s in skipped]


def test_the_collector_finds_every_kind():
    kinds = {i["kind"] for p in PAGES for i in items(p)[0]}
    assert kinds == {"python", "doctest", "shell", "spec"}
    assert sum(len(items(p)[0]) for p in PAGES) >= 60
    assert any(i["shown"] for p in PAGES for i in items(p)[0] if i["kind"] == "shell")  # console output checked
