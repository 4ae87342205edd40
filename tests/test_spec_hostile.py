"""Hostile input to the schedule language (issue 10): integers too large for a float, nesting too deep to print,
a JSON key given twice, numbers written with separators or non-ASCII digits, and warnings on stderr. Each is
one SpecError line (the CLI: one line on stderr, exit 2), never a traceback and never a quiet misread."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrkit
from lrkit import SpecError, parse
from lrkit.cli.groups import load_groups
from lrkit.schedules import REGISTRY
from lrkit.summary import summarize

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def one_line_error(fn, *needles: str) -> str:
    with pytest.raises(SpecError) as info:
        fn()
    message = str(info.value)
    assert message and "\n" not in message, f"not one line: {message!r}"
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


def _value_params():
    """``(family, parameter)`` for every parameter that is not a child schedule."""
    out = []
    for name, cls in sorted(REGISTRY.items()):
        out.extend((name, f.name) for f in dataclasses.fields(cls) if f.name not in cls.schedule_fields)
    return out


def _with_children(name: str, data: dict) -> dict:
    cls = REGISTRY[name]
    if name in ("sequence", "product"):
        data[cls.positional[0]] = [{"family": "constant"}, {"family": "constant"}]
    elif cls.positional:
        data[cls.positional[0]] = {"family": "constant"}
    return data


# ----- integers of 310-4300 digits: was OverflowError (float(n)) -------------------------------------------------

@SETTINGS
@given(param=st.sampled_from(_value_params()), digits=st.integers(309, 4300), first=st.integers(1, 9),
       sign=st.sampled_from(["", "-"]), form=st.sampled_from(["text", "json"]))
def test_an_integer_too_large_for_a_float_is_one_line(param, digits, first, sign, form):
    name, field = param
    if digits == 309 and first == 1:  # 1e308 and 1.7e308 still fit in a float
        first = 9
    big = sign + str(first) + "0" * (digits - 1)
    data = _with_children(name, {"family": name, field: "@"})
    text = json.dumps(data).replace('"@"', big)
    if form == "text":  # the same schedule as spec text: family(child, field=digits)
        kids = [c for c in REGISTRY[name].positional if c in data]
        inner = ", ".join("constant()" for c in kids for _ in (data[c] if isinstance(data[c], list) else [data[c]]))
        text = f"{name}({inner + ', ' if inner else ''}{field}={big})"
    try:
        s = parse(text)
    except SpecError as e:
        assert "\n" not in str(e) and len(str(e)) < 400
        return
    for use in (str, lambda s: s(3, 100), lambda s: s.sample(10), lambda s: lrkit.lint(s, 100),
                lambda s: summarize(s, 100, lr=0.1)):  # was: OverflowError in each of these
        try:
            use(s)
        except SpecError as e:
            assert "\n" not in str(e)


@pytest.mark.parametrize("spec", [
    "cosine(floor=" + "1" * 400 + ")", "cosine(warmup=" + "1" * 400 + ")", "multistep(milestones=[" + "9" * 310 + "])",
    "repeat(cosine(), times=" + "1" * 308 + ")", "sgdr(mult=" + "1" * 308 + ")",
    '{"family": "cosine", "floor": ' + "1" * 400 + "}", '{"family": "cosine", "steps": -' + "1" * 4300 + "}",
])
def test_huge_integers_in_text_and_json(spec):
    try:
        s = parse(spec)
        s(5, 100), s.sample(10), lrkit.lint(s, 100)
    except SpecError as e:
        assert "\n" not in str(e) and "too large" in str(e), str(e)


def test_a_huge_integer_is_named_briefly():
    message = one_line_error(lambda: parse("cosine(floor=" + "1" * 400 + ")"),
                             "cosine: floor=111111...111 (400 digits)", "too large")
    assert len(message) < 200
    one_line_error(lambda: parse('{"family": "cosine", "floor": ' + "1" * 5000 + "}"), "5,000 digits")  # ValueError
    one_line_error(lambda: lrkit.schedules.Cosine(floor=-10 ** 5000), "floor=-<an integer of about", "too large")


@pytest.mark.parametrize("call", [lambda s: s(10 ** 400, 100), lambda s: s(5, 10 ** 400),
                                  lambda s: s.bind(100)(10 ** 400)])
def test_a_huge_step_or_total_is_one_line(call):
    one_line_error(lambda: call(parse("cosine()")), "too large")


# ----- nesting: the same limit for text, JSON and Python, at a depth that prints safely -------------------------

def _clamps(depth: int, form: str):
    if form == "text":
        return "clamp(" * (depth - 1) + "cosine()" + ")" * (depth - 1)
    return '{"family": "clamp", "schedule": ' * (depth - 1) + '{"family": "cosine"}' + "}" * (depth - 1)


@pytest.mark.parametrize("form", ["text", "json"])
def test_the_deepest_allowed_spec_prints_and_round_trips(form):
    s = parse(_clamps(lrkit.schedules.base.MAX_DEPTH, form))
    assert parse(str(s)) == s == parse(json.dumps(s.to_dict()))
    assert s.sample(5).tolist() == parse("cosine()").sample(5).tolist()


@SETTINGS
@given(depth=st.integers(101, 490), form=st.sampled_from(["text", "json"]))
def test_a_spec_nested_too_deeply_is_refused_when_read(depth, form):
    one_line_error(lambda: parse(_clamps(depth, form)), "nested too deeply", "at most 100")  # was: str() failed later


def test_schedules_built_in_python_have_the_same_limit():
    s = parse("cosine()")
    for _ in range(lrkit.schedules.base.MAX_DEPTH - 1):
        s = lrkit.schedules.Clamp(schedule=s)
    str(s)
    one_line_error(lambda: lrkit.schedules.Clamp(schedule=s), "nested too deeply (101 levels)")
    mixed = {"family": "sequence", "schedules": [{"family": "constant"}, json.loads(_clamps(100, "json"))],
             "boundaries": [5]}
    one_line_error(lambda: parse(mixed), "nested too deeply (101 levels)")


def test_a_structure_that_holds_itself_is_refused():
    d: dict = {"family": "clamp"}
    d["schedule"] = d
    one_line_error(lambda: parse(d), "nested too deeply")
    loop: list = []
    loop.append(loop)
    one_line_error(lambda: parse({"family": "multistep", "milestones": loop}), "nested too deeply")


# ----- a JSON key given twice: was the last value, silently -------------------------------------------------------

@SETTINGS
@given(param=st.sampled_from(_value_params()), a=st.floats(0, 1), b=st.floats(0, 1))
def test_a_json_key_given_twice_is_an_error(param, a, b):
    name, field = param
    text = json.dumps(_with_children(name, {"family": name}))[:-1] + f', "{field}": {a!r}, "{field}": {b!r}}}'
    one_line_error(lambda: parse(text), f"{name}: {field} is given twice")


def test_keys_given_twice_anywhere_in_json():
    one_line_error(lambda: parse('{"family": "cosine", "family": "linear"}'), "family is given twice")
    nested = '{"family": "clamp", "schedule": {"family": "cosine", "floor": 0.1, "floor": 0.2}}'
    one_line_error(lambda: parse(nested), "cosine: floor is given twice", "0.1 and 0.2")


# ----- numbers are ASCII digits: 1_005 and non-ASCII digits were read as numbers ---------------------------------

@SETTINGS
@given(digits=st.text("0123456789", min_size=2, max_size=8), cut=st.integers(1, 7),
       field=st.sampled_from(["warmup", "steps"]))
def test_an_underscore_in_a_number_is_refused_with_a_hint(digits, cut, field):
    digits = "1" + digits
    cut = min(cut, len(digits) - 1)
    written = digits[:cut] + "_" + digits[cut:]
    one_line_error(lambda: parse(f"cosine({field}={written})"), written, "underscore", f"write {int(digits)}")


@pytest.mark.parametrize("spec", ["cosine(floor=0.000_1)", "multistep(milestones=[1_000])", "cosine(floor=-1_0.5)",
                                  "clamp(cosine(), floor=1e1_0)"])
def test_underscores_everywhere_in_a_spec(spec):
    one_line_error(lambda: parse(spec), "underscore")


@SETTINGS
@given(digit=st.characters(whitelist_categories=["Nd"]).filter(lambda c: not c.isascii()))
def test_non_ascii_digits_are_refused(digit):
    one_line_error(lambda: parse(f"cosine(warmup={digit}{digit})"), "non-ASCII", f"U+{ord(digit):04X}", "digits 0-9")


def test_non_ascii_look_alikes_are_refused():
    one_line_error(lambda: parse("\uff43\uff4f\uff53\uff49\uff4e\uff45()"), "non-ASCII")  # was: read as cosine()
    one_line_error(lambda: parse("wsd(form='1\u2212sqrt')"), "non-ASCII", "U+2212")


# ----- no warning lines ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["cosine(floor=1if 1 else 0)", "cosine(warmup=0x1for)", "wsd(form='\\d')",
                                  "cosine(floor=1is 1)"])
def test_parsing_warns_nothing(spec):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with pytest.raises(SpecError):
            parse(spec)
    assert [str(w.message) for w in seen] == []  # was: SyntaxWarning 'invalid decimal literal'


def test_the_cli_prints_one_line_and_no_warning():
    r = subprocess.run([sys.executable, "-m", "lrkit", "show", "cosine(floor=1if 1 else 0)", "--steps", "10"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and "not a literal" in r.stderr, r.stderr


# ----- --groups files: the same rules ------------------------------------------------------------------------------

@pytest.mark.parametrize("name,text,needles", [
    ("dup.json", '{"schedule": "cosine()", "groups": [{"name": "a", "lr": 1e-3, "lr": 2e-3}]}',
     ["lr is given twice"]),
    ("big.json", '{"schedule": "cosine()", "groups": [{"name": "a", "lr": 1' + "0" * 400 + "}]}",
     ["lr=100000...000 (401 digits)", "too large"]),
    ("huge.json", '{"schedule": "cosine()", "groups": [{"name": "a", "lr": 1' + "0" * 5000 + "}]}",
     ["5,001 digits"]),
    ("spec.json", '{"schedule": "cosine(warmup=1_000)", "groups": [{"name": "a", "lr": 1e-3}]}',
     ["1_000", "underscore"]),
    ("under.yaml", "schedule: cosine()\ngroups:\n  - name: a\n    lr: 1_005\n", ["line 4", "1_005", "write 1005"]),
    ("under2.yaml", "schedule: cosine()\ngroups:\n  - name: a\n    lr: 0.000_3\n", ["0.000_3", "write 0.0003"]),
    ("sexagesimal.yaml", "schedule: cosine()\ngroups:\n  - name: a\n    lr: 1:30\n", ["1:30", "not a plain decimal"]),
    ("octal.yaml", "schedule: cosine()\ngroups:\n  - name: a\n    lr: 010\n", ["010", "not a plain decimal"]),
    ("dup.yaml", "schedule: cosine()\ngroups:\n  - name: a\n    lr: 0.001\n    lr: 0.002\n",
     ["line 5", "lr is given twice"]),
    ("huge.yaml", "schedule: cosine()\ngroups:\n  - name: a\n    lr: 1" + "0" * 5000 + "\n", ["5,001 digits"]),
])
def test_groups_files_read_numbers_and_keys_strictly(tmp_path, name, text, needles):
    path = tmp_path / name
    path.write_text(text)
    one_line_error(lambda: load_groups(path), name, *needles)


def test_groups_files_with_plain_numbers_still_load(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("schedule: cosine()\ngroups:\n  - {name: a, lr: 1.0e-3}\n  - {name: b, lr: 2}\n"
                    "  - {name: c, lr: .5}\n")
    assert [g.lr for g in load_groups(path)] == [1e-3, 2.0, 0.5]
    path = tmp_path / "ok.json"
    path.write_text('{"schedule": "cosine()", "groups": [{"name": "a", "lr": 3e-4}]}')
    assert load_groups(path)[0].lr == 3e-4


def test_megatron_wsd_option_outside_wsd_names_a_huge_value_on_one_short_line():
    """Found by test_an_integer_too_large_for_a_float_is_one_line: the 400-digit value was repeated whole."""
    with pytest.raises(SpecError) as exc:
        lrkit.parse("megatron(wsd_decay=-" + "1" * 400 + ")")
    msg = str(exc.value)
    assert "\n" not in msg and len(msg) < 200 and "applies only to decay_style='WSD'" in msg, msg
