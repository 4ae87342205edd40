"""``lrkit show --groups FILE``: each parameter group's absolute LR, in a subprocess as users run it."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import subprocess
import sys

import pytest

import lrkit

CONFIG = {"groups": [{"name": "backbone", "lr": 1e-4}, {"name": "head", "lr": 1e-3, "schedule": "cosine(floor=0.1)"}],
          "schedule": "wsd(warmup=0.05)"}


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lrkit", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "groups.json"
    path.write_text(json.dumps(CONFIG))
    return path


def test_csv_has_one_column_per_group_with_absolute_lrs(config):
    r = run("show", "--groups", str(config), "--steps", "200", "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["step", "backbone", "head"]
    assert [int(x[0]) for x in rows[1:]] == list(range(200))
    assert [float(x[1]) for x in rows[1:]] == list(1e-4 * lrkit.parse("wsd(warmup=0.05)").sample(200))
    assert [float(x[2]) for x in rows[1:]] == list(1e-3 * lrkit.parse("cosine(floor=0.1)").sample(200))


def test_the_values_are_what_the_torch_scheduler_writes(config):
    torch = pytest.importorskip("torch")
    from lrkit.torch import Scheduler

    r = run("show", "--groups", str(config), "--steps", "50", "--format", "csv")
    rows = [[float(v) for v in row[1:]] for row in list(csv.reader(io.StringIO(r.stdout)))[1:]]
    opt = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": g["lr"], "name": g["name"]}
                           for g in CONFIG["groups"]])
    sched = Scheduler(opt, {"backbone": CONFIG["schedule"], "head": CONFIG["groups"][1]["schedule"]}, 50)
    seen = [sched.get_last_lr()]
    for _ in range(49):
        opt.step()
        sched.step()
        seen.append(sched.get_last_lr())
    assert rows == seen


def test_table_shows_a_summary_per_group_and_one_plot(config):
    r = run("show", "--groups", str(config), "--steps", "1000")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "backbone · lr 0.0001 · wsd(warmup=0.05)" in out and "head · lr 0.001 · cosine(floor=0.1)" in out
    assert "decay (1-sqrt) 800–1,000" in out
    assert "━━ backbone (lr 0.0001)" in out and "━━ head (lr 0.001)" in out  # one plot, both groups
    assert out.count("learning rate") == 1


def test_json_has_each_groups_summary_and_values(config):
    r = run("show", "--groups", str(config), "--steps", "100", "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [g["name"] for g in doc["groups"]] == ["backbone", "head"]
    head = doc["groups"][1]
    assert head["base_lr"] == 1e-3 and head["spec"] == "cosine(floor=0.1)" and head["peak"] == 1e-3
    assert head["final"] == pytest.approx(1e-3 * lrkit.parse("cosine(floor=0.1)")(99, 100))
    assert len(head["values"]) == 100 and doc["steps"] == 100


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_figure(config, tmp_path, fmt):
    out = tmp_path / f"g.{fmt}"
    r = run("show", "--groups", str(config), "--steps", "300", "--format", fmt, "--out", str(out))
    assert r.returncode == 0, r.stderr
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in data[:500]


def test_a_spec_on_the_command_line_is_the_default_schedule(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"groups": [{"name": "a", "lr": 0.5}, {"name": "b", "lr": 1.0, "schedule": "constant()"}]}))
    r = run("show", "linear()", "--groups", str(path), "-n", "4", "-f", "csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["step,a,b", "0,0.5,1.0", "1,0.375,1.0", "2,0.25,1.0", "3,0.125,1.0"]


@pytest.mark.skipif(importlib.util.find_spec("yaml") is None, reason="PyYAML is not installed")
def test_yaml_config(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("schedule: cosine()\ngroups:\n  - {name: backbone, lr: 0.1}\n  - name: head\n    lr: 1.0\n")
    r = run("show", "--groups", str(path), "-n", "3", "-f", "csv")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "step,backbone,head"


def test_yaml_without_pyyaml_says_so(tmp_path):
    """PyYAML hidden from the subprocess: a .yaml config is one clear line, exit 2."""
    path = tmp_path / "g.yaml"
    path.write_text("groups: []\n")
    (tmp_path / "yaml.py").write_text("raise ImportError('hidden for the test')\n")
    r = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); from lrkit.cli import main; "
                        "main(sys.argv[2:])", str(tmp_path), "show", "--groups", str(path), "-n", "3"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [f"lrkit: error: --groups: {path} is YAML, and reading YAML needs PyYAML "
                                             f"(pip install pyyaml); or write the config as JSON"]


@pytest.mark.parametrize("content, message", [
    ('{"groups": [{"name": "a", "lr": 0.1}]', "is not valid JSON at line 1"),
    ('{"groups": []}', "'groups' must be a non-empty list"),
    ('{"group": [{"lr": 1}]}', "unknown key 'group'; expected groups, schedule; did you mean 'groups'?"),
    ('{"groups": [{"name": "a", "lr": 0.1}]}', "groups[0] ('a') has no schedule"),
    ('{"groups": [{"name": "a"}], "schedule": "cosine()"}', "groups[0] ('a') has no 'lr'"),
    ('{"groups": [{"name": "a", "lr": -1}], "schedule": "cosine()"}', "lr=-1 is out of range"),
    ('{"groups": [{"name": "a", "lr": 1, "shedule": "cosine()"}]}', "unknown key 'shedule'"),
    ('{"groups": [{"name": "a", "lr": 1}, {"name": "a", "lr": 2}], "schedule": "cosine()"}', "name 'a' is used twice"),
    ('{"groups": [{"name": "a", "lr": 1, "schedule": "cosine(flor=0.1)"}]}', "groups[0] ('a'): schedule: cosine"),
    ('[1, 2]', "groups[0] is 1"),
])
def test_bad_configs_are_one_line_and_exit_2(tmp_path, content, message):
    path = tmp_path / "g.json"
    path.write_text(content)
    r = run("show", "--groups", str(path), "-n", "10")
    assert r.returncode == 2, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit: error: --groups") and message in lines[0], lines


@pytest.mark.parametrize("args, message", [
    (["--groups", "nope.json", "-n", "5"], "no such file: nope.json"),
    (["--groups", "{cfg}", "-n", "5", "--lr", "0.1"], "--lr does not apply with --groups"),
    (["cosine()", "linear()", "--groups", "{cfg}", "-n", "5"], "at most one SPEC"),
    (["--groups", "{cfg}", "-n", "0"], "--steps"),
    (["-n", "5"], "Missing argument 'SPEC...'"),
])
def test_usage_errors(config, args, message):
    r = run("show", *[a.replace("{cfg}", str(config)) for a in args])
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit: error:") and message in lines[0], lines


@pytest.mark.skipif(importlib.util.find_spec("yaml") is None, reason="PyYAML is not installed")
@pytest.mark.parametrize("text, value", [("3e-4", 3e-4), ("1E-3", 1e-3), ("-2.5e-2", -2.5e-2), ("1.0e-3", 1e-3)])
def test_yaml_reads_exponent_numbers_without_a_dot_as_numbers(tmp_path, text, value):
    """YAML 1.1 (PyYAML) reads ``lr: 3e-4`` as a string; a config writes LRs this way, so it is a number."""
    path = tmp_path / "g.yaml"
    path.write_text(f"groups:\n  - name: a\n    lr: {text}\n  - name: b\n    lr: '1e-3'\n")
    from lrkit.cli.groups import read_config

    data = read_config(path)
    assert data["groups"][0]["lr"] == value and isinstance(data["groups"][0]["lr"], float)
    assert data["groups"][1]["lr"] == "1e-3"  # quoted: the user's string, refused later as not a number
