"""The families as data: every registered family's parameters with their defaults, a one-line summary and
its source, read from the family's dataclass fields and docstring (a family added anywhere appears here).

>>> wsd = families("wsd")
>>> wsd.name, wsd.parameter("decay").default
('wsd', 0.2)
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from typing import Any

from ..errors import SpecError
from .base import REGISTRY, Schedule, _ordered_fields, format_value
from .validate import clip, did_you_mean

#: a parenthesis that cites a source: a year, "et al." or a library whose behaviour the family reproduces
_CITES = re.compile(r"\b(1[89]|20)\d\d\b|et al\.|\b(torch|HF|optax|timm|transformers|big_vision|MiniCPM)\b")


#: the parameters every decaying family shares (schedules/decaying.py), described once
SHARED = {
    "warmup": "warmup length: steps, a fraction of the run, or 'untuned' (2/(1-beta2) steps, Ma & Yarats 2021)",
    "warmup_form": "shape of the warmup ramp (linear, cosine, exponential ...)",
    "warmup_init": "the multiplier the warmup starts from",
    "beta2": "Adam's beta2, for warmup='untuned'",
    "steps": "the schedule's own length in steps (default: the run's total)",
}


#: a library whose scheduler a family reproduces, named with a possessive (``Megatron-LM's ...``)
_LIBRARY = re.compile(r"\b(Megatron-LM|DeepSpeed|torchtitan|transformers|timm|fairseq|optax|torch)'s? ?([\w.]+)?")


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One parameter of a family: its name, default (``required`` when it has none), type as annotated,
    whether the family declares it (``own``) or shares it (``warmup``, ``steps`` ...) and a description
    when the docstring has one."""

    name: str
    default: Any
    required: bool
    type: str
    own: bool
    positional: bool
    doc: str = ""

    @property
    def default_text(self) -> str:
        """The default as a spec writes it (``0.2``, ``"1-sqrt"``), or ``required``."""
        return "required" if self.required else format_value(self.default)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["default"] = None if self.required else _jsonable(self.default)
        return d


@dataclasses.dataclass(frozen=True)
class Family:
    """A registered family: ``name`` (as a spec writes it), ``summary`` (one line), ``source`` (the
    paper or library it follows, ``""`` when none is cited), ``parameters`` and the whole ``doc``."""

    name: str
    summary: str
    source: str
    parameters: tuple[Parameter, ...]
    doc: str
    combinator: bool

    def parameter(self, name: str) -> Parameter:
        for p in self.parameters:
            if p.name == name:
                return p
        raise SpecError(f"{self.name} has no parameter {clip(repr(name), 60)}"
                        f"{did_you_mean(name, [p.name for p in self.parameters])}")

    @property
    def own(self) -> tuple[Parameter, ...]:
        """The family's own parameters (without the shared warmup and steps)."""
        return tuple(p for p in self.parameters if p.own)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "summary": self.summary, "source": self.source, "combinator": self.combinator,
                "parameters": [p.to_dict() for p in self.parameters], "doc": self.doc}


def families(name: str | None = None):
    """Every registered family as a :class:`Family`, in registration order; with ``name``, that one
    (a :class:`~lrkit.SpecError` naming the families when there is none of that name)."""
    if name is None:
        return [describe(cls) for cls in REGISTRY.values()]
    if not isinstance(name, str) or name not in REGISTRY:
        raise SpecError(f"unknown schedule family {clip(repr(name), 60)}{did_you_mean(name, REGISTRY)} "
                        f"(families: {', '.join(sorted(REGISTRY))})")
    return describe(REGISTRY[name])


def describe(cls: type[Schedule]) -> Family:
    """The :class:`Family` of a schedule class."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    first = " ".join(doc.split("\n\n", 1)[0].split())
    notes = _arg_docs(doc)
    own_names = set()
    for klass in cls.__mro__:  # fields declared by the family or a class between it and the shared frame
        if klass.__module__.endswith(".decaying") or klass is Schedule:
            break
        own_names |= set(klass.__dict__.get("__annotations__", {}))
    params = []
    for f in _ordered_fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        default = None if required else (f.default if f.default is not dataclasses.MISSING else f.default_factory())
        params.append(Parameter(f.name, default, required, str(f.type), f.name in own_names or not _shared(cls),
                                f.name in cls.positional, notes.get(f.name) or _shared_doc(cls, f.name)))
    return Family(cls.family, _plain(first), getattr(cls, "source", None) or _source(doc), tuple(params),
                  doc, bool(cls.schedule_fields))


def _shared_doc(cls: type[Schedule], name: str) -> str:
    return SHARED.get(name, "") if _shared(cls) else ""


def _shared(cls: type[Schedule]) -> bool:
    """Whether ``cls`` has the shared warmup/steps frame (the decaying families)."""
    return any(k.__module__.endswith(".decaying") for k in cls.__mro__)


def _plain(text: str) -> str:
    """Docstring text as a terminal shows it: ``code`` in single backticks gone."""
    return text.replace("``", "")


def _source(doc: str) -> str:
    """The first parenthesis of the docstring that cites a paper or a library, else the library whose
    scheduler the summary names (``DeepSpeed's WarmupLR``: ``DeepSpeed WarmupLR``)."""
    text = " ".join(doc.split())
    for m in re.finditer(r"\(([^()]*(?:\([^()]*\)[^()]*)*)\)", text):
        inner = m.group(1)
        if _CITES.search(inner):
            return _tidy(_plain(inner.split(": ", 1)[0].strip()).removeprefix("as "))
    m = _LIBRARY.search(_plain(text.split("\n\n", 1)[0]))
    if m:
        name = m.group(2) if m.group(2) and re.search(r"[A-Z_]", m.group(2)[1:]) else ""
        return f"{m.group(1)} {name}".strip()
    return ""


def _tidy(source: str) -> str:
    """``Hägele et al. 2024's cooldown ...``: ``Hägele et al. 2024``; ``torch's X as a phase``: ``torch X``."""
    source = re.sub(r"(\b\d{4})'s\b.*", r"\1", source)
    return re.sub(r" as .*", "", source).replace("'s ", " ")


def _arg_docs(doc: str) -> dict[str, str]:
    """``name: text`` entries of a Google-style ``Args:`` section (``a, b: text`` describes both)."""
    out: dict[str, str] = {}
    if "Args:" not in doc:
        return out
    current: list[str] = []
    for line in doc.split("Args:", 1)[1].splitlines():
        m = re.match(r"\s{2,8}([\w, ]+):\s+(.*)", line)
        if m and not line.startswith(" " * 9):
            current = [n.strip() for n in m.group(1).split(",")]
            for n in current:
                out[n] = m.group(2).strip()
        elif line.strip() and current:
            for n in current:
                out[n] += " " + line.strip()
        elif not line.strip() and out:
            current = []
    return {k: _plain(v) for k, v in out.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Schedule):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(x) for x in value]
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return value
