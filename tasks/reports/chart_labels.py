"""Report stage of the loop: labels of a scatter chart's points placed clear of each other.

``place_point_labels`` puts each label next to its point where that is free, else
further out with a thin leader line, so that no label covers another label, a point,
a leader or the axes' captions. Deterministic: fixed order, ties to the earlier spot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from matplotlib.transforms import Bbox

#: Label positions tried around a point, nearest first: (direction x, direction y) and the
#: distance in points from the point to the label's nearest edge. At the first distance a
#: label sits next to its point (a short leader line when off its corner); further out it
#: gets a leader line back to it.
_LABEL_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))
_LABEL_DISTANCES = (5.0, 12.0, 20.0, 30.0, 42.0)
#: Passes over the labels after the first placement, each moving a label to a better free spot if any.
_LABEL_PASSES = 4
#: Display units; far above the rounding error of a sample along a leader (~1e-13 here).
_SLACK = 1e-6


class _Box(NamedTuple):
    """A box in display coordinates (matplotlib's ``Bbox`` reads its corners through numpy, too
    slowly for the thousands of comparisons a chart's label placement makes)."""

    x0: float
    y0: float
    x1: float
    y1: float

    @classmethod
    def of(cls, box: Bbox) -> _Box:
        return cls(*(float(v) for v in box.extents))

    def padded(self, pad: float) -> _Box:
        return _Box(self.x0 - pad, self.y0 - pad, self.x1 + pad, self.y1 + pad)


def _overlap_area(a: _Box, b: _Box, pad: float = 0.0) -> float:
    """Area of the intersection of ``a`` grown by ``pad`` with ``b`` (0 when apart); a touch counts as 1."""
    w = min(a.x1 + pad, b.x1) - max(a.x0 - pad, b.x0)
    h = min(a.y1 + pad, b.y1) - max(a.y0 - pad, b.y0)
    return max(w * h, 1.0) if w > 0 and h > 0 else 0.0


def _distance_to_box(point: Sequence[float], box: _Box) -> float:
    dx = max(box.x0 - point[0], 0.0, point[0] - box.x1)
    dy = max(box.y0 - point[1], 0.0, point[1] - box.y1)
    return math.hypot(dx, dy)


def _segment_hits_box(p: Sequence[float], q: Sequence[float], box: _Box) -> bool:
    """Whether the segment p→q (display coordinates) crosses ``box`` (sampled; enough for short leaders)."""
    # Most pairs are far apart: no sample can fall inside a box the segment's own bounding box
    # misses (by more than a rounding error), so the 23 samples are skipped, same answer.
    if (
        max(p[0], q[0]) < box.x0 - _SLACK
        or min(p[0], q[0]) > box.x1 + _SLACK
        or max(p[1], q[1]) < box.y0 - _SLACK
        or min(p[1], q[1]) > box.y1 + _SLACK
    ):
        return False
    return any(
        box.x0 < p[0] + (q[0] - p[0]) * k / 24 < box.x1 and box.y0 < p[1] + (q[1] - p[1]) * k / 24 < box.y1
        for k in range(1, 24)
    )


@dataclass(frozen=True)
class _LabelSpot:
    offset: tuple[float, float]  # points from the labelled point
    ha: str
    va: str
    box: _Box  # display coordinates
    leader: tuple[tuple[float, float], tuple[float, float]] | None  # point → label edge, display coordinates


def _label_spots(ax, point: tuple[float, float], name: str, fontsize: float, renderer) -> list[_LabelSpot]:
    """Every position ``place_point_labels`` may give the label of ``point``, in order of preference."""
    anchor = ax.transData.transform(point)
    # The label's size is the same wherever it goes: measure it once, then place its box.
    probe = ax.annotate(name, xy=point, xytext=(0, 0), textcoords="offset points", fontsize=fontsize)
    extent = probe.get_window_extent(renderer)
    probe.remove()
    width, height = extent.width, extent.height
    to_px = ax.figure.dpi / 72.0
    spots = []
    for n, distance in enumerate(_LABEL_DISTANCES):
        for ux, uy in _LABEL_DIRECTIONS:
            ha = "left" if ux > 0 else "right" if ux < 0 else "center"
            va = "bottom" if uy > 0 else "top" if uy < 0 else "center"
            offset = (ux * distance, uy * distance)
            x = anchor[0] + offset[0] * to_px - {"left": 0.0, "right": width, "center": width / 2}[ha]
            y = anchor[1] + offset[1] * to_px - {"bottom": 0.0, "top": height, "center": height / 2}[va]
            box = _Box(float(x), float(y), float(x + width), float(y + height))
            leader = None
            if n or (ux and uy):  # away from the point, or off its corner: a line to the label's nearest edge
                edge = (min(max(anchor[0], box.x0), box.x1), min(max(anchor[1], box.y0), box.y1))
                leader = ((float(anchor[0]), float(anchor[1])), (float(edge[0]), float(edge[1])))
            spots.append(_LabelSpot(offset, ha, va, box, leader))
    return spots


def place_point_labels(ax, points: list[tuple[float, float]], names: list[str], *, fontsize: float = 6.5) -> list:
    """Label each point of ``ax`` (data coordinates) with ``names`` so that no label covers
    another label, a point, a leader line or another text of the axes (the quadrant
    captions) and every label stays inside the axes; returns the labels' ``Annotation`` s.

    A label goes next to its point (right, left, above, below, then off a corner with a
    short leader line) when that spot is free — and, without a leader, nearer its own point
    than any other; else further out (12 to 42 pt) with a thin leader line to its point.
    Points are labelled from the top down, then each label in turn moves to the best free
    spot given all the others (a few passes); where no spot is free the least crowded one
    is used. Deterministic: no
    randomness, fixed order, ties to the earlier spot. The axes' limits, ticks and the
    figure size must be final.
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    to_px = fig.dpi / 72.0
    inner = _Box.of(ax.get_window_extent(renderer)).padded(-1.0 * to_px)
    radius = 3.0 * to_px  # marker (markersize 5) plus a little air
    disp = [tuple(map(float, ax.transData.transform(pt))) for pt in points]
    dots = [_Box(x - radius, y - radius, x + radius, y + radius) for x, y in disp]
    texts = [_Box.of(t.get_window_extent(renderer)) for t in ax.texts if t.get_text().strip()]
    spots = [_label_spots(ax, pt, name, fontsize, renderer) for pt, name in zip(points, names, strict=True)]
    pad = 1.0 * to_px

    def cost(i: int, spot: _LabelSpot, chosen: dict[int, _LabelSpot]) -> float:
        box = spot.box
        total = 0.0 if inner.x0 <= box.x0 and box.x1 <= inner.x1 and inner.y0 <= box.y0 and box.y1 <= inner.y1 else 1e6
        total += sum(
            1e3 + _overlap_area(box, other.box, pad) for other in chosen.values() if _overlap_area(box, other.box, pad)
        )
        total += sum(1e3 + _overlap_area(box, dot, pad) for dot in dots if _overlap_area(box, dot, pad))
        total += sum(1e3 + _overlap_area(box, text, pad) for text in texts if _overlap_area(box, text, pad))
        for _j, other in chosen.items():
            if other.leader is not None and _segment_hits_box(*other.leader, box.padded(pad)):
                total += 500.0
            if spot.leader is not None and _segment_hits_box(*spot.leader, other.box.padded(pad)):
                total += 500.0
        if spot.leader is None:
            # Without a leader the nearest point is the one a reader takes the label for.
            own = _distance_to_box(disp[i], box)
            total += sum(300.0 for j, q in enumerate(disp) if j != i and _distance_to_box(q, box) < own + 4.0 * to_px)
        else:
            total += sum(500.0 for j, dot in enumerate(dots) if j != i and _segment_hits_box(*spot.leader, dot))
        return total

    def best(i: int, chosen: dict[int, _LabelSpot]) -> _LabelSpot:
        found = min(enumerate(spots[i]), key=lambda k_spot: (cost(i, k_spot[1], chosen), k_spot[0]))
        return found[1]

    chosen: dict[int, _LabelSpot] = {}
    order = sorted(range(len(points)), key=lambda i: (-points[i][1], points[i][0], i))
    for i in order:
        chosen[i] = best(i, chosen)
    for _ in range(_LABEL_PASSES):
        moved = False
        for i in order:
            others = {j: spot for j, spot in chosen.items() if j != i}
            spot = best(i, others)
            if spot is not chosen[i] and cost(i, spot, others) < cost(i, chosen[i], others):
                chosen[i], moved = spot, True
        if not moved:
            break

    annotations = []
    for i, (point, name) in enumerate(zip(points, names, strict=True)):
        spot = chosen[i]
        arrow = {"arrowstyle": "-", "color": "#888888", "linewidth": 0.5, "shrinkA": 0.5, "shrinkB": 3.0}
        annotations.append(
            ax.annotate(
                name,
                xy=point,
                xytext=spot.offset,
                textcoords="offset points",
                fontsize=fontsize,
                color="#222222",
                ha=spot.ha,
                va=spot.va,
                zorder=5,
                arrowprops=None if spot.leader is None else arrow,
            )
        )
    return annotations
