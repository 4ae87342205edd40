"""The pieces every section of the HTML report is made of: escaped text, numbers, a method's name and
colour swatch, and figures embedded as SVG data URIs (:mod:`lrkit.report.html` assembles the page)."""

from __future__ import annotations

import base64
import html
import math
import re
from typing import Any, Mapping

from . import bench_figures as F


def _e(x: Any) -> str:
    """Any value as HTML text (quotes included): every field of a database goes through here, since a
    database may come from elsewhere (docs/security.md)."""
    return html.escape(str(x), quote=True)


def _num(x: float | None, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return '<span class="never">never</span>'
    return _e(f"{x:.{digits}g}")


def _int(x: float) -> str:
    if not math.isfinite(x):
        return '<span class="never">never</span>'
    return _e(f"{int(round(x)):,}")


#: an absolute file-system path (at least two parts), as a workload describes its data
PATH = re.compile(r"(?<![\w.:/~])(?:~|[A-Za-z]:)?(?:[/\\][\w.+@-]+){2,}[/\\]?")


def no_paths(value: Any) -> str:
    """``value`` as text with every absolute path cut to its last part: a report is read on other
    machines, where this one's folders mean nothing (e.g. charlm's corpus folder)."""
    return PATH.sub(lambda m: m.group(0).rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1], str(value))


def figure(fig, caption: str = "", alt: str = "") -> str:
    """An ``<figure>`` with the matplotlib figure embedded as an SVG data URI."""
    svg = F.to_svg(fig)
    data = base64.b64encode(svg.encode()).decode()
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{_e(alt or caption)}" src="data:image/svg+xml;base64,{data}">{cap}</figure>'


#: Longer method names (e.g. a planned piecewise schedule) are cut in tables; the full spec is the tooltip.
NAME_WIDTH = 72


def _name(label: str, names: Mapping[str, str]) -> str:
    """A method's name in the report: a short alias or the spec cut to ``NAME_WIDTH``, with the full spec
    as a tooltip."""
    if label in names:
        return f'<span title="{_e(label)}">{_e(names[label])}</span>'
    if len(label) > NAME_WIDTH:
        return f'<span title="{_e(label)}">{_e(F.short(label, NAME_WIDTH))}</span>'
    return _e(label)


def _swatch(cmap: Mapping[str, str], label: str) -> str:
    return f'<span class="swatch" style="background:{_e(cmap.get(label, "#333"))}"></span>'


