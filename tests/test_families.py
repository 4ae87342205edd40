"""Discovery: ``lrkit.families()`` and ``lrkit families [NAME]`` list every registered family with its
parameters, defaults, summary and source; ``lrkit lint --format json`` gives the findings to programs."""

from __future__ import annotations

import dataclasses
import doctest
import json

import pytest

import lrkit
from lrkit.cli import main
from lrkit.schedules import REGISTRY, catalog
from lrkit.schedules.base import family
from lrkit.schedules.classic import Constant


def _run(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"] if args is None else args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_families_lists_every_registered_family_with_its_defaults():
    found = lrkit.families()
    assert [f.name for f in found] == list(REGISTRY)
    for f in found:
        assert f.summary and "\n" not in f.summary and "``" not in f.summary, f.name
        fields = {x.name: x for x in dataclasses.fields(REGISTRY[f.name])}
        assert {p.name for p in f.parameters} == set(fields)
        for p in f.parameters:
            if not p.required:
                want = fields[p.name].default
                assert p.default == (want if want is not dataclasses.MISSING else fields[p.name].default_factory())
    wsd = lrkit.families("wsd")
    assert wsd.parameter("decay").default == 0.2 and wsd.parameter("form").default == "1-sqrt"
    assert "Hägele et al. 2024" in wsd.source
    assert [p.name for p in wsd.own] == ["decay", "form", "floor", "half_life"]
    assert not wsd.parameter("warmup").own and wsd.parameter("warmup").doc
    assert lrkit.families("cosine").source == "Loshchilov & Hutter 2017"
    assert lrkit.families("sequence").combinator and not wsd.combinator
    assert lrkit.families("deepspeed_warmup").source == "DeepSpeed WarmupLR"  # a framework: the library
    assert lrkit.families("plateau").parameter("patience").doc.startswith("observations without improvement")
    json.dumps([f.to_dict() for f in found])  # plain data


def test_an_unknown_family_is_one_error_with_a_suggestion():
    with pytest.raises(lrkit.SpecError, match="did you mean 'cosine'"):
        lrkit.families("cosin")
    with pytest.raises(lrkit.SpecError, match="no parameter 'flor'; did you mean 'floor'"):
        lrkit.families("cosine").parameter("flor")


def test_a_family_registered_later_appears():
    @family("test_catalog_halved")
    class Halved(Constant):
        """Half the base LR (Someone et al. 2031)."""

        value: float = 0.5

    try:
        f = lrkit.families("test_catalog_halved")
        assert f.source == "Someone et al. 2031" and f.parameter("value").default == 0.5 and f.parameter("value").own
        assert "test_catalog_halved" in [x.name for x in lrkit.families()]
    finally:
        del REGISTRY["test_catalog_halved"]


def test_the_catalog_doctest_runs():
    assert doctest.testmod(catalog).failed == 0


def test_lrkit_families_lists_them_all_at_80_columns(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = _run(["families"], capsys)
    assert code == 0, err
    assert all(len(line) <= 80 for line in out.splitlines())
    for name in REGISTRY:
        assert f"│ {name} " in out
    assert 'form="1-sqrt"' in out and "Loshchilov & Hutter 2017" in out


def test_lrkit_families_name_shows_one_in_full(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, out, err = _run(["families", "wsd"], capsys)
    assert code == 0, err
    assert out.startswith("wsd: Warmup-stable-decay") and "half_life" in out and "warmup_init" in out
    code, out, err = _run(["families", "wsd", "--format", "json"], capsys)
    assert json.loads(out)["parameters"][0] == {"name": "decay", "default": 0.2, "required": False,
                                                "type": "int | float", "own": True, "positional": False, "doc": ""}
    code, out, err = _run(["families", "--format", "json"], capsys)
    assert [d["name"] for d in json.loads(out)] == list(REGISTRY)
    code, out, err = _run(["families", "wsdd"], capsys)
    assert code == 2 and err.startswith("lrkit: error: unknown schedule family 'wsdd'; did you mean 'wsd'?")


def test_lint_json_has_the_findings_and_keeps_the_exit_code(capsys):
    code, out, err = _run(["lint", "wsd(warmup=2000)", "-n", "1000", "--format", "json"], capsys)
    doc = json.loads(out)
    assert code == 0 and doc["spec"] == "wsd(warmup=2000)" and doc["steps"] == 1000
    assert "warmup-too-long" in [f["code"] for f in doc["findings"]]
    assert all(set(f) == {"code", "message"} for f in doc["findings"])
    code, out, _ = _run(["lint", "wsd(warmup=2000)", "-n", "1000", "--format", "json", "--strict"], capsys)
    assert code == 1 and json.loads(out)["findings"]
    code, out, _ = _run(["lint", "cosine()", "-n", "1000", "-f", "json", "--strict"], capsys)
    assert code == 0 and json.loads(out)["findings"] == []


def test_the_families_table_is_in_alphabetical_order(monkeypatch):
    """38 families in registration order (warmup, rex, uba, wsd, power, ...) were hard to look a name up in."""
    from click.testing import CliRunner

    from lrkit.cli import cli

    monkeypatch.setenv("COLUMNS", "200")
    out = CliRunner().invoke(cli, ["families"]).output
    names = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]
    names = [n for n in names if n]
    assert names == sorted(f.name for f in lrkit.families()) and len(names) == len(REGISTRY), names
