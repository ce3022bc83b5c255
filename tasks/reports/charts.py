"""Report stage of the loop: the vector charts of the quarterly PDF.

Each function takes plain numbers and returns an ``<svg>`` string ready to be
inlined in the report's HTML. Output is byte-for-byte deterministic (fixed
hash salt, no date metadata, text kept as text) so that the same quarter gives
the same PDF and the same content hash, which is what keeps delivery from
re-sending an unchanged report.
"""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # headless: workers have no display

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.projections.polar import PolarAxes
from matplotlib.ticker import Formatter, FuncFormatter, MaxNLocator

from cxloop.i18n import LANGUAGES, NP_, Marked, format_number, gettext
from tasks.reports.chart_labels import place_point_labels

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

#: rc settings that make SVG output reproducible and readable in WeasyPrint.
_RC: dict[RcKeyType, Any] = {
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


_ROOT_SIZE_RE = re.compile(r'width="[^"]*" height="[^"]*" viewBox="[^"]*"')


def _points(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _draw_tight_svg(fig: Figure) -> str:
    """The figure as SVG cropped to its artists, like ``savefig(bbox_inches="tight")``, in
    one drawing instead of two: matplotlib's "tight" lays the whole figure out once only to
    measure it, then again to draw it (a third of a report's chart time). Here the box is
    measured with the renderer that has just drawn the figure, and the SVG's size and
    ``viewBox`` are set to it (padded by ``savefig.pad_inches``, as "tight" pads). The
    figure's background is left out: outside the box it would be painted over the page
    around the chart (the page is white, as the background was)."""
    fig.patch.set_visible(False)
    measured: list[Any] = []
    # The figure announces the end of every drawing with its renderer, laid out and warm.
    listener = fig.canvas.mpl_connect("draw_event", lambda event: measured.append(fig.get_tightbbox(event.renderer)))
    try:
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    finally:
        fig.canvas.mpl_disconnect(listener)
    svg = buf.getvalue()
    width, height = fig.get_size_inches()
    box = measured[0] if measured and measured[0] is not None else None
    if box is None:  # nothing drawn: the whole figure
        return svg
    box = box.padded(float(matplotlib.rcParams["savefig.pad_inches"]))
    x, top, w, h = (72 * v for v in (box.x0, height - box.y1, box.width, box.height))
    view = " ".join(_points(v) for v in (x, top, w, h))
    return _ROOT_SIZE_RE.sub(f'width="{_points(w)}pt" height="{_points(h)}pt" viewBox="{view}"', svg, count=1)


def _to_svg(fig: Figure, prefix: str) -> str:
    try:
        svg = _draw_tight_svg(fig)
    finally:
        plt.close(fig)
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
        assert isinstance(ax, PolarAxes)  # what projection="polar" makes
        ax.set_theta_offset(math.pi / 2)
        ax.set_theta_direction(-1)
        ax.set_ylim(0, 100)
        ax.set_yticks([20, 40, 60, 80, 100])
        ax.set_yticklabels(["20", "40", "60", "80", "100"], fontsize=6, color="#777777")
        ax.set_xticks(angles)
        ax.set_xticklabels([_wrap(labels[r], 16) for r in rays], fontsize=7)
        ax.tick_params(axis="x", pad=8)
        # A ray's label grows away from the circle: leftwards on the left, rightwards on the right
        # (centred labels of the side rays ran into the outer ring).
        for angle, tick in zip(angles, ax.get_xticklabels(), strict=True):
            side = math.sin(angle)  # clockwise from the top: > 0 right, < 0 left
            tick.set_horizontalalignment("left" if side > 0.2 else "right" if side < -0.2 else "center")
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
            ax.legend(
                loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=max(1, len(series)), frameon=False, fontsize=7
            )
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
        colours = [
            _BAR_COLOUR if (c - 100.0 * v / total) < 80 else "#e3b7b2" for v, c in zip(values, cumulative, strict=True)
        ]
        ax.barh(y, values, color=colours, height=0.62)
        ax.set_yticks(y)
        ax.set_yticklabels([_wrap(label, 40) for label, _ in items], fontsize=7)
        for yi, v, c in zip(y, values, cumulative, strict=True):
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
    lang: str = "ru",
) -> str:
    """Forest plot: one line per measure, point estimate with its 95 % interval, zero marked;
    the x ticks are written in ``lang`` (decimal comma in Russian and Finnish)."""
    rows = [r for r in rows if r[1] is not None and r[1] == r[1]]
    with plt.rc_context(_RC):
        height = 0.9 + 0.35 * max(1, len(rows))
        fig, ax = plt.subplots(figsize=(7.0, height))
        if not rows:
            ax.set_axis_off()
            ax.text(0.5, 0.5, "—", ha="center", va="center", transform=ax.transAxes)
            return _to_svg(fig, chart_id)
        y = list(range(len(rows)))[::-1]
        for yi, (_label, est, lo, hi) in zip(y, rows, strict=True):
            if lo is not None and hi is not None:
                ax.plot([lo, hi], [yi, yi], color=_LINE_COLOUR, linewidth=1.4)
            ax.plot([est], [yi], marker="s", color=_CITIZEN_COLOUR, markersize=5)
        ax.axvline(0, color="#999999", linewidth=0.8, linestyle="--")
        ax.set_yticks(y)
        ax.set_yticklabels([label for label, *_ in rows], fontsize=7)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.xaxis.set_major_formatter(_TickFormatter(lang))
        ax.set_xlabel(x_label)
        return _to_svg(fig, chart_id)


#: Default captions and axis titles of the importance-versus-performance chart, as
#: catalog entries (locale/, see cxloop/i18n.py; ``_ipa_texts`` translates them);
#: ``labels`` passed by the caller (the report's translations) take precedence.
_IPA_TEXT: dict[str, str | Marked] = {
    # TRANSLATORS: quadrant captions of the importance-versus-performance chart when the caller gives none.
    "fix_first": NP_("importance-performance chart", "fix first"),
    "keep_up": NP_("importance-performance chart", "keep up"),
    "low_priority": NP_("importance-performance chart", "low priority"),
    "possible_overkill": NP_("importance-performance chart", "possible overkill"),
    # TRANSLATORS: axis titles of the same chart; "%%" is a percent sign.
    "x_label": NP_("importance-performance chart", "importance (share of explained variance), %%"),
    "y_label": NP_("importance-performance chart", "performance (ray value, 0–100)"),
}


def _ipa_texts(lang: str) -> dict[str, str]:
    """The chart's default captions and axis titles in ``lang`` (English for a language without a catalog)."""
    known = lang if lang in LANGUAGES else "en"
    return gettext(known).labels(_IPA_TEXT)


_QUADRANT_COLOURS = {
    "fix_first": _BAR_COLOUR,
    "keep_up": "#2e8b57",
    "low_priority": "#7f8c8d",
    "possible_overkill": _CITIZEN_COLOUR,
}


def _number_formatter(lang: str, digits: int = 0):
    """Tick labels the way the reader writes numbers (``cxloop.i18n.format_number``: the
    locale's decimal symbol — a comma in Russian and Finnish — and the true minus sign)."""
    lang = lang if lang in LANGUAGES else "en"

    def fmt(value: float, _pos: int) -> str:
        return format_number(value, lang, digits)

    return FuncFormatter(fmt)


class _TickFormatter(Formatter):
    """Tick labels in the reader's way (``cxloop.i18n.format_number``), all with as many
    decimals as the finest tick needs (0, 2.5, 5 → "0,0 2,5 5,0" in Russian)."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else "en"

    def __call__(self, x: float, pos: int | None = None) -> str:
        locs = [float(v) for v in self.locs] or [x]
        digits = next((d for d in range(4) if all(abs(round(v, d) - v) < 1e-9 for v in locs)), 3)
        return format_number(x, self.lang, digits)


def importance_performance_svg(
    frame,
    *,
    labels: dict[str, str],
    lang: str,
    title: str | None = None,
    centre: tuple[float, float] | None = None,
    chart_id: str = "ipa",
) -> str:
    """The importance-versus-performance chart (``importance_performance_figure``) as an SVG
    string whose ids start with ``chart_id``; vector, deterministic."""
    with plt.rc_context(_RC):
        fig = importance_performance_figure(frame, labels=labels, lang=lang, title=title, centre=centre)
        return _to_svg(fig, chart_id)


def importance_performance_figure(
    frame,
    *,
    labels: dict[str, str],
    lang: str,
    title: str | None = None,
    centre: tuple[float, float] | None = None,
) -> Figure:
    """Importance-versus-performance quadrant chart of the key drivers of one group.

    ``frame``: one row per ray with ``ray``, ``importance`` (share of explained
    variance, 0-1, as ``tasks.insight.drivers.key_drivers`` returns it) and
    ``performance`` (ray value, 0-100) — the rows of a single group and client
    type; several rows for one ray raise ``ValueError``. Rows with a missing
    value are not drawn.

    x = importance in %, y = performance; one labelled point per ray. Dashed
    lines at the centre — by default the mean importance and mean performance of
    the drawn rays (for five rays the mean importance is 20 %), or ``centre`` =
    (importance share, performance) — divide four quadrants captioned in their
    outer corners: "fix first" (important, low performance; caption in red),
    "keep up", "low priority" and "possible overkill". Each point is coloured by
    its quadrant (fix first red, keep up green, possible overkill blue, low
    priority grey) and labelled where its label covers no other label, point or
    caption (``place_point_labels``), with a thin leader line when set apart.
    Axis ticks are whole numbers, written the reader's way.

    ``labels`` maps ray id -> display label, and ``fix_first``, ``keep_up``,
    ``low_priority``, ``possible_overkill``, ``x_label``, ``y_label`` -> text;
    missing captions and axis titles fall back to the built-in ``lang`` texts
    (ru, en, fi; other languages use English), a missing ray label to the ray id.
    Sized for half an A4 page width (about 10 cm); vector, deterministic.
    """
    text = {**_ipa_texts(lang), **labels}
    rows = []
    seen = set()
    for ray, importance, performance in zip(frame["ray"], frame["importance"], frame["performance"], strict=True):
        if ray in seen:
            raise ValueError(f"importance-performance chart: ray {ray!r} appears more than once; pass one group")
        seen.add(ray)
        if importance is None or performance is None or importance != importance or performance != performance:
            continue
        rows.append((str(ray), 100.0 * float(importance), float(performance)))
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(3.9, 3.2))
        if not rows:
            ax.set_axis_off()
            ax.text(0.5, 0.5, "—", ha="center", va="center", transform=ax.transAxes)
            return fig
        xs = [x for _, x, _ in rows]
        ys = [y for _, _, y in rows]
        if centre is None:
            cx, cy = sum(xs) / len(xs), sum(ys) / len(ys)
        else:
            cx, cy = 100.0 * float(centre[0]), float(centre[1])

        x_hi = max(max(xs) * 1.3, cx * 1.8, 10.0)
        y_lo, y_hi = min(*ys, cy), max(*ys, cy)
        pad = max(4.0, 0.25 * (y_hi - y_lo))
        y_lo, y_hi = max(0.0, y_lo - pad), min(100.0, y_hi + pad)
        if y_hi - y_lo < 10:
            y_lo, y_hi = max(0.0, min(y_lo, y_hi - 10)), min(100.0, max(y_hi, y_lo + 10))
        names = [_wrap(text.get(ray, ray), 16) for ray, _, _ in rows]
        # A band above and below the points for the quadrant captions, and room for labels
        # set above or below their points, so no point or label sits on a caption.
        band = 0.22 * (y_hi - y_lo)
        ax.set_xlim(0, x_hi)
        ax.set_ylim(y_lo - band, y_hi + band)
        ax.axvline(cx, color="#999999", linewidth=0.8, linestyle="--", zorder=1)
        ax.axhline(cy, color="#999999", linewidth=0.8, linestyle="--", zorder=1)

        captions = {  # quadrant -> (x, y, ha, va) in axes coordinates, outer corners
            "possible_overkill": (0.02, 0.98, "left", "top"),
            "keep_up": (0.98, 0.98, "right", "top"),
            "low_priority": (0.02, 0.02, "left", "bottom"),
            "fix_first": (0.98, 0.02, "right", "bottom"),
        }
        for key, (qx, qy, ha, va) in captions.items():
            ax.text(
                qx,
                qy,
                _wrap(text[key], 20),
                transform=ax.transAxes,
                ha=ha,
                va=va,
                fontsize=6.5,
                color=_QUADRANT_COLOURS[key] if key == "fix_first" else "#666666",
                fontweight="bold" if key == "fix_first" else "normal",
                fontstyle="italic",
                zorder=2,
            )

        for _ray, x, y in rows:
            high_importance, high_performance = x >= cx, y >= cy
            kind = (
                ("keep_up" if high_performance else "fix_first")
                if high_importance
                else ("possible_overkill" if high_performance else "low_priority")
            )
            ax.plot([x], [y], marker="o", markersize=5, color=_QUADRANT_COLOURS[kind], zorder=4)
        # Tick labels decide the axes' final size, so set them before the labels are placed.
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10], integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10], integer=True))
        ax.xaxis.set_major_formatter(_number_formatter(lang))
        y_format = _number_formatter(lang)
        # No ticks beyond the 0-100 scale in the caption bands.
        ax.yaxis.set_major_formatter(lambda v, pos: y_format(v, pos) if -1e-9 <= v <= 100 + 1e-9 else "")
        ax.tick_params(labelsize=6.5)
        ax.set_xlabel(text["x_label"], fontsize=7)
        ax.set_ylabel(text["y_label"], fontsize=7)
        if title:
            ax.set_title(title, fontsize=8)
        place_point_labels(ax, [(x, y) for _, x, y in rows], names)
        return fig


def svg_data_uri(svg: str) -> str:
    """An SVG chart as a ``data:`` URI: still vector in the PDF, drawn by WeasyPrint's own
    SVG renderer (inline ``<svg>`` would have its presentation styles run through the HTML
    cascade, which drops strokes and fills), and needs no file next to the report."""
    if not svg:
        return ""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
