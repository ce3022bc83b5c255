"""What a manager reads on the report's pages: register groups named by the statuses they
hold, KPIs in words, codes that wrap, and importance-versus-performance charts whose
labels cover no other label and no point, placed the same way every time."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from markupsafe import Markup

from models.tables import Measure
from tasks.reports import charts
from tasks.reports.context_measures import REGISTER_GROUPS, register_group
from tasks.reports.render import breakable
from tasks.reports.strings import kpi_parts, report_texts

Q = "2026Q3"


def _measure(status: str, proposed: str = "2026Q2", verdict: str | None = None) -> Measure:
    return Measure(
        code="M-1",
        title="t",
        theme="waiting_time",
        type="process_optimisation",
        region_code="52",
        owner="o",
        status=status,
        proposed_quarter=proposed,
        due_date=date(2026, 12, 31),
        kpi_metric="item:P3",
        effect_verdict=verdict,
    )


@pytest.mark.parametrize(
    ("status", "proposed", "verdict", "overdue", "group"),
    [
        ("proposed", Q, None, False, "new"),
        ("approved", Q, None, False, "new"),  # new this quarter whatever its status
        ("proposed", "2026Q1", None, False, "awaiting"),  # was "in progress" though nothing had started
        ("approved", "2026Q1", None, False, "in_progress"),
        ("in_progress", "2026Q1", None, False, "in_progress"),
        ("implemented", "2026Q1", None, False, "implemented"),  # was "in progress" though done
        ("evaluated", "2025Q4", "effective", False, "evaluated"),
        ("closed", "2025Q4", "no_effect", False, "evaluated"),
        ("in_progress", "2025Q4", "effective", False, "in_progress"),  # reopened: at work again
        ("proposed", "2026Q1", None, True, "overdue"),  # overdue comes first
        ("rejected", "2026Q1", None, False, None),
        ("cancelled", Q, None, False, None),
    ],
)
def test_each_measure_is_in_the_group_its_status_says(status, proposed, verdict, overdue, group):
    assert register_group(_measure(status, proposed, verdict), Q, overdue) == group


def test_group_names_say_which_statuses_they_hold():
    assert REGISTER_GROUPS == ("new", "awaiting", "in_progress", "implemented", "overdue", "evaluated")
    names = {lang: report_texts(lang) for lang in ("ru", "en", "fi")}
    assert names["ru"]["reg_awaiting"] == "Предложены ранее, ждут решения"
    assert names["ru"]["reg_in_progress"] == "Утверждены и в работе"
    assert names["ru"]["reg_implemented"] == "Внедрены, эффект ещё не оценён"
    assert names["en"]["reg_in_progress"] == "Approved and in progress"
    for t in names.values():
        assert len({t[f"reg_{key}"] for key in REGISTER_GROUPS}) == len(REGISTER_GROUPS)
        assert t["reg_empty"] and t["effects_empty"] and t["forest_heading"] and t["league_offices"]


def test_kpi_reads_as_words():
    assert kpi_parts("item:U2", "ru") == ("U2", "полезность")
    assert kpi_parts("item:P3", "en") == ("P3", "personalisation")
    assert kpi_parts("ray:effort", "ru") == ("минимизация усилий", "")
    assert kpi_parts("neg_share:waiting_time", "ru", {"waiting_time": "Очереди"}) == (
        "доля негативных отзывов",
        "Очереди",
    )
    assert kpi_parts("neg_share:waiting_time", "fi") == ("kielteisten osuus", "waiting_time")
    assert kpi_parts("item:Z9", "ru") == ("item:Z9", "") and kpi_parts("custom", "en") == ("custom", "")


def test_codes_may_wrap_after_dashes_and_underscores_and_stay_escaped():
    assert breakable("M-2025Q4-52-candidate_quality") == Markup("M-<wbr>2025Q4-<wbr>52-<wbr>candidate_<wbr>quality")
    assert breakable("<b>x-y</b>") == Markup("&lt;b&gt;x-<wbr>y&lt;/b&gt;")


# The demo's drivers of 2026Q3 (importance share, ray value), where the labels used to cover
# each other and the points: region 52's citizens and employers, and the country's employers,
# whose "effort" and "personalisation" points almost coincide.
FRAMES = {
    "52 citizen": [
        ("friendliness", 0.1829, 79.64),
        ("usefulness", 0.1796, 76.79),
        ("effort", 0.2901, 76.9),
        ("personalisation", 0.2087, 74.56),
        ("comfort", 0.1387, 77.45),
    ],
    "52 employer": [
        ("friendliness", 0.1418, 78.63),
        ("usefulness", 0.1832, 72.02),
        ("effort", 0.3135, 73.86),
        ("personalisation", 0.2447, 73.86),
        ("comfort", 0.1168, 75.32),
    ],
    "national employer": [
        ("friendliness", 0.1603, 80.26),
        ("usefulness", 0.165, 74.55),
        ("effort", 0.2695, 75.53),
        ("personalisation", 0.2691, 75.57),
        ("comfort", 0.1361, 77.55),
    ],
}


def _text_box(ax, note, renderer):
    """The box of a label's text alone (an annotation's own box takes in its leader line)."""
    probe = ax.annotate(
        note.get_text(),
        xy=note.xy,
        xytext=note.xyann,
        textcoords="offset points",
        fontsize=note.get_fontsize(),
        ha=note.get_ha(),
        va=note.get_va(),
    )
    box = probe.get_window_extent(renderer)
    probe.remove()
    return box


@pytest.mark.parametrize("lang", ["ru", "en", "fi"])
@pytest.mark.parametrize("name", sorted(FRAMES))
def test_chart_labels_cover_no_label_no_point_and_stay_inside(name, lang):
    import matplotlib.pyplot as plt
    from matplotlib.text import Annotation

    frame = pd.DataFrame(FRAMES[name], columns=["ray", "importance", "performance"])
    t = report_texts(lang)
    labels = {**t["rays"], **t["ipa_labels"]}
    with plt.rc_context({"font.family": "DejaVu Sans", "font.size": 8}):
        fig = charts.importance_performance_figure(frame, labels=labels, lang=lang, title=name)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    notes = [a for a in ax.texts if isinstance(a, Annotation)]  # the rays' labels; captions are plain texts
    assert len(notes) == len(frame)
    boxes = [_text_box(ax, a, renderer) for a in notes]
    inside = ax.get_window_extent(renderer)
    for i, box in enumerate(boxes):
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1 and inside.y0 <= box.y0 and box.y1 <= inside.y1
        for other in boxes[i + 1 :]:
            assert not box.overlaps(other), (name, lang, notes[i].get_text())
        for x, y in ax.transData.transform(list(zip(100 * frame["importance"], frame["performance"], strict=True))):
            # no label on a point's marker (radius 2.5 pt at 100 dpi)
            assert not (box.x0 - 3 < x < box.x1 + 3 and box.y0 - 3 < y < box.y1 + 3), (name, lang)
    plt.close(fig)
    first = charts.importance_performance_svg(frame, labels=labels, lang=lang, title=name)
    assert first == charts.importance_performance_svg(frame, labels=labels, lang=lang, title=name)


def test_forest_ticks_are_written_the_readers_way():
    ticks = {lang: charts.forest_svg([("M-1", 13.7, 7.1, 20.3)], lang=lang) for lang in ("ru", "en", "fi")}
    assert ">7,5<" in ticks["ru"] and ">7,5<" in ticks["fi"] and ">7.5<" in ticks["en"]
    assert ">7.5<" not in ticks["ru"]
