"""The charts are drawn once and cropped to their artists (``charts._draw_tight_svg``): the
same box as matplotlib's own ``bbox_inches="tight"``, which lays a figure out twice."""

from __future__ import annotations

import io
import re

import pandas as pd
import pytest

from cxloop.domain import RAYS
from tasks.reports import charts

_ROOT = re.compile(r'<svg[^>]*width="([\d.]+)pt" height="([\d.]+)pt" viewBox="([-\d. ]+)"')
_TEXT = re.compile(r'<text\b[^>]*\bx="([-\d.]+)"[^>]*\by="([-\d.]+)"[^>]*>([^<]*)<')

_LABELS = {
    "friendliness": "дружелюбие и партнёрство",
    "usefulness": "полезность",
    "effort": "минимизация усилий",
    "personalisation": "адресность",
    "comfort": "внешний комфорт и удобство",
}


def _radar():
    return charts.radar_svg(
        {"Граждане": dict(zip(_LABELS, (80, 70, 60, None, 90), strict=True)), "Работодатели": {"usefulness": 75}},
        _LABELS,
    )


def _pareto():
    return charts.pareto_svg([("Непонятно, что будет дальше (первое обращение, граждане)", 147), ("Очереди", 40)])


def _forest():
    return charts.forest_svg([("M-2026Q1-01", 6.2, 2.1, 10.3), ("M-2026Q1-03", -1.0, -3.0, 1.0)])


def _ipa():
    frame = pd.DataFrame(
        {"ray": list(RAYS), "importance": [0.08, 0.12, 0.45, 0.3, 0.05], "performance": [91.0, 84.0, 72.0, 88.0, 93.0]}
    )
    return charts.importance_performance_svg(frame, labels=_LABELS, lang="ru", title="Граждане")


def _both(monkeypatch, make) -> tuple[str, str]:
    """The chart as matplotlib's "tight" draws it and as the charts draw it, from one figure."""
    outputs: dict[str, str] = {}
    ours = charts._draw_tight_svg

    def both(fig):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
        outputs["matplotlib"] = buf.getvalue()
        outputs["ours"] = ours(fig)
        return outputs["ours"]

    monkeypatch.setattr(charts, "_draw_tight_svg", both)
    make()
    return outputs["matplotlib"], outputs["ours"]


@pytest.mark.parametrize("make", [_radar, _pareto, _forest, _ipa], ids=["radar", "pareto", "forest", "ipa"])
def test_one_drawing_gives_matplotlibs_tight_box(monkeypatch, make):
    theirs, ours = _both(monkeypatch, make)
    (tw, th, tbox), (ow, oh, obox) = _ROOT.search(theirs).groups(), _ROOT.search(ours).groups()
    assert float(ow) == pytest.approx(float(tw), abs=0.05) and float(oh) == pytest.approx(float(th), abs=0.05)
    assert [float(v) for v in tbox.split()[:2]] == [0.0, 0.0]  # matplotlib moves the drawing instead
    x0, y0 = (float(v) for v in obox.split()[:2])
    t_texts, o_texts = _TEXT.findall(theirs), _TEXT.findall(ours)
    assert t_texts and [t for *_, t in o_texts] == [t for *_, t in t_texts]
    # Every label sits at the same place in the box: what the reader sees is the same.
    for (tx, ty, _), (ox, oy, label) in zip(t_texts, o_texts, strict=True):
        assert float(ox) - x0 == pytest.approx(float(tx), abs=0.05), label
        assert float(oy) - y0 == pytest.approx(float(ty), abs=0.05), label


def test_a_label_outside_the_figure_is_inside_the_box():
    """The radar's ray labels reach beyond the figure's edge: the box takes them in (negative origin)."""
    svg = _radar()
    width, _, box = _ROOT.search(svg).groups()
    x0, _, w, _ = (float(v) for v in box.split())
    assert x0 < 0 and w == pytest.approx(float(width))
    xs = [float(x) for x, _, _ in _TEXT.findall(svg)]
    assert min(xs) >= x0


def test_no_background_is_painted_outside_the_box(monkeypatch):
    """The figure's white rectangle would cover the page around a chart cropped smaller than
    the figure (the forest plot is); the axes keep theirs."""
    theirs, ours = _both(monkeypatch, _forest)
    figure_background = re.compile(r'<g id="figure_1">\s*<g id="patch_1">')
    assert figure_background.search(theirs) and not figure_background.search(ours)
