"""A run file's header: which column (JSON key, TensorBoard tag) gives which role.

The explicit mapping (``columns={"loss": "train/loss"}``, ``--column loss=train/loss``) comes first,
then the aliases of :data:`ALIASES` in any case.  Two names for one role in a file (``loss`` and
``train/loss``, ``Loss`` and ``loss``, one name twice) are an error naming both: reading one of them
would drop the other's values.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

from ..schedules.validate import clip, did_you_mean
from .base import ALIASES, COLUMNS, RunError, required

def _twice(src: str, word: str, names: Sequence[str], role: str) -> RunError:
    if len(set(names)) == 1:
        return RunError(f"{src}: {word} '{names[0]}' appears {len(names)} times: lrkit reads one {word} per "
                        f"quantity; rename or drop the others")
    shown = " and ".join(f"'{clip(n, 40)}'" for n in names[:3])
    return RunError(f"{src}: {word}s {shown} both give the {role}: lrkit reads one; choose it with "
                    f"columns={{'{role}': NAME}} or --column {role}=NAME")


def resolve(header: Sequence[str], columns: Mapping[str, str] | None, src: str,
             require: Sequence[str] = ("step", "loss"), word: str = "column",
             given: Mapping[str, int] | None = None) -> dict[str, int]:
    """Map roles to header positions: the explicit mapping first, then the aliases (case-insensitive).
    Two header names for one role (``loss`` and ``train/loss``, or one name twice) are an error."""
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(COLUMNS))
    if unknown:
        raise RunError(f"{src}: unknown column role(s) {unknown}; valid roles: {', '.join(COLUMNS)}"
                       f"{did_you_mean(unknown[0], COLUMNS)}")
    names = [h.strip() for h in header]
    low = [n.lower() for n in names]
    out: dict[str, int] = dict(given or {})
    for role in COLUMNS:
        if role in out:
            continue
        if role in columns:
            want = columns[role].strip()
            hits = [i for i, n in enumerate(names) if n == want] or [i for i, n in enumerate(low) if n == want.lower()]
            if not hits:
                raise RunError(f"{src}: {word} '{columns[role]}' (mapped to {role}) not in header: "
                               f"{clip(', '.join(header), 200)}")
        else:
            hits = [i for i, n in enumerate(low) if n in ALIASES[role]]
            if not hits and role == "lr":  # Lightning's LearningRateMonitor writes 'lr-AdamW' and the like
                hits = [i for i, n in enumerate(low) if n.startswith(("lr-", "lr/"))]
        if len(hits) > 1:
            raise _twice(src, word, [names[i] for i in hits], role)
        if hits:
            out[role] = hits[0]
    for role in required(require):
        if role not in out:
            raise RunError(f"{src}: no '{role}' {word} (header: {clip(', '.join(header), 200)}); map one, "
                           f"e.g. columns={{'{role}': NAME}} or --column {role}=NAME")
    return out


def wanted(columns: Mapping[str, str] | None) -> Callable[[str], tuple[bool, ...]]:
    """For a header name: ``(is_step,)`` kinds it may be read as (empty if no role can use it)."""
    mapped = {v.strip().lower(): r for r, v in (columns or {}).items()}
    steps = set(ALIASES["step"]) | {k for k, r in mapped.items() if r == "step"}
    others = {a for r, al in ALIASES.items() if r != "step" for a in al} | {k for k, r in mapped.items() if r != "step"}

    def kinds(key: str) -> tuple[bool, ...]:
        k = key.strip().lower()
        return tuple(kind for kind, ok in ((True, k in steps), (False, k in others or k.startswith(("lr-", "lr/"))))
                     if ok)
    return kinds


def wandb_header(header: list[str]) -> tuple[list[str], list[str]]:
    """W&B CSV exports name columns '<run> - train/loss' (plus '__MIN'/'__MAX'): the names without the
    run (the '__MIN'/'__MAX' columns blanked, i.e. ignored) and the runs named."""
    out, runs = [], []
    for h in header:
        if h.endswith("__MIN") or h.endswith("__MAX"):
            out.append("")
        elif " - " in h:
            run, metric = h.split(" - ", 1)
            runs.append(run.strip())
            out.append(metric)
        else:
            out.append(h)
    return out, list(dict.fromkeys(runs))
