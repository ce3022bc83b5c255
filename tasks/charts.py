"""Report stage of the loop: the vector charts of the quarterly PDF.

Each function takes plain numbers and returns an ``<svg>`` string ready to be
inlined in the report's HTML. Output is byte-for-byte deterministic (fixed
hash salt, no date metadata, text kept as text) so that the same quarter gives
the same PDF and the same content hash, which is what keeps delivery from
re-sending an unchanged report.
"""

from __future__ import annotations

import io
import math
import re
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: workers have no display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

#: rc settings that make SVG output reproducible and readable in WeasyPrint.
_RC = {
    "svg.hashsalt": "cxloop",  # clip-path ids derive from this instead of a random uuid
    "svg.fonttype": "none",  # keep text as <text>: vector, selectable, searchable in the PDF
    "font.family": "DejaVu Sans",  # Cyrillic coverage; the same font as the report body
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

_CITIZEN_COLOUR = "#1f5fa8"
_EMPLOYER_COLOUR = "#d9822b"
_EXTRA_COLOURS = ("#2e8b57", "#8e44ad", "#7f8c8d")
_BAR_COLOUR = "#b03a2e"
_LINE_COLOUR = "#34495e"

# Several charts are inlined in one HTML document, where element ids share one
# namespace; a per-chart prefix (``chart_id``) keeps clip paths of one chart
# from being resolved against another's.
_ID_RE = re.compile(r'id="([^"]+)"')
_METADATA_RE = re.compile(r"<metadata>.*?</metadata>\s*", re.DOTALL)


def _to_svg(fig: Figure, prefix: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    # Inline SVG needs neither the XML prolog nor the DOCTYPE.
    svg = svg[svg.index("<svg") :]
    # The RDF block only carries namespace URIs; dropping it keeps every URL out of the report.
    svg = _METADATA_RE.sub("", svg)
    ids = set(_ID_RE.findall(svg))
    for old in sorted(ids, key=len, reverse=True):
        svg = svg.replace(f'id="{old}"', f'id="{prefix}-{old}"')
        svg = svg.replace(f"url(#{old})", f"url(#{prefix}-{old})")
        svg = svg.replace(f'href="#{old}"', f'href="#{prefix}-{old}"')
    return svg.strip()


def _wrap(label: str, width: int = 18) -> str:
    """Break long labels on spaces so axis text stays inside the figure."""
    words, lines, line = label.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return "\n".join(lines)


def radar_svg(series: dict[str, dict[str, float]], labels: dict[str, str], *, chart_id: str = "radar") -> str:
    """The star: one polygon per series (e.g. citizens, employers) over the rays.

    ``series`` maps a series name to ray id -> value on 0-100; ``labels`` maps
    ray id -> display label and fixes the order of the axes. A missing or
    ``None`` value is drawn at the centre and the polygon is left open there.
    """
    rays = list(labels)
    n = len(rays)
    # Angles stay in [0, 2π): ticks outside that range would shrink the polar
    # axes to a wedge. The first ray points up and the rest follow clockwise.
    angles = [2 * math.pi * i / n for i in range(n)]
    with plt.rc_context(_RC):
        fig = plt.figure(figsize=(4.4, 4.0))
        ax = fig.add_subplot(projection="polar")
        ax.set_theta_offset(math.pi / 2)
        ax.set_theta_direction(-1)
        ax.set_ylim(0, 100)
        ax.set_yticks([20, 40, 60, 80, 100])
        ax.set_yticklabels(["20", "40", "60", "80", "100"], fontsize=6, color="#777777")
        ax.set_xticks(angles)
        ax.set_xticklabels([_wrap(labels[r], 16) for r in rays], fontsize=7)
        ax.tick_params(axis="x", pad=12)
        ax.grid(color="#cccccc", linewidth=0.5)
        colours = [_CITIZEN_COLOUR, _EMPLOYER_COLOUR, *_EXTRA_COLOURS]
        drawn = False
        for i, (name, values) in enumerate(series.items()):
            vals = [values.get(r) for r in rays]
            if all(v is None for v in vals):
                continue
            pts = [0.0 if v is None else float(v) for v in vals]
            colour = colours[i % len(colours)]
            ax.plot([*angles, angles[0]], [*pts, pts[0]], color=colour, linewidth=1.6, label=name)
            ax.fill([*angles, angles[0]], [*pts, pts[0]], color=colour, alpha=0.12)
            drawn = True
        if drawn:
            ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=max(1, len(series)), frameon=False, fontsize=7)
        return _to_svg(fig, chart_id)


def pareto_svg(
    items: list[tuple[str, int]],
    *,
    chart_id: str = "pareto",
    y_label: str = "негативные упоминания",
    cumulative_label: str = "накопленная доля, %",
) -> str:
    """Pareto chart, horizontal so long theme names stay readable: bars of negative
    mentions, largest first, each labelled with its count and the cumulative share;
    the bars that make up the first 80 % (the "vital few") are drawn darker."""
    items = sorted(((label, int(v)) for label, v in items if v and v > 0), key=lambda t: (-t[1], t[0]))
    with plt.rc_context(_RC):
        if not items:
            fig, ax = plt.subplots(figsize=(7.0, 1.2))
            ax.set_axis_off()
            ax.text(0.5, 0.5, "—", ha="center", va="center", transform=ax.transAxes)
            return _to_svg(fig, chart_id)
        fig, ax = plt.subplots(figsize=(7.0, 0.7 + 0.3 * len(items)))
        values = [v for _, v in items]
        total = sum(values)
        cumulative, running = [], 0
        for v in values:
            running += v
            cumulative.append(100.0 * running / total)
        y = list(range(len(items)))[::-1]
        # A bar belongs to the vital few while the share before it is under 80 %.
        colours = [_BAR_COLOUR if (c - 100.0 * v / total) < 80 else "#e3b7b2" for v, c in zip(values, cumulative)]
        ax.barh(y, values, color=colours, height=0.62)
        ax.set_yticks(y)
        ax.set_yticklabels([_wrap(label, 40) for label, _ in items], fontsize=7)
        for yi, v, c in zip(y, values, cumulative):
            ax.text(v, yi, f"  {v} · {c:.0f} %", va="center", fontsize=6.5)
        ax.set_xlim(0, max(values) * 1.25)
        ax.set_ylim(-0.6, len(items) - 0.4)
        ax.set_xlabel(f"{y_label} · {cumulative_label}")
        ax.spines["top"].set_visible(False)
        ax.spines["right"].set_visible(False)
        return _to_svg(fig, chart_id)


def forest_svg(
    rows: Sequence[tuple[str, float, float | None, float | None]],
    *,
    chart_id: str = "forest",
    x_label: str = "оценка эффекта (95 % ДИ)",
) -> str:
    """Forest plot: one line per measure, point estimate with its 95 % interval, zero marked."""
    rows = [r for r in rows if r[1] is not None and r[1] == r[1]]
    with plt.rc_context(_RC):
        height = 0.9 + 0.35 * max(1, len(rows))
        fig, ax = plt.subplots(figsize=(7.0, height))
        if not rows:
            ax.set_axis_off()
            ax.text(0.5, 0.5, "—", ha="center", va="center", transform=ax.transAxes)
            return _to_svg(fig, chart_id)
        y = list(range(len(rows)))[::-1]
        for yi, (label, est, lo, hi) in zip(y, rows):
            if lo is not None and hi is not None:
                ax.plot([lo, hi], [yi, yi], color=_LINE_COLOUR, linewidth=1.4)
            ax.plot([est], [yi], marker="s", color=_CITIZEN_COLOUR, markersize=5)
        ax.axvline(0, color="#999999", linewidth=0.8, linestyle="--")
        ax.set_yticks(y)
        ax.set_yticklabels([label for label, *_ in rows], fontsize=7)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_xlabel(x_label)
        return _to_svg(fig, chart_id)
